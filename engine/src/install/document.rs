//! Our entry in a client's config file, whatever its format: what the entry looks like, where
//! it lives, and the three edits (read, add or update, remove). The formats' own modules do
//! the editing in place; this one checks every edit before anyone may write it.

use std::fmt;

use super::{json, toml};

/// How a client's config file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// Strict JSON: edited as JSONC (which keeps layout), parsed strictly before and after.
    Json,
    /// JSON with comments and trailing commas.
    Jsonc,
    Toml,
}

/// Where a client keeps its servers and what our entry there holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// `mcpServers.annal = {type: stdio, command, args: [], env: {}}`.
    ClaudeCode,
    /// `[mcp_servers.annal]` with `command` and `args`; never `type` (an unknown key to Codex).
    Codex,
    /// `mcpServers.annal = {command, args: []}` (Gemini, Cursor, Claude Desktop, Windsurf).
    McpServers,
    /// `servers.annal = {type: stdio, command, args: []}`.
    VsCode,
    /// `context_servers.annal = {command, args: []}`.
    Zed,
    /// `mcp.annal = {type: local, command: [cmd], enabled: true}`: the command is an array.
    Opencode,
}

/// The name of our entry in every client.
pub(super) const NAME: &str = "annal";

/// One value of an entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Str(String),
    List(Vec<String>),
    EmptyMap,
    Bool(bool),
}

impl Shape {
    /// The key (at the top of the file) holding the servers.
    pub(super) fn servers_key(self) -> &'static str {
        match self {
            Shape::ClaudeCode | Shape::McpServers => "mcpServers",
            Shape::Codex => "mcp_servers",
            Shape::VsCode => "servers",
            Shape::Zed => "context_servers",
            Shape::Opencode => "mcp",
        }
    }

    /// Our entry, in the order people read it.
    pub(super) fn entry(self, command: &str) -> Vec<(&'static str, Value)> {
        let command_value = self.command_value(command);
        let no_args = ("args", Value::List(Vec::new()));
        match self {
            Shape::ClaudeCode => vec![
                ("type", Value::Str("stdio".into())),
                ("command", command_value),
                no_args,
                ("env", Value::EmptyMap),
            ],
            Shape::VsCode => {
                vec![("type", Value::Str("stdio".into())), ("command", command_value), no_args]
            }
            Shape::Codex | Shape::McpServers | Shape::Zed => {
                vec![("command", command_value), no_args]
            }
            Shape::Opencode => vec![
                ("type", Value::Str("local".into())),
                ("command", command_value),
                ("enabled", Value::Bool(true)),
            ],
        }
    }

    /// The `command` value that runs `command`.
    pub(super) fn command_value(self, command: &str) -> Value {
        match self {
            Shape::Opencode => Value::List(vec![command.to_owned()]),
            _ => Value::Str(command.to_owned()),
        }
    }
}

/// Our entry as found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    /// The program it runs (the first element where `command` is an array); `None` when the
    /// entry has no usable `command`.
    pub command: Option<String>,
}

/// What an add-or-update edit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Upserted {
    Added,
    Updated,
    AlreadyConfigured,
}

/// Why a file cannot be edited. Nothing is written when one of these comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum EditError {
    /// The file does not parse: the parser's message with a 1-based line and column.
    Parse { message: String, line: usize, column: usize },
    /// It parses, but is not shaped the way the client reads it (`mcpServers` is a list…).
    Shape(String),
    /// The edit would have produced something the client could not read: a bug here, caught
    /// before writing.
    Check(String),
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Parse { message, line, column } => {
                write!(f, "cannot parse it (line {line}, column {column}): {message}")
            }
            EditError::Shape(message) => f.write_str(message),
            EditError::Check(message) => {
                write!(f, "the edit failed its check, not written: {message}")
            }
        }
    }
}

/// 1-based line and column of byte `offset` in `text` (columns in characters).
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Format {
    /// Our entry in `text`, if there is one.
    pub(super) fn read(self, shape: Shape, text: &str) -> Result<Option<Found>, EditError> {
        match self {
            Format::Json | Format::Jsonc => json::read(text, self == Format::Json, shape),
            Format::Toml => toml::read(text, shape),
        }
    }

    /// `text` with our entry running `command`: added, or its command replaced (everything
    /// else in an existing entry — env, timeouts, args — is the user's and stays).
    pub(super) fn upsert(
        self,
        shape: Shape,
        text: &str,
        command: &str,
    ) -> Result<(String, Upserted), EditError> {
        let (edited, upserted) = match self {
            Format::Json | Format::Jsonc => {
                json::upsert(text, self == Format::Json, shape, command)?
            }
            Format::Toml => toml::upsert(text, shape, command)?,
        };
        let edited = keep_line_endings(text, edited);
        let found = self.read(shape, &edited).map_err(|e| EditError::Check(e.to_string()))?;
        if found.and_then(|f| f.command).as_deref() != Some(command) {
            return Err(EditError::Check(format!("the {NAME} entry does not run {command}")));
        }
        Ok((edited, upserted))
    }

    /// `text` without our entry; `None` when it has none.
    pub(super) fn remove(self, shape: Shape, text: &str) -> Result<Option<String>, EditError> {
        let removed = match self {
            Format::Json | Format::Jsonc => json::remove(text, self == Format::Json, shape)?,
            Format::Toml => toml::remove(text, shape)?,
        };
        let Some(removed) = removed else { return Ok(None) };
        if self.read(shape, &removed).map_err(|e| EditError::Check(e.to_string()))?.is_some() {
            return Err(EditError::Check(format!("the {NAME} entry is still there")));
        }
        Ok(Some(removed))
    }
}

/// A file whose every line ends in CRLF keeps doing so: the editors write the lines they
/// add with LF.
pub(super) fn keep_line_endings(original: &str, edited: String) -> String {
    let crlf = original.matches("\r\n").count();
    if crlf == 0 || crlf != original.matches('\n').count() {
        return edited;
    }
    let mut out = String::with_capacity(edited.len() + 64);
    let mut previous = '\0';
    for c in edited.chars() {
        if c == '\n' && previous != '\r' {
            out.push('\r');
        }
        out.push(c);
        previous = c;
    }
    out
}
