//! Working out a plan: for each selected client, its config file and instruction file as
//! they are now and as they would be. Reads only.

use std::path::Path;

use super::document::{EditError, Format, NAME, Shape, Upserted};
use super::{
    Action, Change, Client, Environment, FileKind, InstallError, Operation, Plan, Request, Row,
    Scope, Writer, block, diff, hooks, write,
};

/// The changes `operation` would make for `request`, nothing written.
pub fn plan(
    env: &Environment,
    operation: Operation,
    request: &Request,
) -> Result<Plan, InstallError> {
    if request.scope == Scope::Project
        && let Some(&client) = request.clients.iter().find(|c| !c.has_project_scope())
    {
        return Err(InstallError::NoProjectScope { client });
    }
    let command = match &request.command {
        Some(command) if command.trim().is_empty() => return Err(InstallError::EmptyCommand),
        Some(command) => command.clone(),
        None => env.annal_command(),
    };
    let explicit = !request.clients.is_empty();
    let mut clients = if explicit { request.clients.clone() } else { Client::ALL.to_vec() };
    clients.sort();
    clients.dedup();
    let mut rows = Vec::new();
    for client in clients {
        let skip = |reason: &str| Row {
            client,
            kind: FileKind::Config,
            file: client.config_file(env, request.scope),
            action: Action::Skipped(reason.to_owned()),
            diff: String::new(),
            change: None,
        };
        if !explicit && !client.detected(env) {
            rows.push(skip("not detected"));
            continue;
        }
        let Some(file) = client.config_file(env, request.scope) else {
            rows.push(skip("no project scope"));
            continue;
        };
        let client_command = match &request.command {
            Some(_) => command.clone(),
            None => client.command_for(env, &command),
        };
        let hooks =
            request.hooks.then(|| hooks_plan(env, client, request, &client_command)).flatten();
        // Uninstalling, the hooks go first: a file holding both (Gemini's) then holds only
        // the MCP entry, which the config row can undo back to the user's original bytes.
        if operation == Operation::Uninstall
            && let Some((hook_file, entries, strict)) = &hooks
        {
            let current = current_text(&rows, hook_file);
            rows.push(hooks_row(client, hook_file, operation, current, entries, *strict));
        }
        let current = current_text(&rows, &file);
        rows.push(config_row(
            env,
            client,
            request.scope,
            &file,
            operation,
            &client_command,
            current,
        ));
        if operation == Operation::Install
            && let Some((hook_file, entries, strict)) = &hooks
        {
            let current = current_text(&rows, hook_file);
            rows.push(hooks_row(client, hook_file, operation, current, entries, *strict));
        }
        if request.instructions
            && request.scope == Scope::User
            && let Some(file) = client.instruction_file(env)
        {
            rows.push(instruction_row(client, &file, operation));
        }
    }
    // A file two rows change (Gemini's holds servers and hooks) is backed up by the first
    // when installing; uninstalling, the first row's bytes are only a step to the second's, so
    // neither may leave our own entries behind as a "backup".
    for at in 0..rows.len() {
        let shared = |r: &Row| r.changes() && r.file == rows[at].file;
        let earlier = rows[..at].iter().any(shared);
        let later = rows[at + 1..].iter().any(shared);
        let first_of_uninstall = operation == Operation::Uninstall && later;
        if let Some(change) = rows[at].change.as_mut().filter(|_| earlier || first_of_uninstall) {
            change.backup = false;
        }
    }
    let fingerprint = fingerprint(operation, &command, &rows);
    Ok(Plan { operation, command, rows, fingerprint })
}

/// SHA-256 over everything applying would do: each row's client, file, action and bytes
/// before and after (length-prefixed, so no two plans run together into the same input).
fn fingerprint(operation: Operation, command: &str, rows: &[Row]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hash = Sha256::new();
    let mut field = |bytes: Option<&[u8]>| match bytes {
        Some(bytes) => {
            hash.update([1]);
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        }
        None => hash.update([0]),
    };
    field(Some(format!("{operation:?}").as_bytes()));
    field(Some(command.as_bytes()));
    for row in rows {
        field(Some(row.client.id().as_bytes()));
        field(Some(format!("{:?}", row.kind).as_bytes()));
        field(row.file.as_ref().map(|f| f.as_os_str().as_encoded_bytes()));
        field(Some(row.action.to_string().as_bytes()));
        field(row.change.as_ref().and_then(|c| c.before.as_deref()));
        field(row.change.as_ref().and_then(|c| c.after.as_deref()));
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The file's text, or the row saying why it cannot be had.
fn read_text(file: &Path) -> Result<Option<(Vec<u8>, String)>, Action> {
    let bytes =
        write::read(file).map_err(|err| Action::Failed(format!("cannot read it: {err}")))?;
    let Some(bytes) = bytes else { return Ok(None) };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some((text.clone().into_bytes(), text))),
        Err(err) => {
            let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
            let text = String::from_utf8_lossy(valid);
            let (line, column) = super::document::line_column(&text, text.len());
            Err(Action::Failed(
                EditError::Parse { message: "not UTF-8 text".into(), line, column }.to_string(),
            ))
        }
    }
}

