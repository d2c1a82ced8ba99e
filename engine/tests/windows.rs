//! Long memories: text past the model's 256-token window is embedded in further windows (one
//! per paragraph), the first exactly as before, and a memory scores by its best window; dedup
//! compares memories window by window.

use annal_engine::embed::{DIMENSIONS, MAX_WINDOWS, Priority};
use annal_engine::search::{Ranking, SearchRequest};
use annal_engine::store::{SNAPSHOT_FILE, Store, StoreOutcome};
use annal_engine::vector_index::{dot, read};

use crate::util::{Fixture, Stored as _, embedder, tags};

/// About 630 tokens (twelve paragraphs) of notes on a release process; only the last paragraph says where the
/// nightly database backups go.
fn long_memory(last: &str) -> String {
    let head = [
        "Release notes for the payments service are drafted by whoever merged the largest change \
         of the week, reviewed by the on-call engineer, and published on Thursday afternoon so \
         that support has a day to read them before the weekend traffic begins.",
        "Every release candidate is built from a tag on the main branch. The build produces a \
         container image, a signed checksum file and a changelog excerpt; all three are attached \
         to the tag, and nothing is deployed that was not built this way, even for hotfixes.",
        "Staging receives the candidate first. The smoke suite exercises card authorisation, \
         refunds, currency conversion and the webhook retries; a failure in any of them blocks \
         promotion, and the author of the failing change is paged rather than the on-call.",
        "Production rollout goes region by region, starting with the smallest. Each region waits \
         for thirty minutes of clean error budgets before the next one starts, and the rollout \
         tool pauses on its own if the p99 latency of the authorisation endpoint rises by more \
         than a fifth compared with the previous release.",
        "Rollbacks never need a meeting. Anyone on the team may roll back a region with the \
         rollout tool, and is expected to write two sentences in the incident channel saying \
         what they saw; the post-mortem, if one is needed, comes the next working day.",
        "Feature flags are cleaned up in the release after the one that turned them on for \
         everyone. Stale flags are listed by a weekly job, and the owner named in the flag's \
         definition receives the list; flags without an owner are removed after a warning.",
        "Database migrations ship one release ahead of the code that needs them, are always \
         backwards compatible for one version, and run in a separate step of the rollout so \
         that a slow migration never holds the deployment of unrelated services.",
        "Dependency upgrades are batched into the first release of each month. The bot opens \
         one pull request per ecosystem, the owner of the service reviews the changelogs, and \
         major versions get a ticket of their own instead of riding along with the batch.",
        "Load tests run against staging before any release that touches the authorisation \
         path. The reference scenario replays a recorded hour of Black Friday traffic at twice \
         its rate, and the release waits if the error rate rises above one in ten thousand.",
        "Customer-facing text changes go through the localisation team, who need three working \
         days; releases that change checkout wording are scheduled around that, and the copy \
         is frozen once translation starts so the languages never drift apart.",
        "On-call handover happens on Monday mornings. The outgoing engineer writes a short \
         summary of open incidents, flaky alerts and anything half-finished, and the incoming \
         one confirms in the channel that they have read it and hold the pager.",
    ];
    format!("{}\n\n{last}", head.join("\n\n"))
}

const TAIL: &str = "Nightly backups of the ledger database are written to a cold-storage \
                    bucket in another region, encrypted with a key only the security team \
                    holds, and kept for ninety days before they are deleted.";
const QUERY: &str = "where do the ledger database's nightly backups get stored and how long \
                     are they retained";

#[tokio::test]
async fn a_long_text_is_embedded_in_overlapping_windows_whose_first_is_the_plain_embedding() {
    let embedder = embedder();
    let long = long_memory(TAIL);
    let short = "Rollbacks never need a meeting.".to_owned();
    let huge = long.repeat(12);
    let texts = vec![long.clone(), short.clone(), huge];
    let windowed = embedder.embed_windows(texts.clone(), Priority::Bulk).await.expect("windows");
    let plain = embedder.embed(texts, Priority::Bulk).await.expect("plain");
    let counts: Vec<usize> = windowed.iter().map(|v| v.len() / DIMENSIONS).collect();
    // 630 tokens in twelve paragraphs: the first window ends in the fifth, which and each
    // after it get a window of their own.
    assert_eq!(counts[0], 9, "one window, then one per paragraph it did not finish");
    assert_eq!(counts[1], 1, "a short text has one window");
    assert_eq!(counts[2], MAX_WINDOWS, "a very long text stops at the cap");
    for (windows, plain) in windowed.iter().zip(&plain) {
        assert!(windows.len().is_multiple_of(DIMENSIONS));
        let worst =
            windows[..DIMENSIONS].iter().zip(plain).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-6, "the first window is what embed gives, off by {worst}");
        for window in windows.chunks_exact(DIMENSIONS) {
            let norm = dot(window, window).sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "each window is unit length: {norm}");
        }
    }
    // The tail is only in the last window: the query finds it there, not in the first.
    let query = embedder.embed_one(QUERY.into()).await.expect("query");
    let first = dot(&query, &windowed[0][..DIMENSIONS]);
    let last = dot(&query, &windowed[0][8 * DIMENSIONS..]);
    assert!(last > first + 0.2, "last window {last} vs first {first}");
}

