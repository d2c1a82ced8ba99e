//! Start benchmark: an agent spawning `annal` (the stdio sidecar) until its MCP `initialize`
//! is answered — with an owner already running, and with none (the sidecar starts one), at 0
//! and 100,000 memories. Run with `cargo bench --bench start`; prints a table.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use annal::project::ProjectName;
use annal::store::Store;

mod common;
use common::owner::{Owner, annal, home};
use common::{Xorshift, fill, quantile, vocabulary};

const WARM_RUNS: usize = 20;
const COLD_RUNS: usize = 3;

/// Spawns the sidecar, sends `initialize`, and returns the time to its answer.
fn initialize(home: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut child =
        annal(home).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let request = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}});
    writeln!(stdin, "{request}")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let spent = started.elapsed();
    drop(stdin);
    let _ = child.wait();
    if !line.contains("\"result\"") {
        bail!("no initialize answer: {line}");
    }
    Ok(spent)
}

/// Stops whatever owner runs on `home` (a sidecar started it) and waits until it is gone.
fn stop_owner(home: &Path) -> anyhow::Result<()> {
    let lock = home.join("data/owner.lock");
    let Ok(text) = std::fs::read_to_string(&lock) else { return Ok(()) };
    let Some(pid) = text.lines().next().map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let _ = std::process::Command::new("kill").arg(pid).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Path::new("/proc").join(pid).exists() {
        if Instant::now() > deadline {
            bail!("the owner {pid} did not stop");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    println!("\nSpawn `annal` → `initialize` answered (ms):\n");
    println!("| memories | owner | p50 | p95 | runs |");
    println!("|---:|---|---:|---:|---:|");
    for total in [0, 100_000] {
        let home = home()?;
        if total > 0 {
            runtime.block_on(async {
                let store = Store::open(&home.path().join("data")).await?;
                let project = ProjectName::parse("big")?;
                fill(&store, &[project], total, &mut Xorshift(0x5747), &vocabulary()).await?;
                store.close().await?;
                anyhow::Ok(())
            })?;
        }
        let mut cold = Vec::new();
        for _ in 0..COLD_RUNS {
            stop_owner(home.path())?;
            cold.push(initialize(home.path())?);
        }
        stop_owner(home.path())?;
        let owner = Owner::start(home.path())?;
        // The owner answers once its socket is bound; give the first answer a chance first.
        initialize(home.path())?;
        let mut warm: Vec<Duration> =
            (0..WARM_RUNS).map(|_| initialize(home.path())).collect::<anyhow::Result<_>>()?;
        drop(owner);
        cold.sort();
        warm.sort();
        println!(
            "| {total} | running | {:.1} | {:.1} | {WARM_RUNS} |",
            quantile(&warm, 0.5),
            quantile(&warm, 0.95)
        );
        println!(
            "| {total} | none (the sidecar starts it) | {:.1} | {:.1} | {COLD_RUNS} |",
            quantile(&cold, 0.5),
            quantile(&cold, 0.95)
        );
    }
    Ok(())
}
