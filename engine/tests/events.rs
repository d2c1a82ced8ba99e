//! Typed events: each kind's detail on the wire and in the stored feed, and a feed row this
//! version cannot read left out instead of keeping the owner from starting.

use annal_engine::config::ProjectChange;
use annal_engine::events::Event;
use annal_engine::events::{EventBus, EventDetail, EventKind, IndexCompleted};
use annal_engine::index::ReconcileReport;
use annal_engine::store::Store;
use serde_json::json;

/// What the feed keeps of an event (its time is stored to the microsecond).
fn kept(events: &[Event]) -> Vec<(u64, String, EventDetail)> {
    events.iter().map(|e| (e.seq, e.project.clone(), e.detail.clone())).collect()
}

fn one_of_each() -> Vec<EventDetail> {
    let report = ReconcileReport { files_seen: 3, files_indexed: 2, ..Default::default() };
    vec![
        EventDetail::MemoryStored { id: "m-1".into() },
        EventDetail::MemoryUpdated { id: "m-1".into(), tags: vec!["ui".into()] },
        EventDetail::MemoryDeleted { ids: vec!["m-1".into(), "m-2".into()] },
        EventDetail::IndexStarted {},
        EventDetail::IndexComplete(IndexCompleted::Reconciled(report)),
        EventDetail::IndexComplete(IndexCompleted::ChangedFiles {}),
        EventDetail::IndexFailed { error: "watch path gone".into() },
        EventDetail::ProjectUpdated { changes: vec![ProjectChange::Created] },
        EventDetail::WatcherError { error: "too many files".into() },
        EventDetail::DatabaseLost { path: "/d/annal.db".into(), error: "deleted".into() },
    ]
}

#[test]
fn each_kind_keeps_its_wire_shape() {
    let cases = [
        (EventDetail::MemoryStored { id: "m-1".into() }, json!({ "id": "m-1" })),
        (EventDetail::IndexStarted {}, json!({})),
        (EventDetail::IndexComplete(IndexCompleted::ChangedFiles {}), json!({})),
        (EventDetail::IndexProgress { files_done: 7 }, json!({ "files_done": 7 })),
        (EventDetail::ProjectUpdated { changes: vec![] }, json!({ "changes": [] })),
    ];
    for (detail, expected) in cases {
        let wire = serde_json::to_value(&detail).expect("serialize");
        assert_eq!(wire, json!({ "type": detail.kind().as_str(), "detail": expected }));
    }
    let report = serde_json::to_value(&one_of_each()[4]).expect("serialize");
    assert_eq!(report["detail"]["files_seen"], 3, "a reconcile's report is the detail: {report}");
}

#[tokio::test]
async fn the_stored_feed_gives_back_every_kind_and_skips_what_it_cannot_read() {
    let data = tempfile::tempdir().expect("data");
    let bus = EventBus::open(Store::open(data.path()).await.expect("store")).await.expect("bus");
    let published: Vec<_> = one_of_each().into_iter().map(|d| bus.publish("app", d)).collect();
    assert_eq!(
        published.iter().map(|e| e.kind()).filter(|k| *k == EventKind::IndexProgress).count(),
        0
    );

    // Persisting runs in the background; wait (with a deadline) until every event is there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let store = Store::open(data.path()).await.expect("store");
    while store.recent_events(100).await.expect("feed").len() < published.len() {
        assert!(std::time::Instant::now() < deadline, "the feed was not stored");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(kept(&store.recent_events(100).await.expect("feed")), kept(&published));

    let db = data.path().join("annal.db");
    let conn = tokio_rusqlite::rusqlite::Connection::open(&db).expect("open");
    for (seq, kind, detail) in [
        (90, "index_failed", "{}"),
        (91, "from_a_newer_version", "{}"),
        (92, "memory_stored", "not json"),
    ] {
        conn.execute(
            "INSERT INTO events (seq, kind, project, detail, created_at) VALUES (?1, ?2, 'app', ?3, '2026-12-01T00:00:00Z')",
            tokio_rusqlite::rusqlite::params![seq, kind, detail],
        )
        .expect("insert");
    }
    drop(conn);
    let reopened = EventBus::open(Store::open(data.path()).await.expect("store"))
        .await
        .expect("the bus opens");
    assert_eq!(kept(&reopened.recent()), kept(&published), "only the unreadable rows are left out");
    let next = reopened.publish("app", EventDetail::IndexStarted {});
    assert_eq!(next.seq, 93, "numbering continues past the rows left out");
}
