//! Transfer benchmark, through the real `annal` binaries (release build): export of 100,000
//! memories (`annal export --out`: seconds, and the peak RSS of the owner serving it and of the
//! CLI writing the file), `annal status` against that owner, and the import of 10,000 memories
//! (`annal import`: memories/s) against raw batch embedding of the same texts in this process
//! (memories/s, and the ratio). Run with `cargo bench --bench transfer`; prints a table.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use annal::embed::{EmbedService, ModelSearch, Priority};
use annal::project::ProjectName;
use annal::store::Store;

mod common;
use common::{Sentences as _, Xorshift, fill, model_dir, quantile, vocabulary};

const EXPORTED: usize = 100_000;
const IMPORTED: usize = 10_000;
const STATUS_RUNS: usize = 20;

fn annal(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_annal"));
    command
        .env("ANNAL_HOME", home)
        .env("HOME", home)
        .env("ANNAL_MODEL_DIR", model_dir())
        .env_remove("ANNAL_CONFIG")
        .stdin(Stdio::null());
    command
}

fn run(home: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = annal(home).args(args).stdout(Stdio::null()).output()?;
    if !out.status.success() {
        bail!("annal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// `annal serve` on `home`, answering HTTP; stopped on drop.
struct Owner(Child);

impl Owner {
    fn start(home: &Path) -> anyhow::Result<Self> {
        let child = annal(home).arg("serve").stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        let owner = Self(child);
        let address = home.join("data").join(annal::http::ADDRESS_FILE);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !address.exists() {
            if Instant::now() > deadline {
                bail!("the owner did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(owner)
    }

    /// `VmHWM` (peak resident set) and `VmRSS` in MiB, from /proc.
    fn memory(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = status.lines().find(|l| l.starts_with(name)).context("no such field")?;
            let kib: f64 = line.split_whitespace().nth(1).context("no value")?.parse()?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn home() -> anyhow::Result<tempfile::TempDir> {
    let home = tempfile::tempdir()?;
    std::fs::write(home.path().join("config.yaml"), "port: 0\n")?;
    Ok(home)
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let words = vocabulary();
    let mut rows: Vec<(String, String)> = Vec::new();

    // Export (first: the CLI is then the only child waited for, so RUSAGE_CHILDREN is its own).
    let big = home()?;
    runtime.block_on(async {
        let store = Store::open(&big.path().join("data")).await?;
        let mut rng = Xorshift(0x5eed_7a45_f3e2);
        fill(&store, &[ProjectName::parse("big")?], EXPORTED, &mut rng, &words).await?;
        store.close().await?;
        anyhow::Ok(())
    })?;
    let owner = Owner::start(big.path())?;
    let (_, rss_before) = owner.memory()?;
    let out = big.path().join("big.jsonl");
    let started = Instant::now();
    run(big.path(), &["export", "--project", "big", "--out", out.to_str().context("path")?])?;
    let export_secs = started.elapsed().as_secs_f64();
    let (owner_peak, _) = owner.memory()?;
    let cli_peak = rustix::process::getrusage(rustix::process::RUsageWho::Children).ru_maxrss;
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
        "  owner RSS before / peak (VmHWM, whole life)".into(),
        format!("{rss_before:.0} / {owner_peak:.0} MiB"),
    ));
    rows.push((
        "  `annal export` CLI peak RSS (ru_maxrss)".into(),
        format!("{:.1} MiB", cli_peak as f64 / 1024.0),
    ));

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

    // Import against raw batch embedding of the same texts.
    let mut rng = Xorshift(0x1a2b_3c4d_5e6f);
    let texts: Vec<String> = (0..IMPORTED).map(|_| rng.sentence(&words)).collect();
    let search = ModelSearch { env_dir: Some(model_dir()), ..Default::default() };
    let raw_secs = runtime.block_on(async {
        let service = EmbedService::minilm(search);
        service.embed_one("warm up".into()).await?;
        let started = Instant::now();
        service.embed(texts.clone(), Priority::Bulk).await?;
        anyhow::Ok(started.elapsed().as_secs_f64())
    })?;
    let target = home()?;
    let file = target.path().join("import.jsonl");
    let mut jsonl = String::new();
    for (n, text) in texts.iter().enumerate() {
        let line = serde_json::json!({"id": format!("m{n}"), "text": text, "metadata": {"tags": ["bench"]}});
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    std::fs::write(&file, jsonl)?;
    let _owner = Owner::start(target.path())?;
    // The model loads on the owner's first embedding: not part of the import.
    run(target.path(), &["store", "--project", "warm", "--tags", "w", "warm up"])?;
    let started = Instant::now();
    run(target.path(), &["import", "--project", "bench", file.to_str().context("path")?])?;
    let import_secs = started.elapsed().as_secs_f64();
    let (raw_rate, import_rate) = (IMPORTED as f64 / raw_secs, IMPORTED as f64 / import_secs);
    rows.push((format!("raw batch embedding, {IMPORTED} texts"), format!("{raw_rate:.0} /s")));
    rows.push((format!("`annal import` of {IMPORTED} memories"), format!("{import_rate:.0} /s")));
    rows.push(("  import / raw (goal >= 0.85)".into(), format!("{:.2}", import_rate / raw_rate)));

    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    println!("\n{:width$}  result", "transfer");
    for (name, value) in rows {
        println!("{name:width$}  {value}");
    }
    Ok(())
}
