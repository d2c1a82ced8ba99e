//! `annal install` / `annal uninstall`: plan with the engine, show the diffs (`--dry-run`) or
//! apply, print a table of client, file and action. Exits non-zero when a row failed.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use crate::install::{self, Environment, Operation, Plan, Request, Scope};

/// What both commands select.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Only this client (repeatable): claude-code, codex, gemini, cursor, vscode,
    /// claude-desktop, windsurf, zed, opencode. Default: every detected client.
    #[arg(long = "client", value_name = "NAME")]
    clients: Vec<String>,
    /// user: the client's own config; project: the current directory's (Claude Code, Gemini
    /// CLI, Cursor, VS Code).
    #[arg(long, value_enum, default_value_t = ScopeArg::User)]
    scope: ScopeArg,
    /// Show the diff of each file, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Leave the instruction block in CLAUDE.md / AGENTS.md / GEMINI.md alone.
    #[arg(long)]
    no_instructions: bool,
    /// Leave the clients' hooks (session brief, per-prompt recall) alone.
    #[arg(long)]
    no_hooks: bool,
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    #[command(flatten)]
    selection: Selection,
    /// What the entries run, instead of this binary.
    #[arg(long, value_name = "PATH")]
    command: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ScopeArg {
    User,
    Project,
}

pub fn install(args: InstallArgs, out: &mut impl Write) -> anyhow::Result<()> {
    run(Operation::Install, args.selection, args.command, out)
}

pub fn uninstall(args: Selection, out: &mut impl Write) -> anyhow::Result<()> {
    run(Operation::Uninstall, args, None, out)
}

fn run(
    operation: Operation,
    selection: Selection,
    command: Option<String>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let env = Environment::from_process()?;
    let clients = selection
        .clients
        .iter()
        .map(|name| install::parse_client(name))
        .collect::<Result<Vec<_>, _>>()?;
    let request = Request {
        clients,
        scope: match selection.scope {
            ScopeArg::User => Scope::User,
            ScopeArg::Project => Scope::Project,
        },
        command,
        instructions: !selection.no_instructions,
        hooks: !selection.no_hooks,
        hook_budget_ms: configured_budget(),
    };
    let plan = install::plan(&env, operation, &request)?;
    let plan = if selection.dry_run {
        for row in plan.rows.iter().filter(|r| !r.diff.is_empty()) {
            write!(out, "{}", row.diff)?;
            if !row.diff.ends_with('\n') {
                writeln!(out)?;
            }
        }
        plan
    } else {
        install::apply(&env, plan)
    };
    render(&env, &plan, selection.dry_run, out)?;
    let failed = plan.rows.iter().filter(|r| r.action.is_failure()).count();
    anyhow::ensure!(failed == 0, "{failed} of {} files could not be changed", plan.rows.len());
    Ok(())
}

fn render(
    env: &Environment,
    plan: &Plan,
    dry_run: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let rows: Vec<[String; 3]> = plan
        .rows
        .iter()
        .map(|row| {
            let file = row.file.as_deref().map_or_else(|| "-".to_owned(), |f| short(env, f));
            let action = if dry_run && row.changes() {
                format!("{} (dry run)", row.action)
            } else {
                row.action.to_string()
            };
            [row.client.display_name().to_owned(), file, action]
        })
        .collect();
    let header = ["client", "file", "action"].map(str::to_owned);
    let widths: Vec<usize> = (0..2)
        .map(|i| rows.iter().chain([&header]).map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for [client, file, action] in [&header].into_iter().chain(&rows) {
        writeln!(out, "{client:<w0$}  {file:<w1$}  {action}", w0 = widths[0], w1 = widths[1])
            .context("writing the table")?;
    }
    if plan.operation == Operation::Install && !dry_run {
        writeln!(out, "entries run: {}", plan.command)?;
    }
    if dry_run {
        writeln!(out, "dry run: nothing was written")?;
    }
    let codex_hooks = plan.rows.iter().any(|r| {
        r.client == install::Client::Codex
            && r.kind == install::FileKind::Hooks
            && matches!(r.action, install::Action::Added | install::Action::Updated)
    });
    if codex_hooks && !dry_run {
        writeln!(
            out,
            "Codex runs new or changed hooks only once you trust them: start `codex` and accept \
             them when it says hooks need review"
        )?;
    }
    Ok(())
}

/// The hooks' time budget from Annal's config, when it loads (a broken config must not stop
/// an install: the default budget is used then).
fn configured_budget() -> Option<u64> {
    let paths = crate::config::PathInputs::from_env(None).resolve().ok()?;
    let config = crate::config::ConfigFile::load(paths).ok()?;
    Some(config.snapshot().hooks.budget_ms)
}

/// `~/…` for files in the home.
fn short(env: &Environment, file: &Path) -> String {
    match file.strip_prefix(&env.home) {
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => file.display().to_string(),
    }
}
