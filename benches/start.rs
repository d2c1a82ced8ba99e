//! Start benchmark: an agent spawning `annal` (the stdio sidecar) until its MCP `initialize`
//! is answered — with an owner already running, and with none (the sidecar starts one), at 0
//! and 100,000 memories; with no owner, also until its first search is answered, against the
//! model's load time; and the idle owner's RSS. Run with `cargo bench --bench start`; prints
//! tables.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use annal::embed::MiniLm;
use annal::project::ProjectName;
use annal::store::Store;

mod common;
use common::owner::{Owner, annal, home};
use common::{Xorshift, fill, model_dir, quantile, vocabulary};

const WARM_RUNS: usize = 20;
const COLD_RUNS: usize = 9;

/// Spawns the sidecar, sends `initialize` and, with `search`, a search of `project`; returns
/// the times from the spawn to each answer.
fn session(home: &Path, search: Option<&str>) -> anyhow::Result<(Duration, Option<Duration>)> {
    let started = Instant::now();
    let mut child =
        annal(home).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
    let request = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}});
    writeln!(stdin, "{request}")?;
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    let initialized = started.elapsed();
    if !line.contains("\"result\"") {
        bail!("no initialize answer: {line}");
    }
    let searched = match search {
        None => None,
        Some(project) => {
            let note = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            let call = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "search_memories",
                    "arguments": {"project": project, "query": "how is the worker deployed?"}}});
            writeln!(stdin, "{note}\n{call}")?;
            line.clear();
            stdout.read_line(&mut line)?;
            if !line.contains("\"result\"") || line.contains("\"isError\":true") {
                bail!("no search answer: {line}");
            }
            Some(started.elapsed())
        }
    };
    drop(stdin);
    let _ = child.wait();
    Ok((initialized, searched))
}

fn initialize(home: &Path) -> anyhow::Result<Duration> {
    Ok(session(home, None)?.0)
}

/// Resident memory of process `pid`, MiB.
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .context("VmRSS")?
        .parse()?;
    Ok(kib / 1024.0)
}

/// Median of the `ms=` values the owners' log gave on lines saying `what`.
fn logged_ms(home: &Path, what: &str) -> Option<f64> {
    let log = std::fs::read_to_string(home.join("data").join(annal::sidecar::LOG_FILE)).ok()?;
    let mut values: Vec<f64> = log
        .lines()
        .filter(|line| line.contains(what))
        .filter_map(|line| line.split_whitespace().find_map(|w| w.strip_prefix("ms=")))
        .filter_map(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// Median time to load the model in this process.
fn model_load() -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..COLD_RUNS {
        let started = Instant::now();
        drop(MiniLm::load(&model_dir())?);
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
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
    let load = model_load()?;
    let mut start_rows = Vec::new();
    let mut search_rows = Vec::new();
    let mut rss_rows = Vec::new();
    for total in [0, 100_000] {
        let home = home()?;
        let project = ProjectName::parse("big")?;
        if total > 0 {
            runtime.block_on(async {
                let store = Store::open(&home.path().join("data")).await?;
                fill(
                    &store,
                    std::slice::from_ref(&project),
                    total,
                    &mut Xorshift(0x5747),
                    &vocabulary(),
                )
                .await?;
                store.close().await?;
                anyhow::Ok(())
            })?;
        }
        let mut cold = Vec::new();
        let mut first_search = Vec::new();
        for _ in 0..COLD_RUNS {
            stop_owner(home.path())?;
            cold.push(initialize(home.path())?);
            stop_owner(home.path())?;
            let (_, searched) = session(home.path(), Some(project.as_str()))?;
            first_search.push(searched.context("search time")?);
        }
        stop_owner(home.path())?;
        let owner = Owner::start(home.path())?;
        // The owner answers once its socket is bound; give the first answer a chance first.
        initialize(home.path())?;
        let mut warm: Vec<Duration> =
            (0..WARM_RUNS).map(|_| initialize(home.path())).collect::<anyhow::Result<_>>()?;
        // Idle: the model loaded (a search ran), the index in memory, nothing in flight.
        session(home.path(), Some(project.as_str()))?;
        rss_rows.push(format!("| {total} | {:.0} |", rss_mib(owner.0.id())?));
        drop(owner);
        cold.sort();
        warm.sort();
        first_search.sort();
        start_rows.push(format!(
            "| {total} | running | {:.1} | {:.1} | {WARM_RUNS} |",
            quantile(&warm, 0.5),
            quantile(&warm, 0.95)
        ));
        start_rows.push(format!(
            "| {total} | none (the sidecar starts it) | {:.1} | {:.1} | {COLD_RUNS} |",
            quantile(&cold, 0.5),
            quantile(&cold, 0.95)
        ));
        let median = first_search[first_search.len() / 2];
        let logged =
            |what| logged_ms(home.path(), what).map_or("–".into(), |ms| format!("{ms:.0}"));
        search_rows.push(format!(
            "| {total} | {:.1} | {:.1} | {:.1} | {:+.1} | {} | {} | {COLD_RUNS} |",
            median.as_secs_f64() * 1e3,
            quantile(&first_search, 0.95),
            load.as_secs_f64() * 1e3,
            (median.as_secs_f64() - load.as_secs_f64()) * 1e3,
            logged("model loaded"),
            logged("vector index loaded"),
        ));
    }
    println!("\nSpawn `annal` → `initialize` answered (ms):\n");
    println!("| memories | owner | p50 | p95 | runs |");
    println!("|---:|---|---:|---:|---:|");
    start_rows.iter().for_each(|row| println!("{row}"));
    println!(
        "\nNo owner running: spawn `annal` → first search answered, against loading the model (ms):\n"
    );
    println!(
        "| memories | p50 | p95 | model load | p50 − load | owner's model load | owner's index load | runs |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    search_rows.iter().for_each(|row| println!("{row}"));
    println!("\nIdle owner RSS after a search (MiB):\n");
    println!("| memories | RSS |");
    println!("|---:|---:|");
    rss_rows.iter().for_each(|row| println!("{row}"));
    Ok(())
}
