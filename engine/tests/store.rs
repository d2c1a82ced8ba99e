//! The store and the memory operations over it, on real SQLite files with the real model.

use std::time::Duration as StdDuration;

use annal_engine::memories::MemoryError;
use annal_engine::memory::{ChunkType, FileInfo, MAX_CONTENT_BYTES, MemoryId, NewMemory};
use annal_engine::project::ProjectName;
use annal_engine::store::{ListQuery, Store, StoreError, StoreItem};
use chrono::{Duration, Utc};
use tokio_rusqlite::rusqlite;

use crate::util::{Fixture, Stored as _, assert_err_contains, embedder, tags};

fn name(project: &str) -> ProjectName {
    ProjectName::parse(project).expect("valid name")
}

fn id(id: &str) -> MemoryId {
    MemoryId::parse(id).expect("valid id")
}

async fn keyword(f: &Fixture, query: &str) -> Vec<String> {
    let matches =
        f.store.keyword_matches(vec!["app".into()], &[query.to_owned()], 10, |_, _| true).await;
    matches.expect("keyword search").into_iter().map(|m| m.id).collect()
}

async fn vector(text: &str) -> Vec<f32> {
    embedder().embed_one(text.into()).await.expect("embed")
}

#[tokio::test]
async fn a_stored_memory_reads_back_whole() {
    let f = Fixture::new().await;
    let stored = f
        .memories
        .remember(
            "app",
            "We chose SQLite in WAL mode.".into(),
            tags(&[" Decision", "database", "DECISION"]),
            Some("design review".into()),
            None,
        )
        .await
        .stored("stored");
    assert!(uuid_like(&stored), "{stored}");
    let got = f.store.get(&name("app"), vec![id(&stored)]).await.expect("get");
    let memory = &got[0];
    assert_eq!(memory.content, "We chose SQLite in WAL mode.");
    assert_eq!(memory.tags, ["decision", "database"]);
    assert_eq!(memory.source, "design review");
    assert_eq!(memory.chunk_type, ChunkType::AgentMemory);
    assert_eq!((memory.hit_count, memory.last_accessed_at, memory.updated_at), (0, None, None));
    assert!(Utc::now() - memory.created_at < Duration::minutes(1));
    assert_eq!(f.store.projects().await.expect("projects"), ["app"]);
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|&c| c == '-').count() == 4
}

#[tokio::test]
async fn update_keeps_identity_re_embeds_and_moves_the_full_text_row() {
    let f = Fixture::new().await;
    let p = name("app");
    let original =
        f.memories.remember("app", "The cache uses Redis.".into(), tags(&["cache"]), None, None);
    let mid = original.await.stored("stored");
    let before = f.store.get(&p, vec![id(&mid)]).await.expect("get").remove(0);
    let old_vector = f.store.vectors(&p).await.expect("vectors").remove(0).1;
    tokio::time::sleep(StdDuration::from_millis(5)).await;

    let updated = f
        .memories
        .update("app", &mid, Some("The cache uses memcached now.".into()), None, None)
        .await
        .expect("updated");
    assert_eq!((updated.id.as_str(), updated.created_at), (mid.as_str(), before.created_at));
    assert!(updated.updated_at.is_some_and(|at| at > before.created_at));
    assert_eq!(updated.tags, ["cache"]);
    let new_vector = f.store.vectors(&p).await.expect("vectors").remove(0).1;
    let expected = vector("The cache uses memcached now.").await;
    assert_eq!(new_vector, expected, "the stored vector is the new content's embedding");
    assert_ne!(new_vector, old_vector);
    assert!(keyword(&f, "redis").await.is_empty());
    assert_eq!(keyword(&f, "memcached").await, [mid.as_str()]);

    let retagged = f
        .memories
        .update("app", &mid, None, Some(tags(&["Infra"])), Some("ops".into()))
        .await
        .expect("tags and source");
    assert_eq!((retagged.tags, retagged.source), (tags(&["infra"]), "ops".to_string()));
    assert_eq!(f.store.vectors(&p).await.expect("vectors").remove(0).1, expected);

    assert_err_contains(
        f.memories.update("app", &mid, None, None, None).await,
        "nothing to update",
    );
    let unknown = f.memories.update("app", "nope", None, Some(tags(&["x"])), None).await;
    assert!(matches!(unknown, Err(MemoryError::Store(StoreError::NotFound { .. }))));
    assert_err_contains(
        f.memories.update("app", &mid, Some("  ".into()), None, None).await,
        "content is empty",
    );
}

