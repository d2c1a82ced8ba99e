//! The vector index loads after `Store::open` has returned: what needs it waits for the load
//! (a search gets every hit, a write lands in the index once), what does not answers at once,
//! and a failed load is a clear error to those that need it, never a hang.
//!
//! "Still loading" is seen through `Store::index`, which resolves only once the load is done:
//! a store big enough to take a while to load (100,000 memories) shows it right after open.

use std::path::Path;

use annal_engine::events::EventBus;
use annal_engine::memories::Memories;
use annal_engine::project::ProjectName;
use annal_engine::search::SearchRequest;
use annal_engine::store::{Store, StoreError};
use annal_engine::vector_index::read;
use futures_util::FutureExt as _;
use tokio_rusqlite::rusqlite;

use crate::common::filler;
use crate::util::{Stored as _, embedder, tags, unit_vector};

const MEMORIES: usize = 100_000;

fn app() -> ProjectName {
    ProjectName::parse("app").expect("valid name")
}

async fn memories_over(store: &Store) -> Memories {
    let events = EventBus::open(store.clone()).await.expect("events");
    Memories::new(store.clone(), embedder(), events)
}

/// Whether the index is still loading: `Store::index` has not resolved at first poll.
fn still_loading(store: &Store) -> bool {
    store.index().now_or_never().is_none()
}

/// A store in `dir` holding one memory with the model's embedding and `MEMORIES - 1` filler
/// memories with pseudo-random unit vectors, closed. The fillers go in by SQL in one transaction:
/// through `Store::insert` a debug build takes ten times as long.
async fn big_store(dir: &Path) -> String {
    let store = Store::open(dir).await.expect("open");
    let memories = memories_over(&store).await;
    let known = memories
        .remember(
            "app",
            "Payment webhooks are retried three times with exponential backoff.".into(),
            tags(&["payments"]),
            None,
            None,
        )
        .await
        .stored("the known memory");
    store.close().await.expect("close");
    filler::insert(dir, 1..MEMORIES as u64, unit_vector);
    known
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_returns_before_the_index_is_loaded_and_what_needs_it_waits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let known = big_store(dir.path()).await;

    let store = Store::open(dir.path()).await.expect("reopen");
    assert!(still_loading(&store), "open waited for the index to load");
    let memories = memories_over(&store).await;
    // What the database answers alone does not wait.
    let stats = store.stats(&app(), chrono::Utc::now()).await.expect("stats");
    assert_eq!(stats.total, MEMORIES as u64);

    let search = {
        let memories = memories.clone();
        tokio::spawn(async move {
            let request = SearchRequest::new("app", "how often are payment webhooks retried");
            memories.search(request).await
        })
    };
    let write = {
        let memories = memories.clone();
        tokio::spawn(async move {
            let content = "The deploy pipeline pins Node 22 for every service.".into();
            memories.remember("app", content, tags(&["deploy"]), None, None).await
        })
    };
    assert!(still_loading(&store), "the index loaded before the search and the write were issued");

    let found = search.await.expect("search task").expect("search");
    assert_eq!(found.hits.first().map(|hit| hit.memory.id.as_str()), Some(known.as_str()));
    let written = write.await.expect("write task").stored("the write during the load");
    let index = store.index().await.expect("the index loaded");
    let shard = index.project("app").expect("the project's vectors");
    {
        let vectors = read(&shard);
        assert_eq!(vectors.len(), MEMORIES + 1, "every memory indexed once, the new one too");
        assert!(vectors.meta(&written).is_some_and(|meta| meta.tags == ["deploy"]));
    }
    let deploy = memories
        .search(SearchRequest::new("app", "which Node version does the deploy pipeline pin"))
        .await
        .expect("search after the load");
    assert_eq!(deploy.hits.first().map(|hit| hit.memory.id.as_str()), Some(written.as_str()));
    store.close().await.expect("close");
}

#[tokio::test]
async fn a_failed_load_is_an_error_to_what_needs_the_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).await.expect("open");
    let memories = memories_over(&store).await;
    let broken = memories
        .remember("app", "This memory's timestamp gets damaged.".into(), tags(&["t"]), None, None)
        .await
        .stored("a memory");
    store.close().await.expect("close");
    let conn = rusqlite::Connection::open(dir.path().join("annal.db")).expect("open directly");
    conn.execute("UPDATE memories SET created_at = 'yesterday' WHERE id = ?1", [&broken])
        .expect("damage the row");
    drop(conn);

    let store = Store::open(dir.path()).await.expect("open succeeds: the load comes later");
    let memories = memories_over(&store).await;
    let failed = store.index().await.map(|_| ());
    assert!(
        matches!(&failed, Err(StoreError::IndexLoad { reason }) if reason.contains(&broken)),
        "{failed:?}"
    );
    let search = memories.search(SearchRequest::new("app", "timestamp")).await;
    let message = search.map(|_| ()).expect_err("search refused").to_string();
    assert!(message.contains("vector index could not be loaded"), "{message}");
    let write = memories.remember("app", "Refused.".into(), tags(&["t"]), None, None).await;
    let message = write.map(|_| ()).expect_err("write refused").to_string();
    assert!(message.contains("vector index could not be loaded"), "{message}");
    // Reading from the database alone still works.
    assert_eq!(store.stats(&app(), chrono::Utc::now()).await.expect("stats").total, 1);
    store.close().await.expect("close");
}