fn row(client: Client, kind: FileKind, file: &Path, action: Action) -> Row {
    Row { client, kind, file: Some(file.to_path_buf()), action, diff: String::new(), change: None }
}

/// A row that changes `file` from `before` to `after`, unless the file may not be written.
fn change_row(
    client: Client,
    kind: FileKind,
    file: &Path,
    action: Action,
    before: Option<(Vec<u8>, String)>,
    after: Option<String>,
    writer: Writer,
) -> Row {
    if write::read_only(file) {
        return row(
            client,
            kind,
            file,
            Action::Failed(
                "it is read-only: nothing was changed (make it writable, or edit it yourself)"
                    .into(),
            ),
        );
    }
    let diff = diff::unified(file, before.as_ref().map(|(_, t)| t.as_str()), after.as_deref());
    let change = Change {
        before: before.map(|(bytes, _)| bytes),
        after: after.map(String::into_bytes),
        writer,
        backup: true,
    };
    Row { client, kind, file: Some(file.to_path_buf()), action, diff, change: Some(change) }
}

/// What `file` holds when this row is applied: what an earlier row of the plan leaves in it,
/// else what is on disk.
fn current_text(rows: &[Row], file: &Path) -> Result<Option<(Vec<u8>, String)>, Action> {
    let planned = rows.iter().rev().find(|r| r.file.as_deref() == Some(file) && r.changes());
    match planned.and_then(|r| r.change.as_ref()) {
        Some(change) => Ok(change
            .after
            .clone()
            .map(|bytes| (bytes.clone(), String::from_utf8_lossy(&bytes).into_owned()))),
        None => read_text(file),
    }
}

/// The client's hook file and our entries there, when it runs hooks at this scope.
fn hooks_plan(
    env: &Environment,
    client: Client,
    request: &Request,
    command: &str,
) -> Option<(std::path::PathBuf, Vec<hooks::HookEntry>, bool)> {
    let spec = client.hook_spec()?;
    let file = client.hook_file(env, request.scope)?;
    let budget = request.hook_budget_ms.unwrap_or(crate::hooks::HookSettings::default().budget_ms);
    Some((file, hooks::entries(client, spec, command, budget), spec.strict))
}

fn hooks_row(
    client: Client,
    file: &Path,
    operation: Operation,
    current: Result<Option<(Vec<u8>, String)>, Action>,
    entries: &[hooks::HookEntry],
    strict: bool,
) -> Row {
    let current = match current {
        Ok(current) => current,
        Err(action) => return row(client, FileKind::Hooks, file, action),
    };
    let text = current.as_ref().map_or("", |(_, t)| t.as_str());
    let failed =
        |err: EditError| row(client, FileKind::Hooks, file, Action::Failed(err.to_string()));
    match operation {
        Operation::Install => match hooks::upsert(text, strict, entries) {
            Ok((_, Upserted::AlreadyConfigured)) => {
                row(client, FileKind::Hooks, file, Action::AlreadyConfigured)
            }
            Ok((edited, upserted)) => {
                let action =
                    if upserted == Upserted::Added { Action::Added } else { Action::Updated };
                change_row(
                    client,
                    FileKind::Hooks,
                    file,
                    action,
                    current,
                    Some(edited),
                    Writer::File,
                )
            }
            Err(err) => failed(err),
        },
        Operation::Uninstall => match hooks::remove(text, strict, entries) {
            Ok(None) => row(client, FileKind::Hooks, file, Action::NotConfigured),
            Ok(Some(removed)) => {
                let after = hooks_undone(file, text, strict, entries).unwrap_or(Some(removed));
                change_row(
                    client,
                    FileKind::Hooks,
                    file,
                    Action::Removed,
                    current,
                    after,
                    Writer::File,
                )
            }
            Err(err) => failed(err),
        },
    }
}

/// As [`undone`] for hooks: the backup's bytes when installing the hooks into them gives
/// `text`, no file when installing into nothing does.
fn hooks_undone(
    file: &Path,
    text: &str,
    strict: bool,
    entries: &[hooks::HookEntry],
) -> Option<Option<String>> {
    original_of(file, text, |original| {
        hooks::upsert(original, strict, entries).ok().map(|(t, _)| t)
    })
}

/// What `file` held before install, when installing into that gives back `text`: the
/// backup's bytes (`Some`), or no file at all (`None`, install created it). `None` outside:
/// the file changed otherwise since, and only our part may go.
fn original_of(
    file: &Path,
    text: &str,
    reinstalled: impl Fn(&str) -> Option<String>,
) -> Option<Option<String>> {
    match write::read(&write::backup_path(file)) {
        Ok(Some(backup)) => {
            let backup = String::from_utf8(backup).ok()?;
            (reinstalled(&backup)? == text).then_some(Some(backup))
        }
        Ok(None) => (reinstalled("")? == text).then_some(None),
        Err(_) => None,
    }
}