#[tokio::test]
async fn retag_sets_or_changes_and_topics_follow() {
    let f = Fixture::new().await;
    let p = name("app");
    let a = f.memories.remember("app", "Alpha note".into(), tags(&["x", "y"]), None, None);
    let a = a.await.stored("a");
    let b = f.memories.remember("app", "Beta note".into(), tags(&["y"]), None, None);
    let b = b.await.stored("b");
    let topics = |t: Vec<annal_engine::store::TagCount>| -> Vec<(String, u64)> {
        t.into_iter().map(|c| (c.tag, c.count)).collect()
    };
    assert_eq!(
        topics(f.store.topics(&p).await.expect("topics")),
        [("y".to_string(), 2), ("x".to_string(), 1)]
    );

    let set = f.memories.retag("app", &a, None, None, Some(tags(&["Z"]))).await.expect("set");
    assert_eq!(set, ["z"]);
    let changed = f
        .memories
        .retag("app", &b, Some(tags(&["z", "w"])), Some(tags(&["y"])), None)
        .await
        .expect("change");
    assert_eq!(changed, ["z", "w"]);
    assert_eq!(
        topics(f.store.topics(&p).await.expect("topics")),
        [("z".to_string(), 2), ("w".to_string(), 1)]
    );

    assert_err_contains(
        f.memories.retag("app", &a, Some(tags(&["q"])), None, Some(tags(&["r"]))).await,
        "cannot be combined",
    );
    assert_err_contains(
        f.memories.retag("app", &a, None, Some(tags(&["z"])), None).await,
        "without tags",
    );
    assert_err_contains(f.memories.retag("app", &a, None, None, None).await, "give set_tags");
    assert_err_contains(
        f.memories.retag("app", "missing", None, None, Some(tags(&["r"]))).await,
        "not found",
    );
    assert_eq!(f.store.get(&p, vec![id(&a)]).await.expect("get")[0].tags, ["z"]);
}

#[tokio::test]
async fn delete_removes_the_memory_its_tags_and_its_text_row() {
    let f = Fixture::new().await;
    let p = name("app");
    let keep = f.memories.remember("app", "Keep the zebra".into(), tags(&["keep"]), None, None);
    let keep = keep.await.stored("keep");
    let mut gone = Vec::new();
    let texts = [
        "The giraffe escaped from the zoo last spring",
        "Feed the giraffe twice a day during winter",
        "A giraffe sleeps less than an hour per night",
    ];
    for text in texts {
        let stored = f.memories.remember("app", text.into(), tags(&["drop"]), None, None);
        gone.push(stored.await.stored(text));
    }
    f.memories.delete("app", &gone[0]).await.expect("delete one");
    assert_err_contains(f.memories.delete("app", &gone[0]).await, "not found");
    let many = f.store.delete_many(&p, vec![id(&gone[1]), id(&gone[2]), id("unknown")]).await;
    assert_eq!(many.expect("delete many"), 2);

    assert!(keyword(&f, "giraffe").await.is_empty());
    assert_eq!(keyword(&f, "zebra").await, [keep]);
    let stats = f.store.stats(&p, Utc::now() - Duration::days(60)).await.expect("stats");
    assert_eq!((stats.total, stats.agent_memories), (1, 1));
    assert_eq!(stats.top_tags.len(), 1);
    assert_eq!(stats.top_tags[0].tag, "keep");
    assert_eq!(f.store.vectors(&p).await.expect("vectors").len(), 1);
}

