//! Dashboard benchmark at 100,000 memories in one project: how long the owner takes to open
//! the pool, and how long the dashboard's queries take (overview, first page, a filtered page,
//! search). With `--browser`, it then serves that data with `annal serve` and times the first
//! page of the memories view rendered in headless Chromium (`ui/e2e/load.bench.mjs`).
//! Run with `cargo bench --bench dashboard [-- --browser]`; prints a table.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use annal::config::{ConfigFile, PathInputs};
use annal::dashboard::{Dashboard, ListParams, SearchParams};
use annal::embed::{EmbedService, ModelSearch};
use annal::owner_lock::{OwnerLock, Role};
use annal::pool::Pool;
use annal::project::ProjectName;
use annal::store::Store;

mod common;
use common::{Xorshift, fill, model_dir, quantile, vocabulary};

const MEMORIES: usize = 100_000;
const RUNS: usize = 20;

async fn timed<T, F: Future<Output = T>>(mut run: impl FnMut() -> F) -> (f64, f64) {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let _ = run().await;
        times.push(started.elapsed());
    }
    times.sort();
    (quantile(&times, 0.5), quantile(&times, 0.95))
}

fn main() -> anyhow::Result<()> {
    let browser = std::env::args().any(|a| a == "--browser");
    let home = tempfile::tempdir()?;
    std::fs::write(home.path().join("config.yaml"), "port: 0\n")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let started = Instant::now();
        let store = Store::open(&home.path().join("data")).await?;
        let mut rng = Xorshift(0x5eed_1234_abcd);
        fill(&store, &[ProjectName::parse("big")?], MEMORIES, &mut rng, &vocabulary()).await?;
        drop(store);
        let filled = started.elapsed();

        let paths =
            PathInputs { annal_home: Some(home.path().to_path_buf()), ..Default::default() }
                .resolve()?;
        let search = ModelSearch { env_dir: Some(model_dir()), ..Default::default() };
        let started = Instant::now();
        let config = ConfigFile::load(paths)?;
        let lock = OwnerLock::acquire(&config.snapshot().data_dir(config.paths()), Role::Headless)?;
        let pool: Arc<Pool> = Pool::open(config, EmbedService::minilm(search), lock).await?;
        let opened = started.elapsed();
        let dashboard = Dashboard::new(Arc::clone(&pool), std::path::PathBuf::from("annal"));
        let page = || ListParams { limit: Some(20), ..Default::default() };
        // Warm the model so the search rows time searches, not the model load.
        let query = SearchParams { query: "cache worker deploy".into(), ..Default::default() };
        dashboard.search("big", query.clone()).await?;

        println!("| {MEMORIES} memories in one project | ms |");
        println!("|---|---|");
        println!("| fill the store (1,000 per transaction) | {:.0} |", filled.as_secs_f64() * 1e3);
        println!("| open the pool (load the vector index) | {:.0} |", opened.as_secs_f64() * 1e3);
        let rows: [(&str, (f64, f64)); 4] = [
            ("overview (counts, stats, top tags) p50 / p95", timed(|| dashboard.projects()).await),
            ("first page of 20 p50 / p95", timed(|| dashboard.memories("big", page())).await),
            (
                "page 2,500 of 20, tag filter p50 / p95",
                timed(|| {
                    dashboard.memories(
                        "big",
                        ListParams { tag: Some("note".into()), offset: Some(49_980), ..page() },
                    )
                })
                .await,
            ),
            (
                "search, summary of 20 p50 / p95",
                timed(|| dashboard.search("big", query.clone())).await,
            ),
        ];
        for (what, (p50, p95)) in rows {
            println!("| {what} | {p50:.1} / {p95:.1} |");
        }
        pool.shutdown(Duration::from_secs(10)).await;
        anyhow::Ok(())
    })?;
    if browser {
        let status = std::process::Command::new("node")
            .arg("e2e/load.bench.mjs")
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/ui"))
            .env("ANNAL_HOME", home.path())
            .env(
                "ANNAL_BIN",
                std::env::var_os("ANNAL_BIN").unwrap_or_else(|| {
                    concat!(env!("CARGO_MANIFEST_DIR"), "/target/debug/annal").into()
                }),
            )
            .status()?;
        anyhow::ensure!(status.success(), "the browser measurement failed");
    }
    Ok(())
}
