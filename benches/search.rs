//! Search benchmarks: retrieval quality (recall@5, MRR) of hybrid vs vector-only vs BM25-only
//! on the fixed corpus in engine/tests/data/eval.json, and search latency at 1k/10k/100k memories,
//! for one project and for `"*"` over ten, idle and while a writer inserts continuously.
//! Run with `cargo bench --bench search` (add `-- --eval-only` for the quality table alone);
//! prints tables.

#![allow(clippy::print_stdout, reason = "the benchmark prints its tables")]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use annal::embed::{EmbedService, ModelSearch};
use annal::events::EventBus;
use annal::memories::Memories;
use annal::memory::NewMemory;
use annal::project::ProjectName;
use annal::search::{FusionRules, Ranking, SearchRequest};
use annal::store::{Store, StoreItem};
use serde::Deserialize;

mod common;
use common::{Sentences as _, Xorshift, fill, model_dir, quantile, vocabulary};

#[path = "../engine/tests/common/large_eval.rs"]
mod large_eval;
use large_eval::{LargeMemory, LargeQuery};

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

/// Adaptive fusion candidates: (keyword weight at full strength, BM25 relevance it is reached at).
const ADAPTIVE: [(f32, f32); 9] = [
    (0.3, 6.0),
    (0.3, 12.0),
    (0.3, 24.0),
    (0.5, 6.0),
    (0.5, 12.0),
    (0.5, 24.0),
    (1.0, 12.0),
    (1.0, 24.0),
    (1.0, 48.0),
];

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
    for (max_weight, full_at) in ADAPTIVE {
        rankings.push((
            format!("adaptive {max_weight} at {full_at}"),
            Ranking::Adaptive { max_weight, full_at },
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

async fn latencies(
    memories: &Memories,
    project: &str,
    all: bool,
    queries: &[String],
) -> anyhow::Result<Vec<Duration>> {
    latencies_with(memories, project, all, queries, |_| {}).await
}

async fn latencies_with(
    memories: &Memories,
    project: &str,
    all: bool,
    queries: &[String],
    adjust: impl Fn(&mut SearchRequest),
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(queries.len());
    for query in queries {
        let mut request = SearchRequest::new(project, query.clone());
        request.limit = 10;
        // The memories here are random vectors, far below the default bar: without this a
        // search would load no hit, and be timed doing less than a real one.
        request.min_score = 0.0;
        if all {
            request.projects = Some(vec!["*".into()]);
        }
        adjust(&mut request);
        let started = Instant::now();
        memories.search(request).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times)
}

#[derive(Deserialize)]
struct ConflictSet {
    pairs: Vec<ConflictPair>,
}

#[derive(Deserialize)]
struct ConflictPair {
    existing: PairMemory,
    new: PairMemory,
    label: String,
}

#[derive(Deserialize)]
struct PairMemory {
    content: String,
}

/// Precision, recall and F1 of `predict` over the pairs `take` selects.
fn scored(
    pairs: &[(f32, bool, bool)],
    take: impl Fn(usize) -> bool,
    predict: impl Fn(f32, bool) -> bool,
) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fneg) = (0.0, 0.0, 0.0);
    for (index, &(score, cue, contradicts)) in pairs.iter().enumerate() {
        if !take(index) {
            continue;
        }
        match (predict(score, cue), contradicts) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fneg += 1.0,
            (false, false) => {}
        }
    }
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fneg > 0.0 { tp / (tp + fneg) } else { 0.0 };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    (precision, recall, f1)
}

