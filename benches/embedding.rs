//! Embedding scheduling benchmark: for several slice budgets (tokens per pass),
//! the throughput of bulk embedding (long texts, and real memories of mixed length) and how
//! long a single interactive embedding (a search query) waits while another job runs — a
//! bulk job (an indexing run) or an interactive one (another session's `store_batch`) of 100
//! texts of 28 KB. Then, at the default budget, whole searches (`search_memories` over 1,120
//! memories: embedding, both legs, fusion, loading) idle, during an indexing-like bulk job and
//! during another session's `store_batch` of 100 × 28 KB. Run with `cargo bench --bench
//! embedding`; prints tables.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::time::Instant;

use annal::embed::{EmbedService, ModelSearch, Priority, SLICE_TOKENS};
use annal::events::EventBus;
use annal::memories::{BatchItem, Memories};
use annal::search::SearchRequest;
use annal::store::Store;

// The allocator the `annal` binary uses, so the numbers are the owner's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(dead_code, reason = "the benchmarks' shared helpers; this one needs fill")]
mod common;
use common::{model_dir, quantile};

const BUDGETS: [usize; 4] = [256, 512, 1024, 2048];
/// all-MiniLM-L6-v2: 6 layers, hidden 384, feed-forward 1,536.
const LAYERS: f64 = 6.0;
const HIDDEN: f64 = 384.0;
const FFN: f64 = 1536.0;

/// Multiply-adds counted as two FLOPs, per token of a `seq`-token input: the Q, K, V and
/// output projections and the feed-forward pair, plus attention's scores and weighted sum.
fn flops_per_token(seq: f64) -> f64 {
    let dense = 2.0 * (4.0 * HIDDEN * HIDDEN + 2.0 * HIDDEN * FFN);
    let attention = 2.0 * 2.0 * seq * HIDDEN;
    LAYERS * (dense + attention)
}

/// Two cores, 2.6 GHz, two 16-wide f32 FMA units each (AVX-512, which the encoder's gemm
/// kernels use here; a CPU with one FMA unit per core has half this).
const PEAK_GFLOPS: f64 = 2.0 * 2.6 * 2.0 * 16.0 * 2.0;
const QUERIES: usize = 20;

fn long_texts(n: usize) -> Vec<String> {
    let sentence = "The indexer walks every watch path, skips unchanged files by modification \
                    time and size, splits markdown into heading sections and embeds each one. ";
    (0..n).map(|i| format!("Memory {i}. {}", sentence.repeat(28_000 / sentence.len()))).collect()
}

fn mixed_texts() -> anyhow::Result<Vec<String>> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/tests/data/hooks_eval.json");
    let eval: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let memories = eval["memories"].as_array().map(Vec::as_slice).unwrap_or_default();
    Ok(memories.iter().filter_map(|m| m["content"].as_str().map(str::to_owned)).collect())
}

/// p50 and p95 (ms) of `QUERIES` sequential single embeddings, optionally while `background`
/// (one job of these texts at this priority) runs; and the background job's seconds.
async fn queries_during(
    service: &EmbedService,
    background: Option<(Vec<String>, Priority)>,
) -> anyhow::Result<(f64, f64, Option<f64>)> {
    let job = background.map(|(texts, priority)| {
        let service = service.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            service.embed(texts, priority).await.map(|_| started.elapsed())
        })
    });
    // Let the background job reach the embedding thread first.
    tokio::task::yield_now().await;
    let mut times = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES {
        let started = Instant::now();
        service.embed_one(format!("how do we deploy the service {i}?")).await?;
        times.push(started.elapsed());
    }
    let background = match job {
        Some(job) => Some(job.await??.as_secs_f64()),
        None => None,
    };
    times.sort();
    Ok((quantile(&times, 0.5), quantile(&times, 0.95), background))
}

/// p50 and p95 (ms) of `QUERIES` sequential searches, while `background` runs.
async fn searches_during(
    memories: &Memories,
    background: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
) -> anyhow::Result<(f64, f64)> {
    tokio::task::yield_now().await;
    let mut times = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES {
        let started = Instant::now();
        memories
            .search(SearchRequest::new("bench", format!("how do we deploy the worker {i}?")))
            .await?;
        times.push(started.elapsed());
    }
    if let Some(job) = background {
        job.await??;
    }
    times.sort();
    Ok((quantile(&times, 0.5), quantile(&times, 0.95)))
}

