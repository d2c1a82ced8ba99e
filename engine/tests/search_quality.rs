//! Search quality on the large evaluation's test half (2,183 sections, 203 queries with
//! answers), per kind of query: hybrid finds what each leg finds alone (within one query), and
//! every number stays where `cargo bench --bench search -- --large-eval` reported it. The
//! whole test half rather than a subset, so the guarded numbers are the reported ones (about
//! 80 s: most of it embedding the corpus).

use annal_engine::search::Ranking;

use crate::common::large_eval::{self, KINDS, LargeMemory, LargeQuery, Scores};
use crate::util::Fixture;

/// Hybrid's recall@5 and MRR@10 per kind on the test half, as the bench reports them.
const REPORTED: [(&str, f64, f64); 4] = [
    ("paraphrase", 0.860, 0.730),
    ("identifier", 1.000, 0.822),
    ("keyword", 0.919, 0.715),
    ("two_sections", 1.000, 0.918),
];
/// How far a number may move (about a query of a kind) before the test calls it a change.
const TOLERANCE: f64 = 0.03;

#[tokio::test(flavor = "multi_thread")]
async fn hybrid_is_at_least_each_leg_on_every_kind_and_holds_its_reported_numbers() {
    large_eval::ensure_corpus();
    let corpus: Vec<LargeMemory> = large_eval::jsonl("memories.jsonl");
    let queries: Vec<LargeQuery> = large_eval::jsonl("queries.jsonl");
    let f = Fixture::new().await;
    let ids = large_eval::store(&f.memories, &corpus).await;
    let mut failures = Vec::new();
    for (kind, r5, mrr) in REPORTED {
        let chosen: Vec<&LargeQuery> =
            queries.iter().filter(|q| q.in_test_half() && q.kind == kind).collect();
        let score = |ranking| large_eval::scores(&f.memories, &chosen, ranking, &ids);
        let hybrid: Scores = score(Ranking::Hybrid).await;
        let vector = score(Ranking::VectorOnly).await;
        let keyword = score(Ranking::KeywordOnly).await;
        eprintln!("{kind}: hybrid {hybrid:?}, vector {vector:?}, BM25 {keyword:?}");
        // Hybrid at least each leg, but for one query: on the test half BM25 alone still wins
        // one keyword query's top 5 (0.919 vs 0.946) and part of one identifier query's rank
        // (MRR 0.822 vs 0.835), and no fusion chosen on the tuning half wins them back.
        let one_query = 1.0 / chosen.len() as f64 + 1e-9;
        for (leg, other) in [("vector", vector), ("BM25", keyword)] {
            if hybrid.recall_5 + one_query < other.recall_5
                || hybrid.mrr_10 + one_query < other.mrr_10
            {
                failures.push(format!("{kind}: hybrid {hybrid:?} below {leg} {other:?}"));
            }
        }
        if (hybrid.recall_5 - r5).abs() > TOLERANCE || (hybrid.mrr_10 - mrr).abs() > TOLERANCE {
            failures.push(format!("{kind}: hybrid {hybrid:?}, reported R@5 {r5} MRR {mrr}"));
        }
    }
    assert_eq!(KINDS.len(), REPORTED.len());
    assert!(failures.is_empty(), "{failures:#?}");
}