fn config_row(
    env: &Environment,
    client: Client,
    scope: Scope,
    file: &Path,
    operation: Operation,
    command: &str,
    current: Result<Option<(Vec<u8>, String)>, Action>,
) -> Row {
    let (format, shape) = (client.format(), client.shape());
    let current = match current {
        Ok(current) => current,
        Err(action) => return row(client, FileKind::Config, file, action),
    };
    let text = current.as_ref().map_or("", |(_, t)| t.as_str());
    let failed =
        |err: EditError| row(client, FileKind::Config, file, Action::Failed(err.to_string()));
    // Claude Code's user file is live state its sessions rewrite: its own CLI writes it.
    let claude = (client == Client::ClaudeCode && scope == Scope::User)
        .then(|| env.which("claude"))
        .flatten();
    match operation {
        Operation::Install => {
            let (edited, upserted) = match format.upsert(shape, text, command) {
                Ok(edit) => edit,
                Err(err) => return failed(err),
            };
            let action = match upserted {
                Upserted::AlreadyConfigured => {
                    return row(client, FileKind::Config, file, Action::AlreadyConfigured);
                }
                Upserted::Added => Action::Added,
                Upserted::Updated => Action::Updated,
            };
            let writer = match claude {
                Some(program) => match entry_json(&edited, shape) {
                    Some(entry) => {
                        Writer::ClaudeAdd { program, entry, replace: upserted == Upserted::Updated }
                    }
                    None => return failed(EditError::Check(format!("no {NAME} entry to add"))),
                },
                None => Writer::File,
            };
            change_row(client, FileKind::Config, file, action, current, Some(edited), writer)
        }
        Operation::Uninstall => {
            let removed = match format.remove(shape, text) {
                Ok(Some(removed)) => removed,
                Ok(None) => return row(client, FileKind::Config, file, Action::NotConfigured),
                Err(err) => return failed(err),
            };
            let writer = match claude {
                Some(program) => Writer::ClaudeRemove { program },
                None => Writer::File,
            };
            let after = match writer {
                Writer::File => undone(format, shape, file, text).unwrap_or(Some(removed)),
                Writer::ClaudeAdd { .. } | Writer::ClaudeRemove { .. } => Some(removed),
            };
            change_row(client, FileKind::Config, file, Action::Removed, current, after, writer)
        }
    }
}

/// What undoing install gives back exactly, when `text` is just what install made: the
/// backup's bytes when install had added our entry to them, or no file when install had
/// created it. `None` when the file has changed otherwise since (then only our entry goes).
fn undone(format: Format, shape: Shape, file: &Path, text: &str) -> Option<Option<String>> {
    let command = format.read(shape, text).ok()??.command?;
    // Installing into `original` must give `text`; an original that had an entry of its own
    // was updated, not added to, and is not ours to bring back.
    original_of(file, text, |original| match format.read(shape, original).ok()? {
        Some(_) => None,
        None => Some(format.upsert(shape, original, &command).ok()?.0),
    })
}

/// Our entry from an edited `.claude.json`, as `claude mcp add-json` takes it.
fn entry_json(edited: &str, shape: Shape) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(edited).ok()?;
    Some(value.get(shape.servers_key())?.get(NAME)?.to_string())
}

fn instruction_row(client: Client, file: &Path, operation: Operation) -> Row {
    let body = crate::instructions::block_text();
    let current = match read_text(file) {
        Ok(current) => current,
        Err(action) => return row(client, FileKind::Instructions, file, action),
    };
    let text = current.as_ref().map_or("", |(_, t)| t.as_str());
    let failed =
        |err: EditError| row(client, FileKind::Instructions, file, Action::Failed(err.to_string()));
    match operation {
        Operation::Install => {
            let had_block = match block::state(text, &body) {
                Ok(state) => state.is_some(),
                Err(err) => return failed(err),
            };
            match block::upsert(text, &body) {
                Ok(None) => row(client, FileKind::Instructions, file, Action::AlreadyConfigured),
                Ok(Some(edited)) => {
                    let action = if had_block { Action::Updated } else { Action::Added };
                    change_row(
                        client,
                        FileKind::Instructions,
                        file,
                        action,
                        current,
                        Some(edited),
                        Writer::File,
                    )
                }
                Err(err) => failed(err),
            }
        }
        Operation::Uninstall => match block::remove(text) {
            Ok(None) => row(client, FileKind::Instructions, file, Action::NotConfigured),
            Ok(Some(removed)) => {
                // A file install created holding only the block goes again.
                let after = if removed.is_empty() && !write::backup_path(file).exists() {
                    None
                } else {
                    Some(removed)
                };
                change_row(
                    client,
                    FileKind::Instructions,
                    file,
                    Action::Removed,
                    current,
                    after,
                    Writer::File,
                )
            }
            Err(err) => failed(err),
        },
    }
}
