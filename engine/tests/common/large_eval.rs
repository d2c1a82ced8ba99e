//! The large retrieval evaluation (`engine/tests/data/eval-large/`): 2,183 sections of the
//! pinned crates' docs, rebuilt by `scripts/eval-corpus.py`, and 456 frozen queries in five
//! kinds split into a tuning half (odd numbers) and a test half (even). Included by path from
//! the engine's search-quality test (which guards the test half per kind) and from `cargo
//! bench --bench search -- --large-eval` (which prints the tables and sweeps the fusion).

// Each includer uses its own part of this file.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use annal_engine::memories::{BatchItem, Memories};
use annal_engine::search::{Ranking, SearchHit, SearchRequest};
use annal_engine::store::StoreOutcome;
use serde::Deserialize;

pub const PROJECT: &str = "eval-large";
/// The kinds with answers, in table order; `negative` queries have none.
pub const KINDS: [&str; 4] = ["paraphrase", "identifier", "keyword", "two_sections"];

#[derive(Debug, Deserialize)]
pub struct LargeMemory {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub struct LargeQuery {
    pub id: String,
    pub kind: String,
    pub query: String,
    pub relevant: Vec<String>,
}

impl LargeQuery {
    fn number(&self) -> Option<u32> {
        self.id.trim_start_matches(|c: char| c.is_ascii_alphabetic()).parse().ok()
    }

    /// The fixed split: even numbers are the test half, the only one reported.
    pub fn in_test_half(&self) -> bool {
        self.number().is_some_and(|n| n.is_multiple_of(2))
    }

    pub fn in_tuning_half(&self) -> bool {
        self.number().is_some_and(|n| !n.is_multiple_of(2))
    }
}

fn workspace() -> PathBuf {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Included from the engine's tests (manifest `engine/`) and the root's benches.
    if engine.join("engine").is_dir() { engine.to_path_buf() } else { engine.join("..") }
}

pub fn data_dir() -> PathBuf {
    workspace().join("engine/tests/data/eval-large")
}

/// Rebuilds `memories.jsonl` (third-party text, so not committed) from the registry sources
/// of the pinned packages, fetching them first, unless it is already there.
pub fn ensure_corpus() {
    if data_dir().join("memories.jsonl").is_file() {
        return;
    }
    let run = |program: &str, args: &[&str]| {
        let status = std::process::Command::new(program)
            .args(args)
            .current_dir(workspace())
            .status()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(status.success(), "{program} {args:?} failed");
    };
    run("cargo", &["fetch", "--locked"]);
    run("python3", &["scripts/eval-corpus.py"]);
}

pub fn jsonl<T: serde::de::DeserializeOwned>(file: &str) -> Vec<T> {
    let path = data_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .collect()
}

/// Stores the corpus in [`PROJECT`] and returns each evaluation id's memory id (a
/// near-verbatim repeat maps to the copy that was kept: finding it counts).
pub async fn store(memories: &Memories, corpus: &[LargeMemory]) -> HashMap<String, String> {
    let mut ids = HashMap::new();
    for batch in corpus.chunks(100) {
        let items = batch
            .iter()
            .map(|m| BatchItem {
                content: Some(m.text.clone()),
                tags: Some(vec!["docs".into()]),
                ..Default::default()
            })
            .collect();
        let outcomes = memories.remember_batch(PROJECT, items).await.expect("store the corpus");
        for (memory, outcome) in batch.iter().zip(outcomes) {
            let id = match outcome {
                StoreOutcome::Stored { id, .. } => id,
                StoreOutcome::Skipped { duplicate_of, .. } => duplicate_of,
            };
            ids.insert(memory.id.clone(), id);
        }
    }
    ids
}

/// The top 10 of `ranking` for `query`, nothing held back by a bar.
pub async fn top10(memories: &Memories, query: &str, ranking: Ranking) -> Vec<SearchHit> {
    let mut request = SearchRequest::new(PROJECT, query);
    request.ranking = ranking;
    request.min_score = -1.0;
    request.limit = 10;
    request.count_access = false;
    memories.search(request).await.expect("search").hits
}

/// The rank of the first relevant memory among `hits`.
pub fn rank_in(
    hits: &[SearchHit],
    query: &LargeQuery,
    ids: &HashMap<String, String>,
) -> Option<usize> {
    let wanted: Vec<&String> = query.relevant.iter().filter_map(|r| ids.get(r)).collect();
    hits.iter().position(|h| wanted.contains(&&h.memory.id))
}

/// Recall@1, recall@5 and MRR@10 over some queries.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    pub recall_1: f64,
    pub recall_5: f64,
    pub mrr_10: f64,
    pub queries: usize,
}

impl Scores {
    pub fn of(ranks: &[Option<usize>]) -> Self {
        let n = ranks.len().max(1) as f64;
        let share =
            |hit: fn(usize) -> f64| ranks.iter().flatten().map(|&r| hit(r)).sum::<f64>() / n;
        Self {
            recall_1: share(|r| f64::from(u8::from(r == 0))),
            recall_5: share(|r| f64::from(u8::from(r < 5))),
            mrr_10: share(|r| 1.0 / (r as f64 + 1.0)),
            queries: ranks.len(),
        }
    }
}

/// The scores of `ranking` on `queries`.
pub async fn scores(
    memories: &Memories,
    queries: &[&LargeQuery],
    ranking: Ranking,
    ids: &HashMap<String, String>,
) -> Scores {
    let mut ranks = Vec::with_capacity(queries.len());
    for query in queries {
        ranks.push(rank_in(&top10(memories, &query.query, ranking).await, query, ids));
    }
    Scores::of(&ranks)
}
