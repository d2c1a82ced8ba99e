//! Our hook entries in a client's settings: `hooks.<Event>` is a list of groups, each
//! `{matcher?, hooks: [{type: "command", command, timeout}]}` (Claude Code's shape, which
//! Gemini CLI follows). Ours is the hook whose command ends in `hook <event> --client <id>`:
//! whatever runs the binary (a path, `annal`, `--command`), that tail says it is ours. Edits
//! go through the same concrete syntax tree as the MCP entries, so everything else stays.

use std::path::PathBuf;

use jsonc_parser::cst::{CstArray, CstInputValue, CstNode, CstObject};

use super::document::{EditError, Upserted, keep_line_endings};
use super::json::parse;
use super::{Client, Environment, Scope};

/// How a client with hooks runs ours.
#[derive(Debug, Clone, Copy)]
pub(super) struct HookSpec {
    /// Its settings file is strict JSON (no comments).
    pub strict: bool,
    /// Its event names for session start and prompt submit.
    pub events: [&'static str; 2],
    /// Milliseconds per unit of its `timeout`.
    pub timeout_unit_ms: u64,
}

/// Our two events, as `annal hook` names them.
const OUR_EVENTS: [&str; 2] = ["session-start", "prompt-submit"];

impl Client {
    /// How it runs hooks; `None` for a client without command hooks (nothing is installed).
    pub(super) fn hook_spec(self) -> Option<HookSpec> {
        match self {
            Client::ClaudeCode => Some(HookSpec {
                strict: true,
                events: ["SessionStart", "UserPromptSubmit"],
                timeout_unit_ms: 1000,
            }),
            Client::Gemini => Some(HookSpec {
                strict: false,
                events: ["SessionStart", "BeforeAgent"],
                timeout_unit_ms: 1,
            }),
            Client::Codex => Some(HookSpec {
                strict: true,
                events: ["SessionStart", "UserPromptSubmit"],
                timeout_unit_ms: 1000,
            }),
            _ => None,
        }
    }

    /// The file its hooks live in at `scope`.
    pub fn hook_file(self, env: &Environment, scope: Scope) -> Option<PathBuf> {
        match (self, scope) {
            (Client::ClaudeCode, Scope::User) => Some(
                env.claude_config_dir
                    .clone()
                    .unwrap_or_else(|| env.home.join(".claude"))
                    .join("settings.json"),
            ),
            (Client::ClaudeCode, Scope::Project) => Some(env.cwd.join(".claude/settings.json")),
            // Gemini keeps hooks beside its MCP servers.
            (Client::Gemini, scope) => self.config_file(env, scope),
            (Client::Codex, Scope::User) => Some(env.codex_home.join("hooks.json")),
            _ => None,
        }
    }
}

/// Our hooks for `client`, running `program` (quoted for the shell the client runs hooks
/// with), each with a timeout a little above `budget_ms` in the client's unit.
pub(super) fn entries(
    client: Client,
    spec: HookSpec,
    program: &str,
    budget_ms: u64,
) -> Vec<HookEntry> {
    let program = match shlex::try_quote(program) {
        Ok(quoted) => quoted.into_owned(),
        // A NUL byte: no shell could run it; the check after the edit catches nothing then,
        // so keep it as given and let the client report it.
        Err(_) => program.to_owned(),
    };
    // The client's own limit is a backstop: ours ends the hook at the budget.
    let timeout_ms = budget_ms + 500;
    let timeout = timeout_ms.div_ceil(spec.timeout_unit_ms).max(1);
    OUR_EVENTS
        .into_iter()
        .zip(spec.events)
        .map(|(ours, event)| {
            let tail = format!("hook {ours} --client {}", client.id());
            HookEntry { event, command: format!("{program} {tail}"), tail, timeout }
        })
        .collect()
}

/// One hook we install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HookEntry {
    /// The client's event name (`SessionStart`).
    pub event: &'static str,
    /// The shell command the client runs.
    pub command: String,
    /// The tail of `command` that marks it ours.
    pub tail: String,
    /// In the client's unit.
    pub timeout: u64,
}

fn object_at(parent: &CstObject, key: &str) -> Result<Option<CstObject>, EditError> {
    match parent.get(key) {
        None => Ok(None),
        Some(prop) => match prop.value() {
            Some(CstNode::Container(jsonc_parser::cst::CstContainerNode::Object(o))) => Ok(Some(o)),
            _ => Err(EditError::Shape(format!("\"{key}\" is not an object"))),
        },
    }
}

fn array_at(parent: &CstObject, key: &str) -> Result<Option<CstArray>, EditError> {
    match parent.get(key) {
        None => Ok(None),
        Some(prop) => match prop.value().and_then(|v| v.as_array()) {
            Some(array) => Ok(Some(array)),
            None => Err(EditError::Shape(format!("hooks.{key} is not a list"))),
        },
    }
}