async fn whole_searches() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path()).await?;
    let events = EventBus::open(store.clone()).await?;
    let search = ModelSearch { env_dir: Some(model_dir()), ..Default::default() };
    let memories = Memories::new(store, EmbedService::minilm(search), events);
    // The real memories embedded, and 1,000 generated ones (seeded vectors) beside them.
    for chunk in mixed_texts()?.chunks(100) {
        let items = chunk
            .iter()
            .map(|t| BatchItem {
                content: Some(t.clone()),
                tags: Some(vec!["bench".into()]),
                ..Default::default()
            })
            .collect();
        memories.remember_batch("bench", items).await?;
    }
    let project = annal::project::ProjectName::parse("bench")?;
    common::fill(
        memories.store(),
        &[project],
        1000,
        &mut common::Xorshift(7),
        &common::vocabulary(),
    )
    .await?;
    let (idle50, idle95) = searches_during(&memories, None).await?;
    let bulk = {
        let embedder = memories.embedder().clone();
        tokio::spawn(async move {
            embedder
                .embed_windows(long_texts(100), Priority::Bulk)
                .await
                .map(drop)
                .map_err(Into::into)
        })
    };
    let (bulk50, bulk95) = searches_during(&memories, Some(bulk)).await?;
    let batch = {
        let memories = memories.clone();
        tokio::spawn(async move {
            let items = long_texts(100)
                .into_iter()
                .enumerate()
                .map(|(i, t)| BatchItem {
                    content: Some(format!("batch {i} {t}")),
                    tags: Some(vec!["big".into()]),
                    ..Default::default()
                })
                .collect();
            memories.remember_batch("other", items).await.map(drop).map_err(Into::into)
        })
    };
    let (batch50, batch95) = searches_during(&memories, Some(batch)).await?;
    println!("\nWhole searches over 1,120 memories ({QUERIES} sequential, ms):\n");
    println!("| while | p50 | p95 | p95 / idle p95 |");
    println!("|---|---:|---:|---:|");
    println!("| idle | {idle50:.1} | {idle95:.1} | 1.0 |");
    println!(
        "| a bulk job of 100 × 28 KB (an index run) | {bulk50:.1} | {bulk95:.1} | {:.1} |",
        bulk95 / idle95
    );
    println!(
        "| another session's store_batch of 100 × 28 KB | {batch50:.1} | {batch95:.1} | {:.1} |",
        batch95 / idle95
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mixed = mixed_texts()?;
        println!("\nSlice budget sweep (default {SLICE_TOKENS} tokens a pass):\n");
        println!(
            "| budget | long texts/s | mixed memories/s | query idle p50/p95 ms | during bulk p50/p95 | during a store_batch p50/p95 | that batch s |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        let mut best_long = 0.0_f64;
        for budget in BUDGETS {
            let search = ModelSearch { env_dir: Some(model_dir()), ..Default::default() };
            let service = EmbedService::minilm_sliced(search, budget);
            service.embed_one("warm up".into()).await?;
            let long = long_texts(64);
            let started = Instant::now();
            service.embed(long.clone(), Priority::Bulk).await?;
            let long_rate = long.len() as f64 / started.elapsed().as_secs_f64();
            best_long = best_long.max(long_rate);
            let started = Instant::now();
            service.embed(mixed.clone(), Priority::Bulk).await?;
            let mixed_rate = mixed.len() as f64 / started.elapsed().as_secs_f64();
            let (idle50, idle95, _) = queries_during(&service, None).await?;
            let bulk = Some((long_texts(100), Priority::Bulk));
            let (bulk50, bulk95, _) = queries_during(&service, bulk).await?;
            let batch = Some((long_texts(100), Priority::Interactive));
            let (batch50, batch95, batch_secs) = queries_during(&service, batch).await?;
            println!(
                "| {budget} | {long_rate:.1} | {mixed_rate:.1} | {idle50:.1} / {idle95:.1} | {bulk50:.1} / {bulk95:.1} | {batch50:.1} / {batch95:.1} | {:.1} |",
                batch_secs.unwrap_or_default()
            );
        }
        // Each long text fills the 256-token window.
        let gflops = best_long * 256.0 * flops_per_token(256.0) / 1e9;
        println!(
            "\nModel cost: {:.1} MFLOP a token at 256 tokens ({:.1} at 32). Best long-text rate \
             {best_long:.1}/s = {gflops:.1} GFLOP/s, {:.0}% of this CPU's {PEAK_GFLOPS:.0} GFLOP/s \
             two-core AVX-512 FMA peak.",
            flops_per_token(256.0) / 1e6,
            flops_per_token(32.0) / 1e6,
            100.0 * gflops / PEAK_GFLOPS
        );
        whole_searches().await?;
        anyhow::Ok(())
    })
}
