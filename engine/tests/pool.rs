//! The pool: init_project → background reconcile → index_status, index_failed for real (a
//! missing watch path, a panicking model), one run at a time, follow-ups, shutdown, and the
//! event bus.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use annal_engine::config::{ProjectChange, ProjectInit};
use annal_engine::embed::{EmbedError, EmbedService, Embedder, MiniLm};
use annal_engine::events::{EventBus, EventDetail, EventKind};
use annal_engine::pool::{Activity, IndexState, IndexStatus, Pool, PoolError};
use annal_engine::search::SearchRequest;
use annal_engine::store::Store;
use tokio::sync::broadcast::error::RecvError;

use crate::util::{PANIC_TRIGGER, model_dir, open_pool, open_pool_with, panicking_embedder};

fn watch(paths: &[&Path]) -> ProjectInit {
    ProjectInit {
        watch_paths: Some(paths.iter().map(|p| p.to_path_buf()).collect()),
        ..Default::default()
    }
}

/// Polls `index_status` until `done` holds, with a deadline.
async fn wait_for(pool: &Pool, project: &str, done: impl Fn(&IndexStatus) -> bool) -> IndexStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = pool.index_status(project).await.expect("status");
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "timed out; last status {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn idle_after_run(status: &IndexStatus) -> bool {
    status.index == IndexState::Idle && status.last_reconcile.is_some()
}

