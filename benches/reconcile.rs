//! Reconcile benchmark: an unchanged reconcile of a generated 50,000-file tree against a bare
//! walk and stat of the same tree, in the same run (the reconcile skips unchanged files by
//! modification time and size without reading them, so it should cost little more than the
//! walk). 1% of the files hold a section (embedded once, in the cold run); the rest are blank
//! markdown, which makes no chunk but is recorded like any file. Run with `cargo bench --bench
//! reconcile`; prints a table.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::path::Path;
use std::time::{Duration, Instant};

use annal::code_links::{self, Roots, Scope};
use annal::config::ProjectConfig;
use annal::embed::{EmbedService, ModelSearch};
use annal::events::EventBus;
use annal::index::reconcile;
use annal::index::reconcile::{Matcher, walk};
use annal::memory::NewMemory;
use annal::project::ProjectName;
use annal::store::{Store, StoreItem};

#[allow(dead_code, reason = "the benchmarks' shared helpers; this one needs model_dir")]
mod common;
use common::{Xorshift, model_dir};

const DIRS: usize = 500;
const PER_DIR: usize = 100;
const RUNS: usize = 5;

fn generate(root: &Path) -> anyhow::Result<()> {
    for d in 0..DIRS {
        let dir = root.join(format!("area-{d:03}/docs"));
        std::fs::create_dir_all(&dir)?;
        for f in 0..PER_DIR {
            let text = if f == 0 {
                format!("# Area {d}\n\nHow area {d} is deployed and who owns it.\n")
            } else {
                "\n".repeat(1 + f % 7)
            };
            std::fs::write(dir.join(format!("note-{f:03}.md")), text)?;
        }
    }
    Ok(())
}

/// Walks the tree and stats every file, as a reconcile must at the least.
fn bare_walk(root: &Path) -> usize {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| e.metadata().is_ok_and(|m| m.len() < u64::MAX))
        .count()
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

/// Memories that name files of the tree, each two of them.
const LINKED: usize = 2_000;

struct Linking {
    files: usize,
    /// Median of an unchanged reconcile followed by the review of every linked file.
    with: f64,
    /// Median of the review alone.
    alone: f64,
}

/// Stores memories linked to files of the tree, then times unchanged reconciles with the link
/// check that follows each (as the pool runs them) and the check alone; nothing may be marked.
async fn link_check(
    store: &Store,
    embedder: &EmbedService,
    project: &ProjectName,
    config: &ProjectConfig,
) -> anyhow::Result<Linking> {
    let roots = Roots::of(config)?;
    let mut items = Vec::with_capacity(LINKED);
    for i in 0..LINKED {
        let (a, b) = (i % DIRS, (i * 7 + 3) % DIRS);
        let text = format!(
            "Area {a} is deployed from area-{a:03}/docs/note-{:03}.md; its owners are listed in \
             area-{b:03}/docs/note-{:03}.md:4.",
            i % PER_DIR,
            (i / DIRS) % PER_DIR
        );
        let mut memory = NewMemory::agent(text.as_str(), ["decision"], "")?;
        memory.links = code_links::find(&text, &roots);
        anyhow::ensure!(memory.links.len() == 2, "{text}: {:?}", memory.links);
        items.push(StoreItem {
            memory,
            vector: Xorshift::seeded(i as u64).unit_vector(),
            supersedes: None,
        });
    }
    store.insert(project, items).await?;
    let files = store.linked_files(project, None).await?.len();
    let events = EventBus::open(store.clone()).await?;
    let (mut with, mut alone) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        reconcile(store, embedder, project, config, &|_| {}).await?;
        let marked = code_links::review(store, &events, project, Scope::All).await?;
        with.push(started.elapsed());
        anyhow::ensure!(marked == 0, "{marked} memories marked in an unchanged tree");
        let started = Instant::now();
        code_links::review(store, &events, project, Scope::All).await?;
        alone.push(started.elapsed());
    }
    Ok(Linking { files, with: median(with), alone: median(alone) })
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let root = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    generate(root.path())?;
    runtime.block_on(async {
        let store = Store::open(data.path()).await?;
        let embedder =
            EmbedService::minilm(ModelSearch { env_dir: Some(model_dir()), ..Default::default() });
        let project = ProjectName::parse("big-tree")?;
        let config =
            ProjectConfig { watch_paths: vec![root.path().to_path_buf()], ..ProjectConfig::default() };
        let started = Instant::now();
        let cold = reconcile(&store, &embedder, &project, &config, &|_| {}).await?;
        let cold_secs = started.elapsed().as_secs_f64();
        let mut unchanged = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let report = reconcile(&store, &embedder, &project, &config, &|_| {}).await?;
            unchanged.push(started.elapsed());
            anyhow::ensure!(report.files_unchanged == DIRS * PER_DIR, "{report:?}");
        }
        let mut walks = Vec::new();
        for _ in 0..RUNS {
            let root = root.path().to_path_buf();
            let started = Instant::now();
            let files = tokio::task::spawn_blocking(move || bare_walk(&root)).await?;
            walks.push(started.elapsed());
            anyhow::ensure!(files == DIRS * PER_DIR, "walked {files}");
        }
        // Where the difference goes: reconcile's own walk (globs, symlinks followed, stat) and
        // reading what the store knows of the files.
        let mut own_walks = Vec::new();
        let mut known = Vec::new();
        for _ in 0..RUNS {
            let (config, matcher) = (config.clone(), Matcher::new(&config)?);
            let started = Instant::now();
            tokio::task::spawn_blocking(move || walk(&config, &matcher)).await??;
            own_walks.push(started.elapsed());
            let started = Instant::now();
            store.indexed_files(&project).await?;
            known.push(started.elapsed());
        }
        let (reconciled, walked) = (median(unchanged.clone()), median(walks));
        let linking = link_check(&store, &embedder, &project, &config).await?;
        // The store's records are read during the walk, so they overlap it: what the reconcile
        // adds beyond its walk is the part of that read that did not, plus comparing.
        println!(
            "\nOf the unchanged reconcile: its walk with the globs {:.0} ms; the store's file \
             records take {:.0} ms on their own, read during the walk; beyond the walk \
             {:.0} ms.",
            median(own_walks.clone()),
            median(known),
            reconciled - median(own_walks)
        );
        println!("\n| files | cold reconcile | chunks embedded | unchanged reconcile (median of {RUNS}) | bare walk + stat | ratio |");
        println!("|---:|---:|---:|---:|---:|---:|");
        println!(
            "| {} | {cold_secs:.1} s | {} | {reconciled:.0} ms | {walked:.0} ms | {:.2} |",
            DIRS * PER_DIR,
            cold.chunks_embedded,
            reconciled / walked
        );
        println!(
            "\n| code links | unchanged reconcile | + link check of every linked file | link \
             check alone | ratio |"
        );
        println!("|---|---:|---:|---:|---:|");
        println!(
            "| {LINKED} memories → {} files | {reconciled:.1} ms | {:.1} ms | {:.2} ms | {:.2} |",
            linking.files,
            linking.with,
            linking.alone,
            linking.with / reconciled
        );
        store.close().await?;
        anyhow::Ok(())
    })
}
