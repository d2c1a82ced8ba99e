//! Search benchmarks: retrieval quality (recall@5, MRR) of hybrid vs vector-only vs BM25-only
//! on the fixed corpus in tests/data/eval.json, and search latency at 1k/10k/100k memories,
//! for one project and for `"*"` over ten, idle and while a writer inserts continuously.
//! Run with `cargo bench --bench search` (add `-- --eval-only` for the quality table alone);
//! prints tables.

#![allow(clippy::print_stdout, reason = "the benchmark prints its tables")]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use annal::embed::{EmbedService, ModelSearch};
use annal::events::EventBus;
use annal::memories::Memories;
use annal::memory::NewMemory;
use annal::project::ProjectName;
use annal::search::{Ranking, SearchRequest};
use annal::store::{Store, StoreItem};
use serde::Deserialize;

fn model_dir() -> PathBuf {
    std::env::var_os("ANNAL_MODEL_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models").join("all-MiniLM-L6-v2")
    })
}

#[derive(Deserialize)]
struct Eval {
    memories: Vec<String>,
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Query {
    query: String,
    expect: usize,
    #[serde(default)]
    identifier: bool,
}

struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit_vector(&mut self) -> Vec<f32> {
        let raw: Vec<f32> = (0..384).map(|_| (self.next() % 2000) as f32 / 1000.0 - 1.0).collect();
        let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
        raw.into_iter().map(|x| x / norm).collect()
    }

    fn sentence(&mut self, words: &[String]) -> String {
        (0..12)
            .map(|_| words[(self.next() % words.len() as u64) as usize].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn vocabulary() -> Vec<String> {
    let stems = [
        "cache", "index", "query", "token", "worker", "deploy", "schema", "render", "queue",
        "socket", "bundle", "tenant", "invoice", "session", "router", "parser", "config", "thread",
        "buffer", "metric",
    ];
    let suffixes = ["", "s", "ing", "ed", "er", "able", "ion", "ly", "ness", "ful"];
    let mut words = Vec::new();
    for (i, stem) in stems.iter().enumerate() {
        for (j, suffix) in suffixes.iter().enumerate() {
            for k in 0..10 {
                words.push(format!("{stem}{suffix}{}", (i * 100 + j * 10 + k) % 97));
            }
        }
    }
    words
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[at].as_secs_f64() * 1e3
}

async fn evaluate(memories: &Memories, eval: &Eval) -> anyhow::Result<()> {
    let mut ids = Vec::new();
    for text in &eval.memories {
        match memories.remember("eval", text.clone(), vec!["eval".into()], None, None).await? {
            annal::store::StoreOutcome::Stored { id, .. } => ids.push(id),
            other => anyhow::bail!("corpus memory not stored: {other:?}"),
        }
    }
    println!(
        "\n| ranking | recall@5 (all) | MRR (all) | recall@5 (identifiers) | MRR (identifiers) |"
    );
    println!("|---|---:|---:|---:|---:|");
    let mut rankings = vec![("hybrid (default)".to_string(), Ranking::Hybrid)];
    for keyword_weight in [0.25, 0.5, 1.0] {
        rankings.push((
            format!("RRF, keyword weight {keyword_weight}"),
            Ranking::Rrf { keyword_weight },
        ));
    }
    for keyword_weight in [0.1, 0.2, 0.3, 0.5] {
        rankings.push((
            format!("blend, keyword weight {keyword_weight}"),
            Ranking::Blend { keyword_weight },
        ));
    }
    rankings.push(("vector only".to_string(), Ranking::VectorOnly));
    rankings.push(("BM25 only".to_string(), Ranking::KeywordOnly));
    for (name, ranking) in rankings {
        let (mut hits, mut rr, mut id_hits, mut id_rr, mut id_count) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for query in &eval.queries {
            let mut request = SearchRequest::new("eval", query.query.clone());
            request.ranking = ranking;
            request.min_score = -1.0;
            let results = memories.search(request).await?;
            let rank = results.hits.iter().position(|h| h.memory.id == ids[query.expect]);
            let (hit, reciprocal) = match rank {
                Some(r) => (1.0, 1.0 / (r as f64 + 1.0)),
                None => (0.0, 0.0),
            };
            hits += hit;
            rr += reciprocal;
            if std::env::var_os("ANNAL_EVAL_VERBOSE").is_some() && reciprocal < 1.0 {
                println!("  {name}: {:?} ranked {:?}", query.query, rank.map(|r| r + 1));
            }
            if query.identifier {
                id_hits += hit;
                id_rr += reciprocal;
                id_count += 1.0;
            }
        }
        let n = eval.queries.len() as f64;
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} |",
            hits / n,
            rr / n,
            id_hits / id_count,
            id_rr / id_count
        );
    }
    Ok(())
}

async fn fill(
    store: &Store,
    projects: &[ProjectName],
    total: usize,
    rng: &mut Xorshift,
    words: &[String],
) -> anyhow::Result<()> {
    let per_project = total / projects.len();
    for project in projects {
        let mut left = per_project;
        while left > 0 {
            let n = left.min(1000);
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let memory = NewMemory::agent(rng.sentence(words), ["bench", "note"], "bench")?;
                items.push(StoreItem { memory, vector: rng.unit_vector(), supersedes: None });
            }
            store.insert(project, items).await?;
            left -= n;
        }
    }
    Ok(())
}

