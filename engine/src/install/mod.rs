//! Connecting agent clients to Annal: `annal install` / `annal uninstall` and the dashboard's
//! Connect view call these same functions. [`plan`] reads every file concerned and works out
//! each change (a row per file: what happens, the unified diff, the new bytes) without
//! writing; [`apply`] carries a plan out; [`apply_confirmed`] does the same for a caller that
//! showed the plan earlier (the dashboard) and only if it is still the plan it showed;
//! [`status`] says, per client, whether it is there and what its entry runs.
//!
//! Nothing of the user's is lost: edits change only our entry (or our marked instruction
//! block), a file that does not parse is never written, the first change to a file leaves a
//! backup beside it, writes are atomic and re-check the file first. Every call here is
//! blocking file work (and, for Claude Code, a child process): async callers run it on a
//! blocking thread.

mod apply;
mod block;
mod claude_cli;
mod clients;
mod diff;
mod document;
mod environment;
mod hooks;
mod json;
mod plan;
mod status;
mod toml;
mod write;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use apply::{apply, apply_confirmed};
pub use block::{BEGIN as BLOCK_BEGIN, END as BLOCK_END};
pub use clients::{Client, Scope};
pub use environment::Environment;
pub use plan::plan;
pub use status::{ClientStatus, HookStatus, InstructionStatus, status};
pub use write::backup_path;

/// Errors that stop a whole plan; a problem with one file is that file's row instead.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("no home directory: HOME is not set")]
    NoHome,
    #[error("cannot determine {what}: {source}")]
    Environment { what: &'static str, source: std::io::Error },
    #[error("unknown client {name:?}; the clients are: {}", client_ids())]
    UnknownClient { name: String },
    #[error(
        "{} has no project scope; clients with one: {}",
        client.id(),
        Client::ALL.iter().filter(|c| c.has_project_scope()).map(|c| c.id()).collect::<Vec<_>>().join(", ")
    )]
    NoProjectScope { client: Client },
    #[error("--command must not be empty")]
    EmptyCommand,
    /// A file changed between showing a plan and confirming it.
    #[error("the files changed since the changes were shown; look at them again and confirm")]
    PlanChanged,
}

fn client_ids() -> String {
    Client::ALL.iter().map(|c| c.id()).collect::<Vec<_>>().join(", ")
}

/// Parses a client name as `--client` takes it.
pub fn parse_client(name: &str) -> Result<Client, InstallError> {
    Client::from_id(name).ok_or_else(|| InstallError::UnknownClient { name: name.to_owned() })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Install,
    Uninstall,
}

/// What to connect (or disconnect). Every field may be left out on the wire.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct Request {
    /// The clients; empty means every detected one.
    pub clients: Vec<Client>,
    pub scope: Scope,
    /// What the entries run instead of this binary.
    pub command: Option<String>,
    /// Also the instruction block in the clients' user-level instruction files (at user scope).
    pub instructions: bool,
    /// Also the session-start and prompt hooks, for the clients that run hooks.
    pub hooks: bool,
    /// The hooks' time budget (the config's `hooks.budget_ms`), from which their timeout in
    /// the client's settings follows; the default budget when left out.
    #[ts(type = "number")]
    pub hook_budget_ms: Option<u64>,
}

impl Default for Request {
    /// Every detected client at user scope, running this binary, with the instruction block:
    /// what `annal install` does with no arguments.
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            scope: Scope::User,
            command: None,
            instructions: true,
            hooks: true,
            hook_budget_ms: None,
        }
    }
}

/// Which of a client's files a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Its MCP server config.
    Config,
    /// Its user-level instruction file.
    Instructions,
    /// The settings file its hooks live in.
    Hooks,
}

/// What happens (in a plan) or happened (after [`apply`]) to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "reason")]
pub enum Action {
    Added,
    AlreadyConfigured,
    /// Our entry ran another command, or the block had older text.
    Updated,
    Removed,
    NotConfigured,
    Skipped(String),
    Failed(String),
}

impl Action {
    pub fn is_failure(&self) -> bool {
        matches!(self, Action::Failed(_))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Added => f.write_str("added"),
            Action::AlreadyConfigured => f.write_str("already configured"),
            Action::Updated => f.write_str("updated"),
            Action::Removed => f.write_str("removed"),
            Action::NotConfigured => f.write_str("not configured"),
            Action::Skipped(reason) => write!(f, "skipped: {reason}"),
            Action::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

/// One file of a plan.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Row {
    pub client: Client,
    pub kind: FileKind,
    /// `None` for a client skipped before any file was looked at.
    pub file: Option<PathBuf>,
    pub action: Action,
    /// The unified diff of the change; empty when nothing changes.
    pub diff: String,
    #[serde(skip)]
    #[ts(skip)]
    change: Option<Change>,
}

impl Row {
    /// The file's bytes after the change (`None`: no change, or the file goes away).
    pub fn new_bytes(&self) -> Option<&[u8]> {
        self.change.as_ref().and_then(|c| c.after.as_deref())
    }

    /// Whether applying the plan would touch this file.
    pub fn changes(&self) -> bool {
        self.change.is_some()
    }
}

/// A change to one file, as planned: it must still hold `before` when it is applied.
#[derive(Debug, Clone)]
struct Change {
    before: Option<Vec<u8>>,
    /// `None`: the file goes (it held nothing but what install had created).
    after: Option<Vec<u8>>,
    writer: Writer,
    /// Whether `before` is the user's (so a first change backs it up), not what an earlier
    /// row of the same plan wrote.
    backup: bool,
}

#[derive(Debug, Clone)]
enum Writer {
    File,
    /// `claude mcp add-json` with this entry (after `remove` when replacing one).
    ClaudeAdd {
        program: PathBuf,
        entry: String,
        replace: bool,
    },
    ClaudeRemove {
        program: PathBuf,
    },
}

/// A plan: a row per file, in the clients' order.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Plan {
    pub operation: Operation,
    /// The command entries run (for an install).
    pub command: String,
    pub rows: Vec<Row>,
    /// A digest of every planned change (each file, its bytes before and after): what a
    /// caller that showed the plan hands [`apply_confirmed`], so that what is written is what
    /// was shown.
    pub fingerprint: String,
}
