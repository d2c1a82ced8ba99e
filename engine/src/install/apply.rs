//! Carrying out a plan: each changing row is written (or handed to the client's own CLI) and
//! its action becomes what happened.

use super::document::NAME;
use super::{
    Action, Change, Client, Environment, InstallError, Operation, Plan, Request, Row, Writer,
    claude_cli, write,
};

/// Applies `plan`; the rows that come back say what happened to each file. A row that fails
/// leaves its file as it was and does not stop the others.
pub fn apply(env: &Environment, plan: Plan) -> Plan {
    let rows = plan.rows.into_iter().map(|row| apply_row(env, row)).collect();
    Plan { rows, ..plan }
}

/// Plans `request` afresh and applies it if it is the plan whose [`Plan::fingerprint`] the
/// caller showed: between a diff on screen and the click that confirms it, a client may have
/// rewritten its file, and the user agreed to that diff, not another.
pub fn apply_confirmed(
    env: &Environment,
    operation: Operation,
    request: &Request,
    fingerprint: &str,
) -> Result<Plan, InstallError> {
    let plan = super::plan(env, operation, request)?;
    if plan.fingerprint != fingerprint {
        return Err(InstallError::PlanChanged);
    }
    Ok(apply(env, plan))
}

fn apply_row(env: &Environment, mut row: Row) -> Row {
    let (Some(change), Some(file)) = (&row.change, &row.file) else { return row };
    if let Err(reason) = write_change(env, row.client, file, change) {
        row.action = Action::Failed(reason);
    }
    row
}

fn write_change(
    env: &Environment,
    client: Client,
    file: &std::path::Path,
    change: &Change,
) -> Result<(), String> {
    let before = change.before.as_deref();
    match &change.writer {
        Writer::File => write::replace(file, before, change.after.as_deref(), change.backup)
            .map_err(|e| e.to_string()),
        Writer::ClaudeAdd { program, entry, replace } => {
            write::backup(file, before).map_err(|e| e.to_string())?;
            claude_cli::add(program, env, entry, *replace)?;
            verify(client, file, Operation::Install)
        }
        Writer::ClaudeRemove { program } => {
            write::backup(file, before).map_err(|e| e.to_string())?;
            claude_cli::remove(program, env)?;
            verify(client, file, Operation::Uninstall)
        }
    }
}

/// The client's CLI said it did it: check the file says so too, so a CLI row means what a
/// file row means.
fn verify(client: Client, file: &std::path::Path, operation: Operation) -> Result<(), String> {
    let text = write::read(file).ok().flatten().map(String::from_utf8).and_then(Result::ok);
    let found = text.and_then(|t| client.format().read(client.shape(), &t).ok()).flatten();
    match (operation, found) {
        (Operation::Install, Some(_)) | (Operation::Uninstall, None) => Ok(()),
        (Operation::Install, None) => {
            Err(format!("`claude mcp` succeeded but {} has no {NAME} entry", file.display()))
        }
        (Operation::Uninstall, Some(_)) => {
            Err(format!("`claude mcp` succeeded but {} still has the {NAME} entry", file.display()))
        }
    }
}
