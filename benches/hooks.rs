//! Hook benchmark. `--eval`: the recall evaluation (engine/tests/data/hooks_eval.json) at a
//! sweep of injection bars — precision and recall of injection, negatives left quiet — and,
//! at the default bar with the brief, the tokens injected per session. `--latency`: `annal
//! hook` as the real process a client starts, from spawn to exit with its output, against a
//! running owner whose project holds 1,000 and 100,000 memories, for session start and for
//! prompt submit. Without a flag, both. Run with `cargo bench --bench hooks`.

#![allow(clippy::print_stdout, reason = "the benchmark prints its tables")]

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use annal::embed::{EmbedService, ModelSearch};
use annal::memory::NewMemory;
use annal::project::ProjectName;
use annal::store::{Store, StoreItem};

#[allow(dead_code, reason = "the benchmarks' shared helpers; this one leaves `fill` out")]
mod common;
use common::owner::{Owner, annal, home};
use common::{Sentences as _, Xorshift, model_dir, quantile, vocabulary};

#[path = "../engine/tests/common/hook_eval.rs"]
mod hook_eval;

const BARS: [f32; 9] = [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70];
const RUNS: usize = 60;
const PROJECT: &str = "payments-api";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let only = |flag: &str| args.iter().any(|a| a == flag);
    let (eval, latency) = match (only("--eval"), only("--latency")) {
        (false, false) => (true, true),
        flags => flags,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    if eval {
        runtime.block_on(evaluate())?;
    }
    if latency {
        latencies(&runtime)?;
    }
    Ok(())
}

async fn evaluate() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let pool = open_pool(home.path()).await?;
    let eval = hook_eval::load(Path::new(env!("CARGO_MANIFEST_DIR")));
    let ids = hook_eval::store_all(&pool, &eval).await;
    println!("\nPrompt recall alone (no brief), per injection bar (cosine):\n");
    println!(
        "| bar | injected | precision | recall | negatives quiet | hard negatives quiet | F0.5 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for bar in BARS {
        hook_eval::set_bar(&pool, bar).await;
        let o = hook_eval::replay(&pool, &eval, &ids, false, &format!("bar{bar}")).await;
        println!(
            "| {bar:.2} | {} | {:.3} | {:.3} ({}/{}) | {:.3} | {:.3} | {:.3} |",
            o.injected,
            o.precision(),
            o.recall(),
            o.served,
            o.positives,
            o.quiet_rate(),
            o.hard_quiet as f64 / o.hard_negatives.max(1) as f64,
            o.f_half()
        );
    }
    let default = annal::hooks::DEFAULT_MIN_SCORE;
    hook_eval::set_bar(&pool, default).await;
    let o = hook_eval::replay(&pool, &eval, &ids, true, "with-brief").await;
    let max = o.session_tokens.iter().max().copied().unwrap_or(0);
    println!(
        "\nAt the default bar {default:.2}, each session starting with its brief: precision \
         {:.3}, recall {:.3} (an expected memory in the brief counts as served), secrets \
         injected {}; estimated tokens injected per session over {} sessions: mean {:.0}, max \
         {max}.",
        o.precision(),
        o.recall(),
        o.secrets,
        o.session_tokens.len(),
        o.mean_session_tokens()
    );
    pool.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

async fn open_pool(home: &Path) -> anyhow::Result<std::sync::Arc<annal::pool::Pool>> {
    let paths =
        annal::config::PathInputs { annal_home: Some(home.to_path_buf()), ..Default::default() }
            .resolve()?;
    let config = annal::config::ConfigFile::load(paths)?;
    let data_dir = config.snapshot().data_dir(config.paths());
    let lock = annal::owner_lock::OwnerLock::acquire(&data_dir, annal::owner_lock::Role::Headless)?;
    let embedder =
        EmbedService::minilm(ModelSearch { env_dir: Some(model_dir()), ..Default::default() });
    Ok(annal::pool::Pool::open(config, embedder, lock).await?)
}

