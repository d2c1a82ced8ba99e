//! Curation from the dashboard: bulk deletes, supersession chains, the timeline.

use annal_engine::memories::MemoryError;
use annal_engine::store::{ListQuery, StoreError};

use crate::util::{Fixture, Stored as _};

async fn store(f: &Fixture, content: &str, tag: &str) -> String {
    f.memories.remember("p", content.into(), vec![tag.into()], None, None).await.stored(content)
}

fn tagged(tag: &str) -> ListQuery {
    ListQuery { tag: Some(tag.into()), limit: 50, ..ListQuery::default() }
}

#[tokio::test]
async fn delete_matching_deletes_what_was_confirmed_and_nothing_else() {
    let f = Fixture::new().await;
    let subjects =
        ["billing retries", "invoice rounding", "tax tables", "refund windows", "dunning emails"];
    for subject in subjects {
        store(&f, &format!("Decision about {subject}."), "billing").await;
    }
    let keep = store(&f, "The deploy runs on Fridays.", "ops").await;

    // The count changed since the person confirmed: nothing goes.
    let err = f.memories.delete_matching("p", tagged("billing"), 4).await.expect_err("stale count");
    assert!(matches!(err, MemoryError::CountChanged { expected: 4, now: 5 }), "{err}");
    assert_eq!(f.memories.list("p", tagged("billing")).await.expect("list").total, 5);

    let deleted = f.memories.delete_matching("p", tagged("billing"), 5).await.expect("delete");
    assert_eq!(deleted, 5);
    let left =
        f.memories.list("p", ListQuery { limit: 50, ..ListQuery::default() }).await.expect("list");
    assert_eq!(left.items.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), [keep]);
    assert_eq!(f.memories.delete_matching("p", tagged("billing"), 0).await.expect("none"), 0);
}

#[tokio::test]
async fn delete_selected_counts_what_existed_and_refuses_bad_ids() {
    let f = Fixture::new().await;
    let a = store(&f, "Use tabs in the Makefile.", "style").await;
    let b = store(&f, "Prefer rustls over openssl.", "deps").await;
    assert!(matches!(f.memories.delete_ids("p", vec![]).await, Err(MemoryError::NoIds)));
    let bad = f.memories.delete_ids("p", vec![a.clone(), " ".into()]).await;
    assert!(bad.is_err(), "a blank id is refused before anything is deleted");
    assert_eq!(
        f.memories
            .list("p", ListQuery { limit: 5, ..ListQuery::default() })
            .await
            .expect("list")
            .total,
        2
    );
    let deleted =
        f.memories.delete_ids("p", vec![a, b, "never-existed".into()]).await.expect("delete");
    assert_eq!(deleted, 2);
}

#[tokio::test]
async fn a_chain_runs_from_the_oldest_decision_to_the_newest() {
    let f = Fixture::new().await;
    let first = store(&f, "We store sessions in Redis.", "decision").await;
    let second = f
        .memories
        .remember(
            "p",
            "We store sessions in Postgres.".into(),
            vec!["decision".into()],
            None,
            Some(first.clone()),
        )
        .await
        .stored("supersede");
    let third = f
        .memories
        .remember(
            "p",
            "We store sessions in signed cookies.".into(),
            vec!["decision".into()],
            None,
            Some(second.clone()),
        )
        .await
        .stored("supersede");
    for id in [&first, &second, &third] {
        let chain: Vec<String> =
            f.memories.chain("p", id).await.expect("chain").into_iter().map(|m| m.id).collect();
        assert_eq!(chain, [first.clone(), second.clone(), third.clone()], "from {id}");
    }
    let lone = store(&f, "Unrelated: CI runs on two cores.", "ci").await;
    assert_eq!(f.memories.chain("p", &lone).await.expect("chain").len(), 1);
    let missing = f.memories.chain("p", "no-such-id").await.expect_err("missing");
    assert!(matches!(missing, MemoryError::Store(StoreError::NotFound { .. })), "{missing}");
}

#[tokio::test]
async fn the_timeline_counts_agent_memories_per_day() {
    let f = Fixture::new().await;
    store(&f, "One thing learned today.", "a").await;
    store(&f, "Another, quite different, thing learned today.", "b").await;
    let days = f.memories.timeline("p").await.expect("timeline");
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].count, 2);
    assert_eq!(days[0].day, chrono::Utc::now().format("%Y-%m-%d").to_string());
    assert!(f.memories.timeline("Bad Name!").await.is_err());
}