fn string_field(object: &CstObject, key: &str) -> Option<String> {
    object.get(key)?.value()?.as_string_lit()?.decoded_value().ok()
}

fn number_field(object: &CstObject, key: &str) -> Option<u64> {
    object.get(key)?.value()?.as_number_lit()?.to_string().parse().ok()
}

/// Our hook in one event's groups: (group, hook) objects.
fn find_ours(groups: &CstArray, tail: &str) -> Option<(CstObject, CstObject)> {
    groups.elements().into_iter().filter_map(|g| g.as_object()).find_map(|group| {
        let hooks = group.get("hooks")?.value()?.as_array()?;
        let hook = hooks.elements().into_iter().filter_map(|h| h.as_object()).find(|hook| {
            string_field(hook, "command").is_some_and(|c| c.trim_end().ends_with(tail))
        })?;
        Some((group, hook))
    })
}

/// One of our hooks as found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub event: &'static str,
    pub command: String,
    pub timeout: Option<u64>,
}

/// What each of our hooks runs now, for those present.
pub(super) fn read(
    text: &str,
    strict: bool,
    entries: &[HookEntry],
) -> Result<Vec<Found>, EditError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let root = parse(text, strict)?;
    let Some(object) = root.value().and_then(|v| v.as_object()) else {
        return Err(EditError::Shape("the file's top level is not an object".into()));
    };
    let Some(hooks) = object_at(&object, "hooks")? else { return Ok(Vec::new()) };
    let mut found = Vec::new();
    for entry in entries {
        let Some(groups) = array_at(&hooks, entry.event)? else { continue };
        if let Some((_, hook)) = find_ours(&groups, &entry.tail) {
            let command = string_field(&hook, "command").unwrap_or_default();
            found.push(Found {
                event: entry.event,
                command,
                timeout: number_field(&hook, "timeout"),
            });
        }
    }
    Ok(found)
}

fn hook_input(entry: &HookEntry) -> CstInputValue {
    CstInputValue::Object(vec![
        ("type".into(), CstInputValue::String("command".into())),
        ("command".into(), CstInputValue::String(entry.command.clone())),
        ("timeout".into(), CstInputValue::Number(entry.timeout.to_string())),
    ])
}

/// `text` with every entry present and current.
pub(super) fn upsert(
    text: &str,
    strict: bool,
    entries: &[HookEntry],
) -> Result<(String, Upserted), EditError> {
    let current = read(text, strict, entries)?;
    let up_to_date = entries.iter().all(|e| {
        current
            .iter()
            .any(|f| f.event == e.event && f.command == e.command && f.timeout == Some(e.timeout))
    });
    if up_to_date {
        return Ok((text.to_owned(), Upserted::AlreadyConfigured));
    }
    let blank = text.trim().is_empty();
    let root = parse(if blank { "" } else { text }, strict)?;
    let object = root
        .object_value_or_create()
        .ok_or_else(|| EditError::Shape("the file's top level is not an object".into()))?;
    let hooks = match object_at(&object, "hooks")? {
        Some(hooks) => hooks,
        None => object.append("hooks", CstInputValue::Object(Vec::new())).object_value_or_set(),
    };
    for entry in entries {
        let groups = match array_at(&hooks, entry.event)? {
            Some(groups) => groups,
            None => {
                hooks.append(entry.event, CstInputValue::Array(Vec::new())).array_value_or_set()
            }
        };
        match find_ours(&groups, &entry.tail) {
            Some((_, hook)) => {
                let set = |key: &str, value: CstInputValue| match hook.get(key) {
                    Some(prop) => prop.set_value(value),
                    None => {
                        hook.append(key, value);
                    }
                };
                set("command", CstInputValue::String(entry.command.clone()));
                set("timeout", CstInputValue::Number(entry.timeout.to_string()));
            }
            None => {
                // No matcher: every session start (new, resumed, cleared, compacted) gets it.
                let group =
                    vec![("hooks".to_owned(), CstInputValue::Array(vec![hook_input(entry)]))];
                groups.append(CstInputValue::Object(group));
            }
        }
    }
    let mut edited = root.to_string();
    if blank {
        edited.push('\n');
    }
    let edited = keep_line_endings(text, edited);
    check(&edited, strict, entries, true)?;
    let upserted = if current.is_empty() { Upserted::Added } else { Upserted::Updated };
    Ok((edited, upserted))
}