/// The evaluation's memories of [`PROJECT`] embedded for real, and generated ones (seeded unit
/// vectors, a fifth of them decisions, some preferences and pinned) up to `total`.
async fn fill(data_dir: &Path, total: usize) -> anyhow::Result<()> {
    let eval = hook_eval::load(Path::new(env!("CARGO_MANIFEST_DIR")));
    let store = Store::open(data_dir).await?;
    let project = ProjectName::parse(PROJECT)?;
    let embedder =
        EmbedService::minilm(ModelSearch { env_dir: Some(model_dir()), ..Default::default() });
    let real: Vec<_> = eval.memories.iter().filter(|m| m.project == PROJECT).collect();
    let texts: Vec<String> = real.iter().map(|m| m.content.clone()).collect();
    let vectors = embedder.embed(texts, annal::embed::Priority::Bulk).await?;
    let mut items = Vec::new();
    for (memory, vector) in real.iter().zip(vectors) {
        let new = NewMemory::agent(memory.content.clone(), memory.tags.clone(), "eval")?;
        items.push(StoreItem { memory: new, vector, supersedes: None });
    }
    store.insert(&project, items).await?;
    let (words, mut rng) = (vocabulary(), Xorshift(0x4007_5eed));
    let mut left = total.saturating_sub(real.len());
    while left > 0 {
        let n = left.min(1000);
        let mut items = Vec::with_capacity(n);
        for i in 0..n {
            let tag = match i % 50 {
                0 => "pinned",
                1..=10 => "decision",
                11..=15 => "preference",
                _ => "note",
            };
            let memory = NewMemory::agent(rng.sentence(&words), [tag, "bench"], "bench")?;
            items.push(StoreItem { memory, vector: rng.unit_vector(), supersedes: None });
        }
        store.insert(&project, items).await?;
        left -= n;
    }
    store.close().await?;
    Ok(())
}

/// One `annal hook` process, from spawn to exit: its wall time and its output.
fn hook_once(home: &Path, event: &str, input: &str) -> anyhow::Result<(Duration, String)> {
    let started = Instant::now();
    let mut child = annal(home)
        .args(["hook", event])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    let spent = started.elapsed();
    if !out.status.success() {
        bail!("annal hook {event} exited {}", out.status);
    }
    Ok((spent, String::from_utf8(out.stdout)?))
}

fn latencies(runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let eval = hook_eval::load(Path::new(env!("CARGO_MANIFEST_DIR")));
    let prompts: Vec<&str> = eval
        .sessions
        .iter()
        .filter(|s| s.project == PROJECT)
        .flat_map(|s| s.prompts.iter().map(|p| p.text.as_str()))
        .collect();
    println!("\n`annal hook` from spawn to exit, owner running ({RUNS} runs each):\n");
    println!("| memories | event | p50 ms | p95 ms | max ms | runs with output |");
    println!("|---:|---|---:|---:|---:|---:|");
    for total in [1_000, 100_000] {
        let home = home()?;
        runtime.block_on(fill(&home.path().join("data"), total))?;
        let _owner = Owner::start(home.path())?;
        let cwd = format!("/work/{PROJECT}");
        // The first call warms the owner (model, index, caches) as any earlier session would.
        hook_once(
            home.path(),
            "session-start",
            &format!(r#"{{"session_id":"warm","cwd":"{cwd}"}}"#),
        )?;
        for event in ["session-start", "prompt-submit"] {
            let mut times = Vec::with_capacity(RUNS);
            let mut with_output = 0;
            for run in 0..RUNS {
                let input = serde_json::json!({
                    "session_id": format!("bench-{run}"),
                    "cwd": cwd,
                    "hook_event_name": event,
                    "prompt": prompts[run % prompts.len()],
                })
                .to_string();
                let (spent, out) = hook_once(home.path(), event, &input)?;
                times.push(spent);
                with_output += usize::from(!out.is_empty());
            }
            times.sort();
            println!(
                "| {total} | {event} | {:.1} | {:.1} | {:.1} | {with_output}/{RUNS} |",
                quantile(&times, 0.5),
                quantile(&times, 0.95),
                quantile(&times, 1.0)
            );
        }
    }
    Ok(())
}
