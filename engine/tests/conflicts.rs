//! Contradiction hints on the labelled pairs of `data/contradictions.json` (decisions that
//! reverse an earlier one, and decisions that merely relate to it), through the real store
//! path: each pair in a project of its own, the older decision stored first. The band
//! ([`CONFLICT_FROM`]) was chosen on this set (`cargo bench --bench search -- --conflicts`);
//! this guards its precision and recall, and that exact duplicates, non-decisions and
//! decisions about another domain get no hint.

use annal_engine::store::{CONFLICT_FROM, StoreOutcome};
use serde::Deserialize;

use crate::util::{Fixture, tags};

#[derive(Debug, Deserialize)]
struct Memory {
    content: String,
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Pair {
    existing: Memory,
    new: Memory,
    label: String,
}

#[derive(Debug, Deserialize)]
struct Set {
    pairs: Vec<Pair>,
}

fn pairs() -> Vec<Pair> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/contradictions.json");
    let text = std::fs::read_to_string(path).expect("the labelled set");
    serde_json::from_str::<Set>(&text).expect("valid set").pairs
}

/// What the store says of a new memory: stored with a conflict hint naming `expected`?
fn hinted(outcome: &StoreOutcome, expected: &str) -> bool {
    match outcome {
        StoreOutcome::Stored { conflict: Some(c), .. } => {
            assert_eq!(c.id, expected, "a hint names the older decision");
            assert!(!c.first_line.is_empty());
            true
        }
        StoreOutcome::Stored { conflict: None, .. } => false,
        other => panic!("not stored: {other:?}"),
    }
}

#[tokio::test]
async fn the_labelled_pairs_keep_their_precision_and_recall() {
    let fixture = Fixture::new().await;
    let memories = &fixture.memories;
    let (mut true_pos, mut false_pos, mut false_neg) = (0, 0, 0);
    let set = pairs();
    assert!(set.len() >= 100, "{} pairs", set.len());
    for (index, pair) in set.iter().enumerate() {
        let project = format!("pair-{index}");
        let old = memories
            .remember(
                &project,
                pair.existing.content.clone(),
                pair.existing.tags.clone(),
                None,
                None,
            )
            .await
            .expect("store the older decision");
        let StoreOutcome::Stored { id: old, .. } = old else { panic!("{old:?}") };
        let outcome = memories
            .remember(&project, pair.new.content.clone(), pair.new.tags.clone(), None, None)
            .await
            .expect("store the newer decision");
        match (hinted(&outcome, &old), pair.label == "contradicts") {
            (true, true) => true_pos += 1,
            (true, false) => false_pos += 1,
            (false, true) => false_neg += 1,
            (false, false) => {}
        }
    }
    let precision = f64::from(true_pos) / f64::from(true_pos + false_pos).max(1.0);
    let recall = f64::from(true_pos) / f64::from(true_pos + false_neg).max(1.0);
    // The measured numbers (bench) less a small margin.
    let counts = format!(
        "from {CONFLICT_FROM}: {true_pos} hinted right, {false_pos} wrongly, {false_neg} missed"
    );
    assert!(precision >= PRECISION - 0.02, "precision {precision:.3}: {counts}");
    assert!(recall >= RECALL - 0.02, "recall {recall:.3}: {counts}");
}

/// Measured on the whole set at [`CONFLICT_FROM`] (44 hinted of 60 contradicting, 12 of 60
/// related).
const PRECISION: f64 = 0.786;
const RECALL: f64 = 0.733;

#[tokio::test]
async fn duplicates_non_decisions_and_other_domains_get_no_hint() {
    let fixture = Fixture::new().await;
    let memories = &fixture.memories;
    let old = "We use PostgreSQL 15 as the primary database for the billing service.";
    let stored = memories
        .remember("p", old.into(), tags(&["decision", "database"]), None, None)
        .await
        .expect("store");
    let StoreOutcome::Stored { id: old_id, .. } = stored else { panic!("{stored:?}") };
    let reversal = "Billing moves off PostgreSQL to DynamoDB; new billing tables go in DynamoDB.";
    // The same text again is skipped as a duplicate, with no hint.
    let again =
        memories.remember("p", old.into(), tags(&["decision", "database"]), None, None).await;
    assert!(matches!(again, Ok(StoreOutcome::Skipped { .. })), "{again:?}");
    // Not a decision: no hint.
    let note = "We no longer keep billing data in PostgreSQL; DynamoDB holds it from now on.";
    let note =
        memories.remember("p", note.into(), tags(&["pattern", "database"]), None, None).await;
    assert!(!hinted(&note.expect("store"), &old_id));
    // A decision with no shared domain tag: no hint.
    memories
        .remember("q", old.into(), tags(&["decision", "billing"]), None, None)
        .await
        .expect("store");
    let other = memories
        .remember("q", reversal.into(), tags(&["decision", "storage"]), None, None)
        .await
        .expect("store");
    assert!(!hinted(&other, "unused"), "{other:?}");
    // A decision about the same domain: the hint.
    let hint = memories
        .remember("p", reversal.into(), tags(&["decision", "database"]), None, None)
        .await
        .expect("store");
    assert!(hinted(&hint, &old_id), "{hint:?}");
    // A decision that supersedes explicitly needs no hint.
    let StoreOutcome::Stored { id: hint_id, .. } = hint else { unreachable!() };
    let explicit = memories
        .remember(
            "p",
            "Billing data lives in DynamoDB tables only, PostgreSQL is gone.".into(),
            tags(&["decision", "database"]),
            None,
            Some(hint_id),
        )
        .await
        .expect("store");
    assert!(!hinted(&explicit, "unused"), "{explicit:?}");
}