#[tokio::test]
async fn supersede_hides_the_old_memory_until_its_replacement_goes() {
    let f = Fixture::new().await;
    let p = name("app");
    let old = f.memories.remember("app", "Use REST".into(), tags(&["api-old"]), None, None);
    let old = old.await.stored("old");
    let new = f
        .memories
        .remember("app", "Use gRPC instead".into(), tags(&["api"]), None, Some(old.clone()))
        .await
        .stored("new");
    let got = f.store.get(&p, vec![id(&old)]).await.expect("get").remove(0);
    assert_eq!(got.superseded_by.as_deref(), Some(new.as_str()));
    let topic_names: Vec<_> =
        f.store.topics(&p).await.expect("topics").into_iter().map(|t| t.tag).collect();
    assert_eq!(topic_names, ["api"], "superseded memories' tags are not topics");
    let stats = f.store.stats(&p, Utc::now()).await.expect("stats");
    assert_eq!((stats.total, stats.superseded), (2, 1));

    f.memories.delete("app", &new).await.expect("delete replacement");
    let got = f.store.get(&p, vec![id(&old)]).await.expect("get").remove(0);
    assert_eq!(got.superseded_by, None);

    assert_err_contains(f.store.supersede(&p, &id(&old), &id(&old)).await, "cannot supersede");
    assert_err_contains(f.store.supersede(&p, &id("ghost"), &id(&old)).await, "not found");
    let orphan = f.memories.remember(
        "app",
        "Points at nothing".into(),
        tags(&["x"]),
        None,
        Some("ghost".into()),
    );
    assert_err_contains(orphan.await, "not found");
    assert_eq!(f.store.stats(&p, Utc::now()).await.expect("stats").total, 1, "nothing written");
}

#[tokio::test]
async fn expand_counts_hits_for_agent_memories_only() {
    let f = Fixture::new().await;
    let p = name("app");
    let agent = f.memories.remember("app", "Hit me".into(), tags(&["t"]), None, None);
    let agent = agent.await.stored("agent");
    let chunk = file_chunk("docs/a.md > Intro", "Some documentation").await;
    let chunk_id = chunk.memory.id.as_str().to_owned();
    f.store.insert(&p, vec![chunk]).await.expect("chunk");

    for _ in 0..2 {
        let expanded = f
            .memories
            .expand("app", vec![agent.clone(), chunk_id.clone(), "missing".into()])
            .await
            .expect("expand");
        assert_eq!(expanded.memories.len(), 2);
        assert_eq!(expanded.missing, ["missing"]);
    }
    let got = f.store.get(&p, vec![id(&agent), id(&chunk_id)]).await.expect("get");
    assert_eq!(got[0].hit_count, 2);
    assert!(got[0].last_accessed_at.is_some());
    assert_eq!((got[1].hit_count, got[1].last_accessed_at), (0, None));
}

async fn file_chunk(heading: &str, text: &str) -> StoreItem {
    let mut memory =
        NewMemory::agent(text, ["indexed", "docs"], format!("file:/x|{heading}")).expect("valid");
    memory.chunk_type = ChunkType::FileIndexed;
    memory.file = Some(FileInfo {
        path: "/x/docs/a.md".into(),
        mtime_ns: 1_700_000_000_000_000_000,
        size: 42,
        chunk_hash: "abc".into(),
    });
    StoreItem { vector: vector(text).await, memory, supersedes: None }
}