/// The contradiction-hint band on the labelled pairs: for each lower bound, precision and
/// recall of the cosine band alone and of the band with the reversal reading, on the tuning
/// half (even pairs) and the test half (odd pairs).
async fn conflicts(embedder: &EmbedService) -> anyhow::Result<()> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("engine/tests/data/contradictions.json");
    let set: ConflictSet = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let texts: Vec<String> = set
        .pairs
        .iter()
        .flat_map(|p| [p.existing.content.clone(), p.new.content.clone()])
        .collect();
    let vectors = embedder.embed(texts, annal::embed::Priority::Interactive).await?;
    let pairs: Vec<(f32, bool, bool)> = set
        .pairs
        .iter()
        .zip(vectors.chunks(2))
        .map(|(pair, v)| {
            let score: f32 = v[0].iter().zip(&v[1]).map(|(a, b)| a * b).sum();
            let cue =
                annal::contradiction::reads_as_reversal(&pair.new.content, &pair.existing.content);
            (score, cue, pair.label == "contradicts")
        })
        .collect();
    let mean = |contradicts: bool| {
        let scores: Vec<f32> = pairs.iter().filter(|p| p.2 == contradicts).map(|p| p.0).collect();
        scores.iter().sum::<f32>() / scores.len().max(1) as f32
    };
    println!(
        "\n{} pairs; mean cosine: contradicting {:.3}, related {:.3}; reversal reading on {} of \
         the contradicting and {} of the related",
        pairs.len(),
        mean(true),
        mean(false),
        pairs.iter().filter(|p| p.1 && p.2).count(),
        pairs.iter().filter(|p| p.1 && !p.2).count()
    );
    println!(
        "\n| from | band: P / R / F1 (tune) | band + reading: P / R / F1 (tune) | band + reading: P / R / F1 (test) |"
    );
    println!("|---:|---|---|---|");
    let even = |i: usize| i.is_multiple_of(2);
    let odd = |i: usize| !i.is_multiple_of(2);
    for step in 0..=12 {
        let from = 0.30 + 0.05 * step as f32;
        let band = |score: f32, _: bool| (from..=annal::store::DUPLICATE_ABOVE).contains(&score);
        let read = |score: f32, cue: bool| cue && band(score, cue);
        let (bp, br, bf) = scored(&pairs, even, band);
        let (rp, rr, rf) = scored(&pairs, even, read);
        let (tp, tr, tf) = scored(&pairs, odd, read);
        println!(
            "| {from:.2} | {bp:.2} / {br:.2} / {bf:.2} | {rp:.2} / {rr:.2} / {rf:.2} | {tp:.2} / {tr:.2} / {tf:.2} |"
        );
    }
    Ok(())
}

/// The large evaluation set (`engine/tests/data/eval-large/`, issue 15): per query kind
/// recall@1, recall@5 and MRR@10 of vector, BM25 and hybrid on the test half (even query
/// numbers), and the relevance bar's trade-off on the negative queries.
async fn large_eval(memories: &Memories) -> anyhow::Result<()> {
    large_eval::ensure_corpus();
    let corpus: Vec<LargeMemory> = large_eval::jsonl("memories.jsonl");
    let queries: Vec<LargeQuery> = large_eval::jsonl("queries.jsonl");
    let started = Instant::now();
    let ids = large_eval::store(memories, &corpus).await;
    println!(
        "\n{} memories stored in {:.0} s; {} queries",
        corpus.len(),
        started.elapsed().as_secs_f64(),
        queries.len()
    );
    let rankings = [
        ("vector", Ranking::VectorOnly),
        ("BM25", Ranking::KeywordOnly),
        ("hybrid", Ranking::Hybrid),
    ];
    println!("\n| kind (test half) | queries | ranking | recall@1 | recall@5 | MRR@10 |");
    println!("|---|---:|---|---:|---:|---:|");
    let mut positive_scores = Vec::new();
    for kind in large_eval::KINDS {
        let chosen: Vec<&LargeQuery> =
            queries.iter().filter(|q| q.in_test_half() && q.kind == kind).collect();
        for (name, ranking) in rankings {
            let mut ranks = Vec::with_capacity(chosen.len());
            for query in &chosen {
                let hits = large_eval::top10(memories, &query.query, ranking).await;
                let rank = large_eval::rank_in(&hits, query, &ids);
                if ranking == Ranking::Hybrid {
                    let kept = rank.filter(|&r| r < 5).map_or(f32::NEG_INFINITY, |r| hits[r].score);
                    positive_scores.push(kept);
                }
                ranks.push(rank);
            }
            let s = large_eval::Scores::of(&ranks);
            println!(
                "| {kind} | {} | {name} | {:.3} | {:.3} | {:.3} |",
                s.queries, s.recall_1, s.recall_5, s.mrr_10
            );
        }
    }
    let mut negative_tops = Vec::new();
    for query in queries.iter().filter(|q| q.in_test_half() && q.kind == "negative") {
        let hits = large_eval::top10(memories, &query.query, Ranking::Hybrid).await;
        negative_tops.push(hits.first().map_or(0.0, |h| h.score));
    }
    if std::env::args().any(|arg| arg == "--tune") {
        tune(memories, &queries, &ids).await;
    }
    tails(memories.embedder()).await?;
    println!(
        "\n| relevance bar | negative queries with nothing above it | real queries whose hit in the top 5 stays above it |"
    );
    println!("|---:|---:|---:|");
    for bar in [0.2_f32, 0.3, 0.35, 0.4, 0.45, 0.5] {
        let quiet = negative_tops.iter().filter(|&&s| s < bar).count() as f64;
        let kept = positive_scores.iter().filter(|&&s| s >= bar).count() as f64;
        println!(
            "| {bar:.2} | {:.2} | {:.2} |",
            quiet / negative_tops.len().max(1) as f64,
            kept / positive_scores.len().max(1) as f64
        );
    }
    Ok(())
}

