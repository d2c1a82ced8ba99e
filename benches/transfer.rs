//! Transfer benchmark, through the real `annal` binaries (release build): export of 100,000
//! memories (`annal export --out`: seconds, and the peak RSS of the owner serving it and of the
//! CLI writing the file), `annal status` against that owner, and the import of 10,000 memories
//! (`annal import`: memories/s) against raw batch embedding of the same texts in this process
//! (memories/s, and the ratio). Run with `cargo bench --bench transfer [-- --export-only |
//! --import-only]`; prints a table. The 100,000 memories are stored through the store with
//! seeded unit vectors (the export does not embed); the import embeds with the real model.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use annal::embed::{EmbedService, ModelSearch, Priority};
use annal::project::ProjectName;
use annal::store::Store;

mod common;
use common::owner::{Owner, annal, home};
use common::{Sentences as _, Xorshift, fill, model_dir, quantile, vocabulary};

const EXPORTED: usize = 100_000;
const IMPORTED: usize = 10_000;
const STATUS_RUNS: usize = 20;
const ROUNDS: usize = 2;

fn run(home: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = annal(home).args(args).stdout(Stdio::null()).output()?;
    if !out.status.success() {
        bail!("annal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// What only this bench asks of the owner: its memory.
trait Measured {
    fn reset_peak(&self) -> anyhow::Result<()>;
    fn memory(&self) -> anyhow::Result<(f64, f64)>;
}

impl Measured for Owner {
    /// Starts measuring the peak resident set afresh (Linux: `clear_refs` 5 resets `VmHWM`).
    fn reset_peak(&self) -> anyhow::Result<()> {
        Ok(std::fs::write(format!("/proc/{}/clear_refs", self.0.id()), "5")?)
    }

    /// `VmHWM` (peak resident set) and `VmRSS` in MiB, from /proc.
    fn memory(&self) -> anyhow::Result<(f64, f64)> {
        let hwm = mebibytes(self.0.id(), "VmHWM:").context("no VmHWM")?;
        Ok((hwm, mebibytes(self.0.id(), "VmRSS:").context("no VmRSS")?))
    }
}

/// A `/proc/<pid>/status` field in MiB (`None` once the process has exited).
fn mebibytes(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds (user + system, every thread) a process has used, from `/proc/<pid>/stat`
/// (in the ABI's fixed 100 ticks a second).
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Wall-clock and CPU seconds of one measured piece of work.
#[derive(Debug, Clone, Copy)]
struct Spent {
    wall: f64,
    cpu: f64,
}

/// Runs `annal args` to success: its seconds and its peak RSS in MiB (`VmHWM`, which only
/// grows, read every 5 ms until the process exits), and its CPU seconds (read likewise).
fn run_measured(home: &Path, args: &[&str]) -> anyhow::Result<(f64, f64, f64)> {
    let started = Instant::now();
    let mut child = annal(home).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let (mut peak, mut cpu) = (0.0_f64, 0.0_f64);
    let status = loop {
        if let Some(mib) = mebibytes(child.id(), "VmHWM:") {
            peak = peak.max(mib);
        }
        if let Some(secs) = cpu_secs(&child.id().to_string()) {
            cpu = cpu.max(secs);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let secs = started.elapsed().as_secs_f64();
    if !status.success() {
        let mut said = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut said)?;
        }
        bail!("annal {args:?}: {said}");
    }
    Ok((secs, peak, cpu))
}

/// Embedding `texts` as one bulk job in this process, the model loaded beforehand.
async fn raw_embedding(texts: &[String]) -> anyhow::Result<Spent> {
    let search = ModelSearch { env_dir: Some(model_dir()), ..Default::default() };
    let service = EmbedService::minilm(search);
    service.embed_one("warm up".into()).await?;
    let (started, cpu) = (Instant::now(), cpu_secs("self").context("no /proc/self/stat")?);
    service.embed(texts.to_vec(), Priority::Bulk).await?;
    let cpu = cpu_secs("self").context("no /proc/self/stat")? - cpu;
    Ok(Spent { wall: started.elapsed().as_secs_f64(), cpu })
}

/// `annal import` of `jsonl` into a fresh owner whose model is loaded; the CPU is the
/// owner's and the CLI's.
fn import(jsonl: &str) -> anyhow::Result<Spent> {
    let target = home()?;
    let file = target.path().join("import.jsonl");
    std::fs::write(&file, jsonl)?;
    let owner = Owner::start(target.path())?;
    run(target.path(), &["store", "--project", "warm", "--tags", "w", "warm up"])?;
    let owner_pid = owner.0.id().to_string();
    let before = cpu_secs(&owner_pid).context("no owner stat")?;
    let args = ["import", "--project", "bench", file.to_str().context("path")?];
    let (wall, _, cli_cpu) = run_measured(target.path(), &args)?;
    let owner_cpu = cpu_secs(&owner_pid).context("no owner stat")? - before;
    Ok(Spent { wall, cpu: owner_cpu + cli_cpu })
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let words = vocabulary();
    let mut rows: Vec<(String, String)> = Vec::new();
    let only = |part: &str| std::env::args().any(|arg| arg == format!("--{part}-only"));
    let (export_part, import_part) = (!only("import"), !only("export"));
    if export_part {
        export_and_status(&runtime, &words, &mut rows)?;
    }
    if import_part {
        import_against_raw(&runtime, &words, &mut rows)?;
    }
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    println!("\n{:width$}  result", "transfer");
    for (name, value) in rows {
        println!("{name:width$}  {value}");
    }
    Ok(())
}

/// Export of 100,000 memories, then `annal status` against the owner that holds them.
fn export_and_status(
    runtime: &tokio::runtime::Runtime,
    words: &[String],
    rows: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    let big = home()?;
    runtime.block_on(async {
        let store = Store::open(&big.path().join("data")).await?;
        let mut rng = Xorshift(0x5eed_7a45_f3e2);
        fill(&store, &[ProjectName::parse("big")?], EXPORTED, &mut rng, words).await?;
        store.close().await?;
        anyhow::Ok(())
    })?;
    let owner = Owner::start(big.path())?;
    owner.reset_peak()?;
    let (_, rss_before) = owner.memory()?;
    let out = big.path().join("big.jsonl");
    let export = ["export", "--project", "big", "--out", out.to_str().context("path")?];
    let (export_secs, cli_peak, _) = run_measured(big.path(), &export)?;
    let (owner_peak, _) = owner.memory()?;
    let lines = std::fs::read_to_string(&out)?.lines().count();
    if lines != EXPORTED {
        bail!("exported {lines} lines, not {EXPORTED}");
    }
    let size = std::fs::metadata(&out)?.len() as f64 / (1024.0 * 1024.0);
    rows.push((
        format!("export {EXPORTED} memories ({size:.0} MiB JSONL)"),
        format!("{export_secs:.2} s"),
    ));
    rows.push((
        "  owner RSS before / peak during the export".into(),
        format!("{rss_before:.0} / {owner_peak:.0} MiB"),
    ));
    rows.push(("  `annal export` CLI peak RSS (VmHWM)".into(), format!("{cli_peak:.1} MiB")));

    // Status against that owner (100,000 memories in one project).
    let mut times = Vec::with_capacity(STATUS_RUNS);
    for _ in 0..STATUS_RUNS {
        let started = Instant::now();
        run(big.path(), &["status"])?;
        times.push(started.elapsed());
    }
    times.sort();
    rows.push((
        "`annal status`, owner running (median / p95)".into(),
        format!("{:.1} / {:.1} ms", quantile(&times, 0.5), quantile(&times, 0.95)),
    ));
    drop(owner);
    Ok(())
}

fn import_against_raw(
    runtime: &tokio::runtime::Runtime,
    words: &[String],
    rows: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    // Import against raw batch embedding of the same texts, alternated so that both see the
    // same machine load; the best round of each counts.
    let mut rng = Xorshift(0x1a2b_3c4d_5e6f);
    let texts: Vec<String> = (0..IMPORTED).map(|_| rng.sentence(words)).collect();
    let mut jsonl = String::new();
    for (n, text) in texts.iter().enumerate() {
        let line = serde_json::json!({"id": format!("m{n}"), "text": text, "metadata": {"tags": ["bench"]}});
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    let (mut raw, mut imported) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw.push(runtime.block_on(raw_embedding(&texts))?);
        imported.push(import(&jsonl)?);
    }
    // The best round of each by wall clock; CPU seconds per memory do not depend on what else
    // the machine runs, so they say whether the import itself costs more than its embedding.
    let best = |spent: &[Spent]| {
        spent.iter().copied().fold(None, |best: Option<Spent>, s| {
            Some(best.filter(|b| b.wall <= s.wall).unwrap_or(s))
        })
    };
    let (raw, imported) = (best(&raw).context("no round")?, best(&imported).context("no round")?);
    let (raw_rate, import_rate) = (IMPORTED as f64 / raw.wall, IMPORTED as f64 / imported.wall);
    let per = |spent: Spent| spent.cpu * 1e3 / IMPORTED as f64;
    rows.push((
        format!("raw batch embedding, {IMPORTED} texts (best of {ROUNDS})"),
        format!(
            "{raw_rate:.1} /s, {:.1} ms CPU each, {:.2} cores busy",
            per(raw),
            raw.cpu / raw.wall
        ),
    ));
    rows.push((
        format!("`annal import` of {IMPORTED} memories (best of {ROUNDS})"),
        format!(
            "{import_rate:.1} /s, {:.1} ms CPU each, {:.2} cores busy",
            per(imported),
            imported.cpu / imported.wall
        ),
    ));
    rows.push((
        "  CPU per memory, raw / import".into(),
        format!("{:.3}", per(raw) / per(imported)),
    ));
    rows.push((
        "  import / raw throughput (goal >= 0.85)".into(),
        format!("{:.3}", import_rate / raw_rate),
    ));
    Ok(())
}