#[tokio::test]
async fn stale_and_never_accessed_follow_the_cutoff() {
    let f = Fixture::new().await;
    let p = name("app");
    let now = Utc::now();
    let aged = |text: &str, days: i64| {
        let mut memory = NewMemory::agent(text, ["t"], "").expect("valid");
        memory.created_at = now - Duration::days(days);
        memory
    };
    let mut items = Vec::new();
    for (text, days) in [("old never read", 61), ("new never read", 1), ("old read long ago", 90)] {
        items.push(StoreItem {
            memory: aged(text, days),
            vector: vector(text).await,
            supersedes: None,
        });
    }
    items.push(file_chunk("a.md > B", "an old chunk").await);
    let ids = f.store.insert(&p, items).await.expect("insert");
    f.store.record_access(&p, vec![ids[2].clone()], now - Duration::days(70)).await.expect("hit");

    let cutoff = now - Duration::days(60);
    let stats = f.store.stats(&p, cutoff).await.expect("stats");
    assert_eq!((stats.stale, stats.never_accessed), (1, 1));
    assert_eq!((stats.agent_memories, stats.file_chunks), (3, 1));
    let with_never: Vec<_> = f
        .store
        .find_stale(&p, cutoff, true)
        .await
        .expect("stale")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(with_never, [ids[2].clone(), ids[0].clone()]);
    let without: Vec<_> = f
        .store
        .find_stale(&p, cutoff, false)
        .await
        .expect("stale")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(without, [ids[2].clone()]);
    // The list's "stale only" filter selects exactly what the stats count as stale.
    let query = ListQuery { stale_before: Some(cutoff), limit: 10, ..ListQuery::default() };
    let page = f.store.list(&p, query).await.expect("list");
    assert_eq!(page.total, stats.stale);
    assert_eq!(page.items.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), [ids[2].clone()]);

    let dry = f.memories.prune_stale("app", 60, true, true).await.expect("dry run");
    assert_eq!((dry.stale.len(), dry.deleted), (2, 0));
    assert_eq!(f.store.stats(&p, cutoff).await.expect("stats").agent_memories, 3);
    let pruned = f.memories.prune_stale("app", 60, true, false).await.expect("prune");
    assert_eq!(pruned.deleted, 2);
    let left = f.store.stats(&p, cutoff).await.expect("stats");
    assert_eq!(
        (left.agent_memories, left.file_chunks, left.stale, left.never_accessed),
        (1, 1, 0, 0)
    );
    assert_err_contains(f.memories.prune_stale("app", 0, true, true).await, "max_age_days");
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_written() {
    let f = Fixture::new().await;
    let big = "x".repeat(MAX_CONTENT_BYTES + 1);
    let cases: Vec<(String, Vec<String>, &str)> = vec![
        ("".into(), tags(&["t"]), "content is empty"),
        (" \n\t ".into(), tags(&["t"]), "content is empty"),
        (big, tags(&["t"]), "limit is 65536 bytes"),
        ("fine".into(), tags(&[" ", ""]), "at least one tag"),
        ("fine".into(), vec![], "at least one tag"),
    ];
    for (content, tags, message) in cases {
        assert_err_contains(f.memories.remember("app", content, tags, None, None).await, message);
    }
    for bad in ["../x", "a/b", "", &"p".repeat(65)] {
        let result = f.memories.remember(bad, "fine".into(), tags(&["t"]), None, None).await;
        assert!(matches!(result, Err(MemoryError::ProjectName(_))), "{bad:?}: {result:?}");
    }
    assert!(f.store.projects().await.expect("projects").is_empty(), "no project registered");

    let unknown = name("never-stored");
    assert!(matches!(f.store.topics(&unknown).await, Err(StoreError::UnknownProject { .. })));
    assert!(matches!(
        f.store.stats(&unknown, Utc::now()).await,
        Err(StoreError::UnknownProject { .. })
    ));
    assert_err_contains(
        f.memories.expand("never-stored", vec!["a".into()]).await,
        "unknown project",
    );
    assert!(f.memories.topics("never-stored").await.expect("no topics yet").is_empty());
    assert_err_contains(f.memories.delete("never-stored", "a").await, "unknown project");
    assert_err_contains(
        f.memories.update("never-stored", "a", None, Some(tags(&["t"])), None).await,
        "unknown project",
    );
    assert_err_contains(
        f.memories.prune_stale("never-stored", 60, true, true).await,
        "unknown project",
    );
    assert!(f.store.projects().await.expect("projects").is_empty(), "reads register nothing");
}