async fn latencies(
    memories: &Memories,
    project: &str,
    all: bool,
    queries: &[String],
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(queries.len());
    for query in queries {
        let mut request = SearchRequest::new(project, query.clone());
        request.limit = 10;
        if all {
            request.projects = Some(vec!["*".into()]);
        }
        let started = Instant::now();
        memories.search(request).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times)
}

fn main() -> anyhow::Result<()> {
    let eval_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval.json");
    let eval: Eval = serde_json::from_str(&std::fs::read_to_string(eval_path)?)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let embedder =
            EmbedService::minilm(ModelSearch { env_dir: Some(model_dir()), ..Default::default() });
        let dir = tempfile::tempdir()?;
        let memories = {
            let store = Store::open(dir.path()).await?;
            Memories::new(store.clone(), embedder.clone(), EventBus::open(store).await?)
        };
        evaluate(&memories, &eval).await?;
        if std::env::args().any(|arg| arg == "--eval-only") {
            return Ok(());
        }

        let words = vocabulary();
        let queries: Vec<String> = eval.queries.iter().map(|q| q.query.clone()).collect();
        println!("\n| memories | scope | p50 ms | p95 ms |");
        println!("|---:|---|---:|---:|");
        let mut rng = Xorshift(0x2545_F491_4F6C_DD1D);
        let mut idle_p95_100k = 0.0;
        let mut big: Option<(tempfile::TempDir, Memories)> = None;
        for total in [1_000, 10_000, 100_000] {
            for ten in [false, true] {
                let dir = tempfile::tempdir()?;
                let store = Store::open(dir.path()).await?;
                let projects: Vec<ProjectName> = if ten {
                    (0..10)
                        .map(|i| ProjectName::parse(&format!("p{i}")))
                        .collect::<Result<_, _>>()?
                } else {
                    vec![ProjectName::parse("p0")?]
                };
                fill(&store, &projects, total, &mut rng, &words).await?;
                let memories =
                    Memories::new(store.clone(), embedder.clone(), EventBus::open(store).await?);
                latencies(&memories, "p0", ten, &queries[..4]).await?; // warm up
                let times = latencies(&memories, "p0", ten, &queries).await?;
                let scope = if ten { "\"*\" over 10 projects" } else { "one project" };
                println!(
                    "| {total} | {scope} | {:.1} | {:.1} |",
                    quantile(&times, 0.5),
                    quantile(&times, 0.95)
                );
                if total == 100_000 && !ten {
                    idle_p95_100k = quantile(&times, 0.95);
                    big = Some((dir, memories));
                }
            }
        }

        let Some((_dir, memories)) = big else { anyhow::bail!("no 100k store") };
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (store, stop, written, words) =
                (memories.store().clone(), Arc::clone(&stop), Arc::clone(&written), words.clone());
            tokio::spawn(async move {
                let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
                let project = ProjectName::parse("p0")?;
                while !stop.load(Ordering::Relaxed) {
                    let items = (0..20)
                        .map(|_| {
                            let memory =
                                NewMemory::agent(rng.sentence(&words), ["bench"], "writer")?;
                            Ok(StoreItem { memory, vector: rng.unit_vector(), supersedes: None })
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    store.insert(&project, items).await?;
                    written.fetch_add(20, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        };
        let started = Instant::now();
        let busy = latencies(&memories, "p0", false, &queries).await?;
        stop.store(true, Ordering::Relaxed);
        writer.await??;
        let rate = written.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!("\n| 100k memories, one project | p50 ms | p95 ms |\n|---|---:|---:|");
        println!("| idle | - | {idle_p95_100k:.1} |");
        println!(
            "| while a writer inserts ({rate:.0} memories/s) | {:.1} | {:.1} |",
            quantile(&busy, 0.5),
            quantile(&busy, 0.95)
        );
        println!("\nratio p95 busy / idle: {:.2}", quantile(&busy, 0.95) / idle_p95_100k);
        anyhow::Ok(())
    })
}
