//! Secret filter benchmark: what screening costs a store (the memories of the retrieval
//! evaluation, and a 28 KB paste), and what it costs indexing — the filter's time on every
//! chunk of 500 markdown files from the cargo registry (both passes a chunk gets: where it is
//! cut, and again as stored content) against the embedding of a sample of the same chunks in
//! the same run, as the ratio of indexing throughput with the filter to without.
//! Run with `cargo bench --bench secrets`; prints tables.

#![allow(clippy::print_stdout, reason = "the benchmark prints its tables")]

use std::path::{Path, PathBuf};
use std::time::Instant;

use annal::embed::{EmbedService, ModelSearch, Priority};
use annal::index::chunk::{FileKind, chunk_file};
use annal::memory::{NewMemory, Screen};
use annal::secrets::{self, Policy};
use serde::Deserialize;

#[allow(dead_code, reason = "the benchmarks' shared helpers; this one needs model_dir")]
mod common;
use common::model_dir;

const FILES: usize = 500;
const STORES: usize = 20;
const EMBED_SAMPLE: usize = 256;

#[derive(Deserialize)]
struct Eval {
    memories: Vec<String>,
}

/// Microseconds per screened store of `texts` under `policy`, best of `STORES` rounds.
fn per_store(texts: &[String], policy: Policy) -> anyhow::Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..STORES {
        let started = Instant::now();
        for text in texts {
            let mut screen = Screen::new(policy);
            NewMemory::screened_agent(text.as_str(), ["note"], "", &mut screen)?;
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / texts.len() as f64);
    }
    Ok(best)
}

/// The first `FILES` markdown files of the registry's sources, by path.
fn markdown_files() -> anyhow::Result<Vec<PathBuf>> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .ok_or_else(|| anyhow::anyhow!("no CARGO_HOME or HOME"))?;
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(home.join("registry/src"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "md"))
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.sort();
    files.truncate(FILES);
    anyhow::ensure!(files.len() == FILES, "only {} markdown files in the registry", files.len());
    Ok(files)
}

fn main() -> anyhow::Result<()> {
    let eval_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("engine/tests/data/eval.json");
    let eval: Eval = serde_json::from_str(&std::fs::read_to_string(eval_path)?)?;
    let paste: String = eval.memories.join("\n\n").chars().cycle().take(28 * 1024).collect();
    let paste = vec![paste];
    println!("\n| store | with the filter µs | without (allow) µs | filter µs |");
    println!("|---|---:|---:|---:|");
    for (name, texts) in [("evaluation memories (60)", &eval.memories), ("28 KB paste", &paste)] {
        let (with, without) = (per_store(texts, Policy::Redact)?, per_store(texts, Policy::Allow)?);
        println!("| {name} | {with:.1} | {without:.1} | {:.1} |", with - without);
    }

    let mut texts = Vec::new();
    let (mut bytes, mut filter_s) = (0, 0.0);
    let started = Instant::now();
    for path in markdown_files()? {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        bytes += text.len();
        let scan = Instant::now();
        std::hint::black_box(secrets::redact(&text));
        filter_s += scan.elapsed().as_secs_f64();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file.md").to_owned();
        for chunk in chunk_file(&name, FileKind::Markdown, &text) {
            let scan = Instant::now();
            std::hint::black_box(secrets::redact(&chunk.text));
            filter_s += scan.elapsed().as_secs_f64();
            texts.push(chunk.text);
        }
    }
    let read_and_chunk = started.elapsed().as_secs_f64();
    let chunks = texts.len();
    let embedder =
        EmbedService::minilm(ModelSearch { env_dir: Some(model_dir()), ..Default::default() });
    let sample: Vec<String> =
        texts.iter().step_by((chunks / EMBED_SAMPLE).max(1)).cloned().collect();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(embedder.embed(vec!["warm up".into()], Priority::Bulk))?;
    let embedding = Instant::now();
    let sampled = sample.len();
    runtime.block_on(embedder.embed(sample, Priority::Bulk))?;
    let embed_ms = embedding.elapsed().as_secs_f64() * 1e3 / sampled as f64;
    let filter_ms = filter_s * 1e3 / chunks as f64;
    println!(
        "\n| files | MB | chunks | filter ms (both passes) | filter µs/chunk | embedding ms/chunk \
         (sample of {sampled}) | indexing throughput with / without |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {FILES} | {:.1} | {chunks} | {:.0} | {:.1} | {embed_ms:.1} | {:.4} |",
        bytes as f64 / 1e6,
        filter_s * 1e3,
        filter_ms * 1e3,
        embed_ms / (embed_ms + filter_ms)
    );
    println!("\n(reading and chunking, filter included: {read_and_chunk:.2} s)");
    Ok(())
}