#[tokio::test]
async fn a_failing_batch_inserts_nothing() {
    let f = Fixture::new().await;
    let p = name("imports");
    let mut first = NewMemory::agent("one", ["t"], "").expect("valid");
    first.id = id("fixed-id");
    let mut second = NewMemory::agent("two", ["t"], "").expect("valid");
    second.id = id("fixed-id");
    let items = vec![
        StoreItem { memory: first, vector: vector("one").await, supersedes: None },
        StoreItem { memory: second, vector: vector("two").await, supersedes: None },
    ];
    assert_err_contains(f.store.insert(&p, items).await, "already exists");
    assert!(f.store.projects().await.expect("projects").is_empty());
    let short = StoreItem {
        memory: NewMemory::agent("three", ["t"], "").expect("valid"),
        vector: vec![0.5; 3],
        supersedes: None,
    };
    assert_err_contains(
        f.store.insert(&p, vec![short]).await,
        "has 3 values, expected 384 per window",
    );
}

#[tokio::test]
async fn readers_do_not_wait_behind_a_writer() {
    let f = Fixture::new().await;
    let p = name("app");
    let stored = f.memories.remember("app", "Readable".into(), tags(&["t"]), None, None);
    let stored = stored.await.stored("stored");

    // Another connection takes the write lock and holds it: our writer has to wait for it,
    // our reader must not.
    let path = f.store.path().to_path_buf();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.execute_batch("BEGIN IMMEDIATE; UPDATE memories SET source = 'held';").expect("lock");
        locked_tx.send(()).expect("signal");
        release_rx.recv().expect("release");
        conn.execute_batch("COMMIT").expect("commit");
    });
    locked_rx.recv().expect("locked");
    let write = {
        let memories = f.memories.clone();
        tokio::spawn(async move {
            memories.remember("app", "Written later".into(), tags(&["t"]), None, None).await
        })
    };
    let read = tokio::time::timeout(StdDuration::from_secs(5), async {
        let got = f.store.get(&p, vec![id(&stored)]).await.expect("get");
        let stats = f.store.stats(&p, Utc::now()).await.expect("stats");
        (got, stats)
    })
    .await
    .expect("reads finished while the write lock was held");
    assert_eq!(read.0[0].source, "", "the reader sees the last committed state");
    assert_eq!(read.1.total, 1);
    assert!(!write.is_finished(), "the writer waits for the lock");
    release_tx.send(()).expect("release");
    holder.join().expect("holder");
    write.await.expect("join").expect("the write goes through after the lock is released");
    assert_eq!(f.store.stats(&p, Utc::now()).await.expect("stats").total, 2);
}

#[tokio::test]
async fn reopening_keeps_data_and_a_newer_schema_is_refused() {
    let f = Fixture::new().await;
    let stored = f.memories.remember("app", "Persisted".into(), tags(&["t"]), None, None);
    let stored = stored.await.stored("stored");
    let reopened = Store::open(f.dir.path()).await.expect("reopen");
    let got = reopened.get(&name("app"), vec![id(&stored)]).await.expect("get");
    assert_eq!(got[0].content, "Persisted");

    let other = tempfile::tempdir().expect("dir");
    let conn = rusqlite::Connection::open(other.path().join("annal.db")).expect("open");
    conn.execute_batch("PRAGMA user_version = 99").expect("version");
    drop(conn);
    assert_err_contains(Store::open(other.path()).await, "newer than this Annal supports");
}
