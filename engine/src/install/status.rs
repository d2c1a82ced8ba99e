//! Per client: is it installed here, is Annal in its config, what does the entry run. What
//! the dashboard's Connect view and `annal doctor` show.

use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

use super::{Client, Environment, Scope, block, hooks, write};

/// One client as the dashboard's Connect view and `annal doctor` show it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ClientStatus {
    pub client: Client,
    /// The name people know it by ("Claude Code").
    pub name: &'static str,
    pub scope: Scope,
    /// Its config dir exists or its program is on PATH.
    pub detected: bool,
    /// Its MCP config file at this scope.
    pub file: PathBuf,
    pub file_exists: bool,
    /// The file has an `annal` entry.
    pub configured: bool,
    /// What that entry runs.
    pub command: Option<String>,
    /// Whether that command names an existing executable (an absolute path, or a name PATH
    /// finds).
    pub command_found: bool,
    /// The entry runs what `annal install` would write now: installing would change nothing
    /// in this file.
    pub up_to_date: bool,
    /// Why the file could not be read, with line and column when it does not parse.
    pub problem: Option<String>,
    pub instructions: Option<InstructionStatus>,
    /// Its hooks, for a client that runs them at this scope.
    pub hooks: Option<HookStatus>,
    /// What a person would add by hand: the file's content for a fresh install, running
    /// this binary.
    pub snippet: String,
}

/// Annal's session-start and prompt hooks in a client's settings.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HookStatus {
    pub file: PathBuf,
    /// Both hooks are there.
    pub present: bool,
    /// They run the command `annal install` would write now.
    pub current: bool,
    /// Why the file could not be read.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct InstructionStatus {
    pub file: PathBuf,
    /// The file has Annal's block.
    pub present: bool,
    /// The block has the current text.
    pub current: bool,
}

/// Every client that has `scope`, in the table's order. Reads only; a file that cannot be
/// read or parsed is that client's `problem`, never an error of the whole call.
pub fn status(env: &Environment, scope: Scope) -> Vec<ClientStatus> {
    let command = env.annal_command();
    Client::ALL
        .into_iter()
        .filter_map(|client| {
            let file = client.config_file(env, scope)?;
            Some(client_status(env, client, file, scope, &command))
        })
        .collect()
}

fn client_status(
    env: &Environment,
    client: Client,
    file: PathBuf,
    scope: Scope,
    command: &str,
) -> ClientStatus {
    let (format, shape) = (client.format(), client.shape());
    let text = match write::read(&file) {
        Ok(bytes) => {
            bytes.map(|b| String::from_utf8(b).map_err(|_| "it is not UTF-8 text".to_owned()))
        }
        Err(err) => Some(Err(format!("cannot read it: {err}"))),
    };
    let file_exists = text.is_some();
    let found = match text.transpose() {
        Ok(text) => format.read(shape, text.as_deref().unwrap_or("")).map_err(|e| e.to_string()),
        Err(problem) => Err(problem),
    };
    let (entry, problem) = match found {
        Ok(entry) => (entry, None),
        Err(problem) => (None, Some(problem)),
    };
    let entry_command = entry.as_ref().and_then(|e| e.command.clone());
    let install_command = client.command_for(env, command);
    ClientStatus {
        client,
        name: client.display_name(),
        scope,
        detected: client.detected(env),
        file_exists,
        configured: entry.is_some(),
        command_found: entry_command.as_deref().is_some_and(|c| env.command_found(c)),
        up_to_date: entry_command.as_deref() == Some(install_command.as_str()),
        command: entry_command,
        problem,
        instructions: (scope == Scope::User)
            .then(|| client.instruction_file(env))
            .flatten()
            .map(instruction_status),
        hooks: hook_status(env, client, scope, &install_command),
        snippet: format.upsert(shape, "", &install_command).map(|(s, _)| s).unwrap_or_default(),
        file,
    }
}

fn hook_status(
    env: &Environment,
    client: Client,
    scope: Scope,
    command: &str,
) -> Option<HookStatus> {
    let spec = client.hook_spec()?;
    let file = client.hook_file(env, scope)?;
    let entries =
        hooks::entries(client, spec, command, crate::hooks::HookSettings::default().budget_ms);
    let text = match write::read(&file) {
        Ok(bytes) => String::from_utf8(bytes.unwrap_or_default())
            .map_err(|_| "it is not UTF-8 text".to_owned()),
        Err(err) => Err(format!("cannot read it: {err}")),
    };
    let found = text.and_then(|text| {
        let found = hooks::read(&text, spec.strict, &entries).map_err(|e| e.to_string())?;
        let present = found.len() == entries.len();
        // The timeout follows the configured budget, which this does not know: the command
        // says whether they run this Annal.
        let current = present
            && found
                .iter()
                .all(|f| entries.iter().any(|e| e.event == f.event && e.command == f.command));
        Ok((present, current))
    });
    Some(match found {
        Ok((present, current)) => HookStatus { file, present, current, problem: None },
        Err(problem) => HookStatus { file, present: false, current: false, problem: Some(problem) },
    })
}

fn instruction_status(file: PathBuf) -> InstructionStatus {
    let text = write::read(&file).ok().flatten().and_then(|b| String::from_utf8(b).ok());
    let state =
        text.and_then(|t| block::state(&t, &crate::instructions::block_text()).ok().flatten());
    InstructionStatus { file, present: state.is_some(), current: state == Some(true) }
}