#[tokio::test]
async fn init_project_indexes_in_the_background_and_search_finds_docs() {
    let home = tempfile::tempdir().expect("home");
    let docs = tempfile::tempdir().expect("docs");
    std::fs::write(docs.path().join("deploy.md"), "# Deploy\nRun the blue-green switch at noon.\n")
        .expect("write");
    let pool = open_pool(home.path()).await;
    let reply = pool.init_project("app", watch(&[docs.path()]), None).await.expect("init");
    assert_eq!(reply.changes[0], ProjectChange::Created);
    assert!(reply.indexing);
    let status = wait_for(&pool, "app", idle_after_run).await;
    assert_eq!(status.stats.file_chunks, 1);
    let report = &status.last_reconcile.as_ref().expect("last").report;
    assert_eq!((report.files_seen, report.files_indexed), (1, 1));

    let results = pool
        .memories()
        .search(SearchRequest::new("app", "blue-green deployment"))
        .await
        .expect("search");
    assert!(results.hits[0].memory.source.ends_with("deploy.md|deploy.md > Deploy"));

    let again = pool.init_project("app", watch(&[docs.path()]), None).await.expect("again");
    assert!(again.changes.is_empty(), "the same call twice changes nothing");

    // Removing the watch path from the project removes its chunks.
    let none = ProjectInit { watch_paths: Some(vec![]), ..Default::default() };
    pool.init_project("app", none, None).await.expect("remove path");
    let status = wait_for(&pool, "app", |s| idle_after_run(s) && s.stats.file_chunks == 0).await;
    assert_eq!(status.stats.file_chunks, 0);
    pool.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_failed_reconcile_ends_in_index_failed_and_a_later_run_clears_it() {
    let home = tempfile::tempdir().expect("home");
    let docs = tempfile::tempdir().expect("docs");
    let watched = docs.path().join("watched");
    std::fs::create_dir(&watched).expect("mkdir");
    std::fs::write(watched.join("a.md"), "# A\nalpha\n").expect("write");
    let pool = open_pool(home.path()).await;
    let mut events = pool.events().subscribe();
    pool.init_project("app", watch(&[&watched]), None).await.expect("init");
    wait_for(&pool, "app", idle_after_run).await;

    // The watch path disappears as a whole: the run must fail visibly, not hang.
    std::fs::remove_dir_all(&watched).expect("remove");
    pool.index_files("app").await.expect("start");
    let failed = wait_for(&pool, "app", |s| matches!(s.index, IndexState::Failed { .. })).await;
    let IndexState::Failed { error, .. } = &failed.index else { unreachable!() };
    assert!(error.contains(&watched.display().to_string()), "{error}");
    let event = next_event(&mut events, EventKind::IndexFailed).await;
    assert_eq!(event.detail.error(), Some(error.as_str()));

    std::fs::create_dir(&watched).expect("recreate");
    std::fs::write(watched.join("b.md"), "# B\nbeta\n").expect("write");
    pool.index_files("app").await.expect("retry");
    let healed = wait_for(&pool, "app", |s| idle_after_run(s) && s.stats.file_chunks == 1).await;
    assert_eq!(healed.index, IndexState::Idle);
    // The re-created path is watched again: a new file is indexed without asking.
    std::fs::write(watched.join("c.md"), "# C\ngamma\n").expect("write");
    wait_for(&pool, "app", |s| s.stats.file_chunks == 2).await;
    pool.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn one_run_at_a_time_and_init_during_a_run_queues_a_follow_up() {
    let home = tempfile::tempdir().expect("home");
    let docs = tempfile::tempdir().expect("docs");
    for i in 0..60 {
        let text = format!("# File {i}\nSome text about topic {i}.\n## More\nDetails {i}.\n");
        std::fs::write(docs.path().join(format!("f{i:02}.md")), text).expect("write");
    }
    std::fs::write(docs.path().join("extra.txt"), "plain text file\n").expect("write");
    let pool = open_pool(home.path()).await;
    pool.init_project("app", watch(&[docs.path()]), None).await.expect("init");
    match pool.index_files("app").await {
        Err(PoolError::AlreadyIndexing { project, .. }) => assert_eq!(project, "app"),
        other => panic!("a second run must be refused while one runs, got {other:?}"),
    }
    // Changing the patterns while the first run goes queues exactly one more run.
    let txt = ProjectInit { watch_patterns: Some(vec!["**/*.txt".into()]), ..Default::default() };
    let reply = pool.init_project("app", txt, None).await.expect("init again");
    assert!(matches!(&reply.changes[..], [ProjectChange::WatchPatterns { .. }]));
    let status = wait_for(&pool, "app", |s| idle_after_run(s) && s.stats.file_chunks == 1).await;
    assert_eq!(status.last_reconcile.expect("last").report.files_seen, 1);
    assert_err(pool.index_files("nope").await, "unknown project");
    assert_err(
        pool.init_project("../x", ProjectInit::default(), None).await,
        "invalid project name",
    );
    assert_err(
        pool.init_project("app", watch(&[Path::new("/no/such/dir")]), None).await,
        "does not exist",
    );
    pool.shutdown(Duration::from_secs(10)).await;
}

fn assert_err<T: std::fmt::Debug>(result: Result<T, PoolError>, needle: &str) {
    match result {
        Err(err) => assert!(err.to_string().contains(needle), "{err}"),
        Ok(value) => panic!("expected an error containing {needle:?}, got {value:?}"),
    }
}

#[tokio::test]
async fn memory_events_are_numbered_and_survive_a_restart() {
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    let mut events = pool.events().subscribe();
    let outcome = pool
        .memories()
        .remember("app", "Events follow writes.".into(), vec!["t".into()], None, None)
        .await
        .expect("store");
    let annal_engine::store::StoreOutcome::Stored { id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    pool.memories().delete("app", &id).await.expect("delete");
    let stored = events.recv().await.expect("stored event");
    let deleted = events.recv().await.expect("deleted event");
    assert_eq!(stored.detail, EventDetail::MemoryStored { id: id.clone() });
    assert_eq!(deleted.detail, EventDetail::MemoryDeleted { ids: vec![id] });
    assert_eq!(deleted.seq, stored.seq + 1);

    // The feed is written in the background; reopen until it is there.
    let data = home.path().join("data");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let store = Store::open(&data).await.expect("store");
        let bus = EventBus::open(store).await.expect("bus");
        let feed: Vec<u64> = bus.recent().iter().map(|e| e.seq).collect();
        if feed.contains(&deleted.seq) {
            let next = bus.publish("app", EventDetail::ProjectUpdated { changes: vec![] });
            assert_eq!(next.seq, deleted.seq + 1, "the sequence continues after a restart");
            break;
        }
        assert!(Instant::now() < deadline, "feed not persisted: {feed:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_slow_subscriber_is_told_it_lagged_and_producers_never_wait() {
    let data = tempfile::tempdir().expect("data");
    let bus = EventBus::open(Store::open(data.path()).await.expect("store")).await.expect("bus");
    let mut slow = bus.subscribe();
    // Publishing is synchronous: had it waited for the reader, this loop would never end.
    for i in 0..3000 {
        bus.publish("app", EventDetail::IndexProgress { files_done: i });
    }
    match slow.recv().await {
        Err(RecvError::Lagged(missed)) => assert!(missed > 0),
        other => panic!("expected Lagged, got {other:?}"),
    }
    let next = slow.recv().await.expect("continues after the lag");
    assert!(next.seq > 1);
}

/// Heading paths of the project's file chunks (`file.md > Heading`).
async fn chunk_headings(pool: &Pool) -> Vec<String> {
    let project = annal_engine::project::ProjectName::parse("app").expect("name");
    let chunks = crate::util::memories_of_type(
        pool.memories().store(),
        &project,
        annal_engine::memory::ChunkType::FileIndexed,
    )
    .await;
    let mut headings: Vec<String> = chunks
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.source.split_once('|').map(|(_, h)| h.to_owned()))
        .collect();
    headings.sort();
    headings
}

async fn wait_for_headings(pool: &Pool, expected: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let headings = chunk_headings(pool).await;
        if headings == expected {
            return;
        }
        assert!(Instant::now() < deadline, "expected {expected:?}, have {headings:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_watcher_follows_create_modify_atomic_save_rename_and_delete() {
    let home = tempfile::tempdir().expect("home");
    let docs = tempfile::tempdir().expect("docs");
    let d = docs.path();
    std::fs::write(d.join("a.md"), "# Alpha\nfirst\n").expect("write");
    let pool = open_pool(home.path()).await;
    pool.init_project("app", watch(&[d]), None).await.expect("init");
    wait_for_headings(&pool, &["a.md > Alpha"]).await;

    std::fs::write(d.join("b.md"), "# Beta\nsecond\n").expect("create");
    wait_for_headings(&pool, &["a.md > Alpha", "b.md > Beta"]).await;

    std::fs::write(d.join("a.md"), "# Alpha\nfirst\n# Gamma\nthird\n").expect("modify");
    wait_for_headings(&pool, &["a.md > Alpha", "a.md > Gamma", "b.md > Beta"]).await;

    std::fs::write(d.join(".b.md.tmp"), "# Delta\nsaved atomically\n").expect("temp");
    std::fs::rename(d.join(".b.md.tmp"), d.join("b.md")).expect("atomic save");
    wait_for_headings(&pool, &["a.md > Alpha", "a.md > Gamma", "b.md > Delta"]).await;

    std::fs::rename(d.join("b.md"), d.join("c.md")).expect("rename");
    wait_for_headings(&pool, &["a.md > Alpha", "a.md > Gamma", "c.md > Delta"]).await;

    std::fs::remove_file(d.join("a.md")).expect("delete");
    wait_for_headings(&pool, &["c.md > Delta"]).await;

    std::fs::create_dir(d.join("sub")).expect("mkdir");
    std::fs::write(d.join("sub/e.md"), "# Epsilon\nnested\n").expect("nested");
    wait_for_headings(&pool, &["c.md > Delta", "e.md > Epsilon"]).await;
    std::fs::remove_dir_all(d.join("sub")).expect("rmdir");
    wait_for_headings(&pool, &["c.md > Delta"]).await;

    pool.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_panic_in_the_model_fails_the_run_and_the_next_run_works() {
    let home = tempfile::tempdir().expect("home");
    let docs = tempfile::tempdir().expect("docs");
    std::fs::write(docs.path().join("a.md"), "# Alpha\nA fine file.\n").expect("write");
    let bad = docs.path().join("b.md");
    std::fs::write(&bad, format!("# Beta\n{PANIC_TRIGGER}\n")).expect("write");
    let (service, _) = panicking_embedder();
    let pool = open_pool_with(home.path(), service).await;
    let init = ProjectInit { watch: Some(false), ..watch(&[docs.path()]) };
    pool.init_project("app", init, None).await.expect("init");
    let failed = wait_for(&pool, "app", |s| matches!(s.index, IndexState::Failed { .. })).await;
    let IndexState::Failed { error, .. } = &failed.index else { unreachable!() };
    assert!(error.contains("crashed") && error.contains(PANIC_TRIGGER), "{error}");

    // The embedding thread lives on: searches work, and so does the next run.
    let request = SearchRequest::new("app", "a fine file");
    pool.memories().search(request).await.expect("a search after the panic");
    std::fs::write(&bad, "# Beta\nFixed now.\n").expect("write");
    pool.index_files("app").await.expect("retry");
    let healed = wait_for(&pool, "app", |s| idle_after_run(s) && s.stats.file_chunks == 2).await;
    assert_eq!(healed.last_reconcile.expect("last").report.files_indexed, 2);
    pool.shutdown(Duration::from_secs(10)).await;
}

/// The real model, except that a text holding `GATE` waits inside the model until the test
/// says so, after telling it the model was entered.
struct Gated {
    inner: MiniLm,
    entered: std::sync::mpsc::Sender<()>,
    release: Arc<Mutex<std::sync::mpsc::Receiver<()>>>,
}

impl Embedder for Gated {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.iter().any(|t| t.contains("GATE")) {
            let _ = self.entered.send(());
            let _ = self.release.lock().expect("release").recv();
        }
        self.inner.embed(texts)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_no_indexing_task_running() {
    let home = tempfile::tempdir().expect("home");
    let docs = tempfile::tempdir().expect("docs");
    std::fs::write(docs.path().join("gate.md"), "# Gate\nGATE held shut.\n").expect("write");
    let (entered, inside) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let released = Arc::new(Mutex::new(released));
    let service = EmbedService::start(move || {
        let (entered, release) = (entered.clone(), Arc::clone(&released));
        Ok(Gated { inner: MiniLm::load(&model_dir())?, entered, release })
    });
    let pool = open_pool_with(home.path(), service).await;
    pool.init_project("app", watch(&[docs.path()]), None).await.expect("init");
    tokio::task::spawn_blocking(move || inside.recv_timeout(Duration::from_secs(60)))
        .await
        .expect("join")
        .expect("the run reached the model");

    // The run cannot finish in time, so shutdown aborts it. Once shutdown returns no task
    // holds the pool: no indexing code is left to write after the owner's lock is released.
    pool.shutdown(Duration::from_millis(100)).await;
    assert_eq!(Arc::strong_count(&pool), 1, "an indexing task outlived shutdown");
    match pool.activity() {
        Activity::Failed { project, error } => {
            assert_eq!(project, "app");
            assert!(error.contains("shut down"), "{error}");
        }
        other => panic!("an aborted run must end failed, got {other:?}"),
    }
    release.send(()).expect("release the model");
}

async fn agent_memories(pool: &Pool) -> Vec<String> {
    let project = annal_engine::project::ProjectName::parse("app").expect("name");
    let memories = crate::util::memories_of_type(
        pool.memories().store(),
        &project,
        annal_engine::memory::ChunkType::AgentMemory,
    );
    memories.await.unwrap_or_default().into_iter().map(|m| m.content).collect()
}

async fn remember(pool: &Pool, text: &str) -> Result<annal_engine::store::StoreOutcome, String> {
    let stored = pool.memories().remember("app", text.into(), vec!["t".into()], None, None);
    stored.await.map_err(|err| err.to_string())
}

/// `annal.db` deleted, or replaced by another Annal database (renamed over it), under a running
/// pool: every write is refused naming the file, the feed says so, the old WAL cannot leak
/// into the file now at the path, and after a restart that file is intact.
#[tokio::test]
async fn a_database_deleted_or_replaced_under_the_pool_refuses_every_write() {
    for replaced in [false, true] {
        let home = tempfile::tempdir().expect("home");
        let db = home.path().join("data").join("annal.db");
        let pool = open_pool(home.path()).await;
        let mut events = pool.events().subscribe();
        remember(&pool, "Written while the file was in place.").await.expect("first store");
        let replacement = crate::util::Fixture::new().await;
        if replaced {
            let other = replacement.memories.remember(
                "app",
                "Kept in the replacement database.".into(),
                vec!["t".into()],
                None,
                None,
            );
            other.await.expect("store in the replacement");
            replacement.store.close().await.expect("close the replacement");
            std::fs::rename(replacement.dir.path().join("annal.db"), &db).expect("replace");
        } else {
            std::fs::remove_file(&db).expect("delete");
        }

        let change = if replaced { "replaced by another file" } else { "deleted" };
        for text in ["Written after the change.", "Written after the change, again."] {
            let refused = remember(&pool, text).await.expect_err("a write into a lost file");
            assert!(
                refused.contains(&db.display().to_string()) && refused.contains(change),
                "{refused}"
            );
        }
        assert!(pool.database_lost_now().is_some());
        let event = next_event(&mut events, EventKind::DatabaseLost).await;
        let EventDetail::DatabaseLost { path, error } = &event.detail else { unreachable!() };
        assert_eq!(path, &db.display().to_string());
        assert!(error.contains(change), "{event:?}");
        let wal = home.path().join("data").join("annal.db-wal");
        let wal_size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert_eq!(
            wal_size, 0,
            "the old WAL, left at the path, would be replayed into the new file"
        );
        pool.shutdown(Duration::from_secs(10)).await;
        drop(pool);

        let reopened = open_pool(home.path()).await;
        let expected: &[&str] = if replaced { &["Kept in the replacement database."] } else { &[] };
        assert_eq!(agent_memories(&reopened).await, expected);
        let conn = tokio_rusqlite::rusqlite::Connection::open(&db).expect("open");
        let check: String =
            conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("check");
        assert_eq!(check, "ok");
        remember(&reopened, "Written after the restart.").await.expect("writes work again");
        reopened.shutdown(Duration::from_secs(10)).await;
    }
}

/// The next event of `kind` on `events`, within 10 s.
async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<annal_engine::events::Event>,
    kind: EventKind,
) -> annal_engine::events::Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline.into(), events.recv())
            .await
            .expect("event in time")
            .expect("event");
        if event.kind() == kind {
            return event;
        }
    }
}

/// Median of `times`.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A pool with its own embedding service (so no other test's work shares its lanes) and 20
/// decisions in project `app`.
async fn pool_with_decisions(home: &Path) -> Arc<Pool> {
    let service = EmbedService::minilm(annal_engine::embed::ModelSearch {
        env_dir: Some(model_dir()),
        ..Default::default()
    });
    let pool = open_pool_with(home, service).await;
    for i in 0..20 {
        let text = format!("Decision {i}: the on-call rotation changes every {i} weeks.");
        pool.memories()
            .remember("app", text, vec!["decision".into()], None, None)
            .await
            .expect("store");
    }
    pool
}

/// How long one search of project `app` takes.
async fn timed_search(pool: &Pool) -> Duration {
    let started = Instant::now();
    let found = pool.memories().search(SearchRequest::new("app", "who is paged by alerts")).await;
    assert!(found.is_ok(), "{found:?}");
    started.elapsed()
}

/// The median of 7 searches with nothing else running, after one to warm up.
async fn idle_search(pool: &Pool) -> Duration {
    timed_search(pool).await;
    let mut idle = Vec::new();
    for _ in 0..7 {
        idle.push(timed_search(pool).await);
    }
    median(idle)
}

/// Searches answer during a cold index of 500 files about as fast as when idle: the query's
/// embedding has a lane of its own and the bulk passes pause for it. The bound here is
/// generous (other tests share the machine); `cargo bench --bench index` reports the real
/// numbers.
#[tokio::test]
async fn a_search_during_a_cold_index_of_500_files_answers_within_twice_idle() {
    let home = tempfile::tempdir().expect("home");
    let docs = tempfile::tempdir().expect("docs");
    for i in 0..500 {
        let text = format!(
            "# Area {i}\n\nArea {i} is deployed by the platform team with a blue-green switch, \
             and its alerts page whoever is on call that week.\n\n## Runbook {i}\n\nRestart the \
             area {i} workers one at a time and watch the queue depth before the next one.\n"
        );
        std::fs::write(docs.path().join(format!("area-{i:03}.md")), text).expect("write");
    }
    let pool = pool_with_decisions(home.path()).await;
    let search = || timed_search(&pool);
    let idle = idle_search(&pool).await;
    pool.init_project("app", watch(&[docs.path()]), None).await.expect("init");
    let mut during = Vec::new();
    while during.len() < 7 {
        let status = pool.index_status("app").await.expect("status");
        if status.last_reconcile.is_some() {
            break;
        }
        if matches!(status.index, IndexState::Indexing { files_done, .. } if files_done > 0) {
            during.push(search().await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(during.len() >= 3, "the index ended before three searches ran during it");
    let (p50, worst) = (median(during.clone()), during.iter().max().copied().unwrap_or_default());
    let bound = idle * 2 + Duration::from_millis(150);
    assert!(p50 <= bound, "search p50 {p50:?} during the index, idle {idle:?}: {during:?}");
    assert!(worst <= idle * 4 + Duration::from_millis(500), "worst {worst:?}, idle {idle:?}");
    pool.shutdown(Duration::from_secs(10)).await;
}

/// Searches answer while another session's large `store_batch` runs about as fast as when
/// idle: the query's embedding has its lane, and the search holds a core while it ranks. The
/// bound here is generous (a loaded CI machine); `cargo bench --bench embedding` reports the
/// real numbers.
#[tokio::test]
async fn a_search_during_another_sessions_store_batch_answers_within_twice_idle() {
    let home = tempfile::tempdir().expect("home");
    let pool = pool_with_decisions(home.path()).await;
    let search = || timed_search(&pool);
    let idle = idle_search(&pool).await;
    let sentence = "The release train leaves on Thursdays and the hotfix branch is cut from it. ";
    let items: Vec<_> = (0..48)
        .map(|i| annal_engine::memories::BatchItem {
            content: Some(format!("Release note {i}. {}", sentence.repeat(100))),
            tags: Some(vec!["release".into()]),
            ..Default::default()
        })
        .collect();
    let batch = tokio::spawn({
        let pool = pool.clone();
        async move { pool.memories().remember_batch("other", items).await }
    });
    let mut during = Vec::new();
    while !batch.is_finished() && during.len() < 7 {
        during.push(search().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(batch.await.expect("join").expect("batch").len(), 48);
    assert!(during.len() >= 3, "the batch ended before three searches ran during it");
    let (p50, worst) = (median(during.clone()), during.iter().max().copied().unwrap_or_default());
    let bound = idle * 2 + Duration::from_millis(150);
    assert!(p50 <= bound, "search p50 {p50:?} during the batch, idle {idle:?}: {during:?}");
    assert!(worst <= idle * 4 + Duration::from_millis(500), "worst {worst:?}, idle {idle:?}");
    pool.shutdown(Duration::from_secs(10)).await;
}