/// Long sections (`long-memories.jsonl`, 400+ tokens) and questions only their tails answer
/// (`tail-queries.jsonl`), stored twice in fresh stores: embedded as stored text is (windows),
/// and by the first window alone (as before windows); the cost of each.
async fn tails(embedder: &EmbedService) -> anyhow::Result<()> {
    let corpus: Vec<LargeMemory> = large_eval::jsonl("long-memories.jsonl");
    let queries: Vec<LargeQuery> = large_eval::jsonl("tail-queries.jsonl");
    let chosen: Vec<&LargeQuery> = queries.iter().collect();
    println!(
        "\n| long sections ({}), tail queries ({}) | store s | ranking | recall@1 | recall@5 | MRR@10 |",
        corpus.len(),
        queries.len()
    );
    println!("|---|---:|---|---:|---:|---:|");
    for windows in [false, true] {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path()).await?;
        let memories =
            Memories::new(store.clone(), embedder.clone(), EventBus::open(store.clone()).await?);
        let started = Instant::now();
        let ids = if windows {
            large_eval::store(&memories, &corpus).await
        } else {
            let texts: Vec<String> = corpus.iter().map(|m| m.text.clone()).collect();
            let vectors = embedder.embed(texts, annal::embed::Priority::Interactive).await?;
            let project = ProjectName::parse(large_eval::PROJECT)?;
            let mut ids = HashMap::new();
            let mut items = Vec::new();
            for (m, vector) in corpus.iter().zip(vectors) {
                let memory = NewMemory::agent(m.text.clone(), ["docs"], "")?;
                ids.insert(m.id.clone(), memory.id.as_str().to_owned());
                items.push(StoreItem { memory, vector, supersedes: None });
            }
            store.insert(&project, items).await?;
            ids
        };
        let seconds = started.elapsed().as_secs_f64();
        let label = if windows { "windows" } else { "first window only" };
        for (name, ranking) in [
            ("vector", Ranking::VectorOnly),
            ("BM25", Ranking::KeywordOnly),
            ("hybrid", Ranking::Hybrid),
        ] {
            let s = large_eval::scores(&memories, &chosen, ranking, &ids).await;
            println!(
                "| {label} | {seconds:.1} | {name} | {:.3} | {:.3} | {:.3} |",
                s.recall_1, s.recall_5, s.mrr_10
            );
        }
        store.close().await?;
    }
    Ok(())
}

