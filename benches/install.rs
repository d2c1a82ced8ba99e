//! `annal install` benchmark: the binary as a subprocess in a temp home where all nine clients
//! are installed, each config holding other servers (the `others` fixtures of the engine's
//! install tests). Times the first install (nine configs and three instruction files written,
//! each backed up), the second run (nothing to do), a dry run and the uninstall; with the real
//! clients installed in `tests/clients`, also the first install when Claude Code's entry goes
//! through its own `claude mcp`. Run with `cargo bench --bench install`; prints a table.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use annal::install::{Client, Environment, Scope};

#[allow(
    dead_code,
    unused_imports,
    reason = "the benchmarks' shared helpers; this one needs only quantile"
)]
mod common;
use common::quantile;

const RUNS: usize = 20;
/// `claude mcp` starts a runtime of its own: fewer runs.
const CLI_RUNS: usize = 5;
const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A temp home with every client's config dir and config file (other servers in it).
fn home() -> anyhow::Result<tempfile::TempDir> {
    let home = tempfile::tempdir()?;
    let env = Environment::in_home(home.path(), Path::new(env!("CARGO_BIN_EXE_annal")));
    for client in Client::ALL {
        let Some(file) = client.config_file(&env, Scope::User) else { continue };
        let ext = if client == Client::Codex { "toml" } else { "json" };
        let fixture = workspace()
            .join("engine/tests/data/install")
            .join(client.id())
            .join(format!("others.{ext}"));
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::copy(&fixture, &file)?;
    }
    Ok(home)
}

fn annal(home: &Path, path: &str, args: &[&str]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_annal"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("ANNAL_HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("CODEX_HOME", home.join(".codex"))
        .env("PATH", path)
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .current_dir(home)
        .output()?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "annal {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = match args.first() {
        Some(&"uninstall") => "removed",
        _ if args.contains(&"--dry-run") => "(dry run)",
        _ => "",
    };
    anyhow::ensure!(stdout.contains(expected), "annal {args:?}: {stdout}");
    Ok(elapsed)
}

/// `runs` times: a fresh home, `before` untimed, then `args` timed.
fn timed(runs: usize, path: &str, before: &[&[&str]], args: &[&str]) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let home = home()?;
        for step in before {
            annal(home.path(), path, step)?;
        }
        times.push(annal(home.path(), path, args)?);
    }
    times.sort();
    Ok((quantile(&times, 0.5), quantile(&times, 0.95)))
}

fn main() -> anyhow::Result<()> {
    let install: &[&str] = &["install"];
    let mut rows = vec![
        ("first install: 9 configs + 3 instruction files", timed(RUNS, SYSTEM_PATH, &[], install)?),
        ("second install: all already configured", timed(RUNS, SYSTEM_PATH, &[install], install)?),
        ("dry run (9 diffs)", timed(RUNS, SYSTEM_PATH, &[], &["install", "--dry-run"])?),
        ("uninstall", timed(RUNS, SYSTEM_PATH, &[install], &["uninstall"])?),
    ];
    let clients: PathBuf = workspace().join("tests/clients/node_modules/.bin");
    let note = if clients.join("claude").exists() {
        let path = format!("{}:{SYSTEM_PATH}", clients.display());
        rows.push((
            "first install, Claude Code through `claude mcp`",
            timed(CLI_RUNS, &path, &[], install)?,
        ));
        None
    } else {
        Some(format!(
            "(no `claude` in {}: run `npm ci` in tests/clients for that row)",
            clients.display()
        ))
    };
    println!("| `annal install`, all nine clients, as a subprocess | p50 ms | p95 ms |");
    println!("|---|---|---|");
    for (what, (p50, p95)) in rows {
        println!("| {what} | {p50:.1} | {p95:.1} |");
    }
    if let Some(note) = note {
        println!("{note}");
    }
    Ok(())
}