/// `text` without our hooks (and without the groups, event lists and `hooks` object that held
/// only them); `None` when it has none.
pub(super) fn remove(
    text: &str,
    strict: bool,
    entries: &[HookEntry],
) -> Result<Option<String>, EditError> {
    if read(text, strict, entries)?.is_empty() {
        return Ok(None);
    }
    let root = parse(text, strict)?;
    let Some(object) = root.value().and_then(|v| v.as_object()) else {
        return Err(EditError::Shape("the file's top level is not an object".into()));
    };
    let Some(hooks) = object_at(&object, "hooks")? else { return Ok(None) };
    for entry in entries {
        let Some(groups) = array_at(&hooks, entry.event)? else { continue };
        while let Some((group, hook)) = find_ours(&groups, &entry.tail) {
            hook.remove();
            let empty = group
                .get("hooks")
                .and_then(|p| p.value())
                .and_then(|v| v.as_array())
                .is_none_or(|a| a.elements().is_empty());
            if empty {
                group.remove();
            }
        }
        if groups.elements().is_empty()
            && let Some(prop) = hooks.get(entry.event)
        {
            prop.remove();
        }
    }
    if hooks.properties().is_empty()
        && let Some(prop) = object.get("hooks")
    {
        prop.remove();
    }
    let edited = keep_line_endings(text, root.to_string());
    check(&edited, strict, entries, false)?;
    Ok(Some(edited))
}

/// The edit must leave a file the client reads, with our hooks there (or gone).
fn check(
    edited: &str,
    strict: bool,
    entries: &[HookEntry],
    present: bool,
) -> Result<(), EditError> {
    let found = read(edited, strict, entries).map_err(|e| EditError::Check(e.to_string()))?;
    let ok = if present {
        entries.iter().all(|e| found.iter().any(|f| f.event == e.event && f.command == e.command))
    } else {
        found.is_empty()
    };
    if ok {
        Ok(())
    } else {
        Err(EditError::Check(format!(
            "the hooks are {}",
            if present { "not all there" } else { "still there" }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(command: &str) -> Vec<HookEntry> {
        ["session-start", "prompt-submit"]
            .into_iter()
            .zip(["SessionStart", "UserPromptSubmit"])
            .map(|(event, name)| HookEntry {
                event: name,
                command: format!("{command} hook {event} --client claude-code"),
                tail: format!("hook {event} --client claude-code"),
                timeout: 1,
            })
            .collect()
    }

    const THEIRS: &str = r#"{
  "model": "opus",
  "hooks": {
    "UserPromptSubmit": [
      {
        "hooks": [
          { "type": "command", "command": "~/bin/log-prompt.sh" }
        ]
      }
    ]
  }
}
"#;

    #[test]
    fn adds_beside_the_users_hooks_and_removes_exactly_ours() {
        let (added, how) = upsert(THEIRS, true, &entries("/opt/annal")).expect("upsert");
        assert_eq!(how, Upserted::Added);
        assert!(added.contains("~/bin/log-prompt.sh"));
        assert!(added.contains("\"model\": \"opus\""));
        let value: serde_json::Value = serde_json::from_str(&added).expect("json");
        assert_eq!(value["hooks"]["UserPromptSubmit"].as_array().map(Vec::len), Some(2));
        assert_eq!(value["hooks"]["SessionStart"][0]["hooks"][0]["timeout"], serde_json::json!(1));
        let (again, how) = upsert(&added, true, &entries("/opt/annal")).expect("again");
        assert_eq!((again.as_str(), how), (added.as_str(), Upserted::AlreadyConfigured));
        let removed = remove(&added, true, &entries("/opt/annal")).expect("remove").expect("some");
        let value: serde_json::Value = serde_json::from_str(&removed).expect("json");
        let theirs: serde_json::Value = serde_json::from_str(THEIRS).expect("json");
        assert_eq!(value, theirs);
        assert_eq!(remove(THEIRS, true, &entries("/opt/annal")).expect("none"), None);
    }

    #[test]
    fn a_moved_binary_updates_the_command_in_place() {
        let (added, _) = upsert("", true, &entries("/old/annal")).expect("upsert");
        let (moved, how) = upsert(&added, true, &entries("/new/annal")).expect("update");
        assert_eq!(how, Upserted::Updated);
        assert!(!moved.contains("/old/annal") && moved.contains("/new/annal"));
        let value: serde_json::Value = serde_json::from_str(&moved).expect("json");
        assert_eq!(value["hooks"]["SessionStart"].as_array().map(Vec::len), Some(1));
        let removed = remove(&moved, true, &entries("/new/annal")).expect("rm").expect("some");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&removed).expect("json"),
            serde_json::json!({})
        );
    }

    #[test]
    fn files_it_cannot_read_or_shape_are_refused() {
        assert!(matches!(
            upsert("{\"hooks\": [", true, &entries("a")),
            Err(EditError::Parse { line: 1, .. })
        ));
        assert!(matches!(upsert("{\"hooks\": []}", true, &entries("a")), Err(EditError::Shape(_))));
        let wrong = r#"{"hooks": {"SessionStart": {}}}"#;
        assert!(matches!(upsert(wrong, true, &entries("a")), Err(EditError::Shape(_))));
        assert!(matches!(upsert("// note\n{}", true, &entries("a")), Err(EditError::Parse { .. })));
        assert!(upsert("// note\n{}", false, &entries("a")).is_ok());
    }
}
