//! Claude Code's own `claude mcp` command, used for its user scope when it is on PATH:
//! `~/.claude.json` is a live state file that running sessions rewrite, and the client's own
//! writer is the one that cannot race them.

use std::path::Path;
use std::process::{Command, Stdio};

use super::Environment;
use super::document::NAME;

/// `claude mcp <args>` in `env`'s home; its error output on failure.
fn run(program: &Path, env: &Environment, args: &[&str]) -> Result<(), String> {
    let mut command = Command::new(program);
    command
        .arg("mcp")
        .args(args)
        .env("HOME", &env.home)
        .current_dir(&env.home)
        .stdin(Stdio::null());
    if let Some(dir) = &env.claude_config_dir {
        command.env("CLAUDE_CONFIG_DIR", dir);
    }
    if let Some(path) = &env.path {
        command.env("PATH", path);
    }
    let output =
        command.output().map_err(|err| format!("could not run {}: {err}", program.display()))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let said = if said.trim().is_empty() { String::from_utf8_lossy(&output.stdout) } else { said };
    Err(format!("`claude mcp {}` failed ({}): {}", args[0], output.status, said.trim()))
}

/// Adds (or, after removing the old one, replaces) our user-scope entry with `entry`, the
/// same JSON the file edit would have written.
pub(super) fn add(
    program: &Path,
    env: &Environment,
    entry: &str,
    replace: bool,
) -> Result<(), String> {
    if replace {
        remove(program, env)?;
    }
    run(program, env, &["add-json", "--scope", "user", NAME, entry])
}

pub(super) fn remove(program: &Path, env: &Environment) -> Result<(), String> {
    run(program, env, &["remove", "--scope", "user", NAME])
}