/// Short memories on nearby subjects, so rank 1 means something.
async fn neighbours(f: &Fixture) {
    for text in [
        "The analytics warehouse is snapshotted every hour and snapshots are kept for a week.",
        "Logs from the payments service are shipped to the central log store and kept 30 days.",
        "Uploaded receipts live in an object storage bucket with versioning turned on.",
        "The ledger service writes every transaction to an append-only table before it commits.",
        "Database credentials rotate monthly; the vault agent renews them on every host.",
        "Backups of the developer laptops run weekly through the endpoint management tool.",
    ] {
        f.memories.remember("ops", text.into(), tags(&["ops"]), None, None).await.stored(text);
    }
}

async fn rank_of(f: &Fixture, id: &str, ranking: Ranking) -> Option<usize> {
    let mut request = SearchRequest::new("ops", QUERY);
    request.ranking = ranking;
    request.limit = 10;
    request.min_score = -1.0;
    let hits = f.memories.search(request).await.expect("search").hits;
    hits.iter().position(|h| h.memory.id == id)
}

#[tokio::test]
async fn a_query_answered_only_by_the_last_paragraph_of_a_long_memory_finds_it_first() {
    let f = Fixture::new().await;
    neighbours(&f).await;
    let long = long_memory(TAIL);
    let id = f.memories.remember("ops", long, tags(&["release"]), None, None).await.stored("long");
    for ranking in [Ranking::VectorOnly, Ranking::Hybrid] {
        assert_eq!(rank_of(&f, &id, ranking).await, Some(0), "{ranking:?}");
    }
    let mut request = SearchRequest::new("ops", QUERY);
    request.limit = 1;
    let hit = f.memories.search(request).await.expect("search").hits.remove(0);
    assert!(hit.score > 0.5, "the reported score is the best window's cosine: {}", hit.score);

    // Edited so the backups paragraph is gone: the memory no longer answers; and back.
    let edited = long_memory("Nothing else is part of the release process.");
    f.memories.update("ops", &id, Some(edited), None, None).await.expect("edit");
    assert_ne!(rank_of(&f, &id, Ranking::VectorOnly).await, Some(0), "the old tail is gone");
    f.memories.update("ops", &id, Some(long_memory(TAIL)), None, None).await.expect("edit back");
    assert_eq!(rank_of(&f, &id, Ranking::VectorOnly).await, Some(0));

    // The windows survive a restart, from the snapshot and from the database alike.
    let dir = f.dir.path().to_path_buf();
    f.store.close().await.expect("close");
    for snapshot in [true, false] {
        if !snapshot {
            std::fs::remove_file(dir.join(SNAPSHOT_FILE)).expect("the close wrote a snapshot");
        }
        let store = Store::open(&dir).await.expect("reopen");
        let index = store.index().await.expect("index");
        let shard = index.project("ops").expect("project");
        let vectors = read(&shard).vectors_of(&id).expect("indexed");
        assert_eq!(vectors.len(), 9 * DIMENSIONS, "snapshot {snapshot}: nine windows");
        store.close().await.expect("close");
    }
}