/// Fusion candidates on the tuning half (odd query numbers): recall@5 / MRR@10 per kind, and
/// the one chosen by the rule: among candidates at least as good as each leg on every kind,
/// the best mean of recall@5 and MRR@10 over the kinds.
async fn tune(memories: &Memories, queries: &[LargeQuery], ids: &HashMap<String, String>) {
    let mut candidates = vec![
        ("vector".to_string(), Ranking::VectorOnly),
        ("BM25".to_string(), Ranking::KeywordOnly),
        ("hybrid (default)".to_string(), Ranking::Hybrid),
    ];
    for keyword_weight in [0.3, 0.5, 1.0] {
        candidates.push((format!("blend {keyword_weight}"), Ranking::Blend { keyword_weight }));
    }
    candidates.push(("RRF 1".to_string(), Ranking::Rrf { keyword_weight: 1.0 }));
    for (max_weight, full_at) in ADAPTIVE {
        candidates.push((
            format!("adaptive {max_weight} at {full_at}"),
            Ranking::Adaptive { max_weight, full_at },
        ));
    }
    for keyword_weight in [0.3, 0.4, 0.5, 0.6, 0.7] {
        let name = format!("normalized, keyword {keyword_weight}");
        candidates.push((name, Ranking::Normalized { keyword_weight }));
    }
    for identifier_weight in [0.3, 0.5, 1.0] {
        for prose_full_at in [12.0, 18.0, 24.0] {
            let rules = FusionRules { identifier_weight, prose_full_at, ..FusionRules::CHOSEN };
            let name =
                format!("rules: identifier {identifier_weight}, prose 0.5 at {prose_full_at}");
            candidates.push((name, Ranking::Rules(rules)));
        }
    }
    let kinds = large_eval::KINDS;
    println!("\n| candidate (tuning half) | {} R@5 / MRR |", kinds.join(" R@5 / MRR | "));
    println!("|---|{}", "---|".repeat(kinds.len()));
    let mut table: Vec<(String, Ranking, Vec<large_eval::Scores>)> = Vec::new();
    for (name, ranking) in candidates {
        let mut row = Vec::new();
        for kind in kinds {
            let chosen: Vec<&LargeQuery> =
                queries.iter().filter(|q| q.in_tuning_half() && q.kind == kind).collect();
            row.push(large_eval::scores(memories, &chosen, ranking, ids).await);
        }
        let cells: Vec<String> =
            row.iter().map(|s| format!("{:.3} / {:.3}", s.recall_5, s.mrr_10)).collect();
        println!("| {name} | {} |", cells.join(" | "));
        table.push((name, ranking, row));
    }
    let legs: Vec<large_eval::Scores> = table[0]
        .2
        .iter()
        .zip(&table[1].2)
        .map(|(v, k)| large_eval::Scores {
            recall_5: v.recall_5.max(k.recall_5),
            mrr_10: v.mrr_10.max(k.mrr_10),
            ..*v
        })
        .collect();
    let chosen = table[2..]
        .iter()
        .filter(|(_, _, row)| {
            row.iter().zip(&legs).all(|(s, l)| s.recall_5 >= l.recall_5 && s.mrr_10 >= l.mrr_10)
        })
        .map(|(name, ranking, row)| {
            let mean =
                row.iter().map(|s| s.recall_5 + s.mrr_10).sum::<f64>() / (2 * row.len()) as f64;
            (name, *ranking, mean)
        })
        .max_by(|a, b| a.2.total_cmp(&b.2));
    let Some((name, ranking, mean)) = chosen else {
        println!("\nno candidate is at least each leg on every kind of the tuning half");
        return;
    };
    println!("\nchosen: {name} (mean of R@5 and MRR {mean:.3}); on the test half (R@1, R@5, MRR):");
    for kind in kinds {
        let chosen: Vec<&LargeQuery> =
            queries.iter().filter(|q| q.in_test_half() && q.kind == kind).collect();
        let s = large_eval::scores(memories, &chosen, ranking, ids).await;
        println!("| {kind} | {:.3} | {:.3} | {:.3} |", s.recall_1, s.recall_5, s.mrr_10);
    }
}

fn main() -> anyhow::Result<()> {
    let eval_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("engine/tests/data/eval.json");
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
        if std::env::args().any(|arg| arg == "--conflicts") {
            return conflicts(&embedder).await;
        }
        if std::env::args().any(|arg| arg == "--large-eval") {
            return large_eval(&memories).await;
        }
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
        // The keyword leg filters as it reads the BM25 ranking: a filter nothing passes makes it
        // read every match of the query's words — its worst case.
        let rejecting = latencies_with(&memories, "p0", false, &queries, |request| {
            request.source = Some("nothing-has-this-source".into());
        })
        .await?;

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
            "| idle, a filter no memory passes (the keyword leg reads every match) | {:.1} | {:.1} |",
            quantile(&rejecting, 0.5),
            quantile(&rejecting, 0.95)
        );
        println!(
            "| while a writer inserts ({rate:.0} memories/s) | {:.1} | {:.1} |",
            quantile(&busy, 0.5),
            quantile(&busy, 0.95)
        );
        println!("\nratio p95 busy / idle: {:.2}", quantile(&busy, 0.95) / idle_p95_100k);
        anyhow::Ok(())
    })
}