#[tokio::test]
async fn dedup_compares_long_memories_window_by_window() {
    let f = Fixture::new().await;
    let long = long_memory(TAIL);
    let first = f.memories.remember("ops", long.clone(), tags(&["release"]), None, None);
    let first = first.await.stored("long");
    match f.memories.remember("ops", long.clone(), tags(&["release"]), None, None).await {
        Ok(StoreOutcome::Skipped { duplicate_of, .. }) => assert_eq!(duplicate_of, first),
        other => panic!("the same long memory again is a duplicate, got {other:?}"),
    }
    // The same first 600 tokens, then another subject: not a duplicate (its tail is new).
    let other_tail = "The staging database is rebuilt from anonymised production data every \
                      Sunday night, and the rebuild takes about four hours.";
    let different = long_memory(other_tail);
    match f.memories.remember("ops", different, tags(&["release"]), None, None).await {
        Ok(StoreOutcome::Stored { similar, .. }) => {
            let similar = similar.expect("hinted as similar");
            assert_eq!(similar.id, first);
            assert!(similar.score <= 0.95, "below the duplicate bar: {}", similar.score);
        }
        other => panic!("a different tail is stored, got {other:?}"),
    }
    // Only the opening paragraphs of the long one (within one window): not its duplicate.
    let opening = long.split("\n\n").take(3).collect::<Vec<_>>().join("\n\n");
    let opening = f.memories.remember("ops", opening, tags(&["release"]), None, None).await;
    opening.stored("the opening alone");
    // Within one batch the same rule holds.
    let batch = vec![
        annal_engine::memories::BatchItem {
            content: Some(long_memory("Batch tail one about a pager rotation.")),
            tags: Some(tags(&["batch"])),
            ..Default::default()
        },
        annal_engine::memories::BatchItem {
            content: Some(long_memory("Batch tail one about a pager rotation.")),
            tags: Some(tags(&["batch"])),
            ..Default::default()
        },
    ];
    let outcomes = f.memories.remember_batch("ops", batch).await.expect("batch");
    assert!(matches!(outcomes[0], StoreOutcome::Stored { .. }), "{outcomes:?}");
    assert!(matches!(outcomes[1], StoreOutcome::Skipped { in_batch: true, .. }), "{outcomes:?}");
}

#[tokio::test]
async fn long_memories_stored_before_windows_are_embedded_in_windows_once() {
    use annal_engine::memories::BACKFILL_JOB;
    use annal_engine::memory::NewMemory;
    use annal_engine::project::ProjectName;
    use annal_engine::store::StoreItem;

    let f = Fixture::new().await;
    neighbours(&f).await;
    // As an older annal stored them: one vector, of the first window only.
    let project = ProjectName::parse("ops").expect("name");
    let texts = vec![long_memory(TAIL), long_memory("An unrelated last paragraph on pagers.")];
    let firsts = f.memories.embedder().embed(texts.clone(), Priority::Bulk).await.expect("embed");
    let items: Vec<StoreItem> = texts
        .iter()
        .zip(firsts)
        .map(|(text, vector)| StoreItem {
            memory: NewMemory::agent(text.clone(), ["release"], "").expect("memory"),
            vector,
            supersedes: None,
        })
        .collect();
    let ids = f.store.insert(&project, items).await.expect("insert");
    assert_ne!(rank_of(&f, &ids[0], Ranking::VectorOnly).await, Some(0), "its tail is unseen");
    // Edited between the read and the write: the edit's own windows stay.
    let stale = annal_engine::store::OneWindow {
        project: "ops".into(),
        id: ids[1].clone(),
        content: "not what is stored".into(),
    };
    let vectors = vec![0.5_f32 / (DIMENSIONS as f32).sqrt(); 2 * DIMENSIONS];
    assert_eq!(f.store.write_windows(vec![(stale, vectors)]).await.expect("write"), 0);

    let report = f.memories.backfill_windows().await.expect("backfill");
    assert_eq!((report.memories_windowed, report.memories_read), (2, 2), "{report:?}");
    assert_eq!(rank_of(&f, &ids[0], Ranking::VectorOnly).await, Some(0), "found by its tail");
    assert!(f.store.maintenance_done(BACKFILL_JOB).await.expect("done"));
    let again = f.memories.backfill_windows().await.expect("again");
    assert_eq!(again.memories_read, 0, "once per database");
    // Bad input: vectors that are not whole windows are refused, nothing written.
    let bad = annal_engine::store::OneWindow {
        project: "ops".into(),
        id: ids[0].clone(),
        content: texts[0].clone(),
    };
    assert!(f.store.write_windows(vec![(bad, vec![0.0; DIMENSIONS + 3])]).await.is_err());
    assert_eq!(rank_of(&f, &ids[0], Ranking::VectorOnly).await, Some(0));
}
