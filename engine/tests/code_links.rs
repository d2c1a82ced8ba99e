//! Code-linked memories through a real pool: the watcher and a reconcile mark memories whose
//! files changed, went or moved; untouched files never mark; confirming or editing clears the
//! mark; files outside the watch paths are never linked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use annal_engine::code_links::{Review, ReviewReason};
use annal_engine::config::ProjectInit;
use annal_engine::memory::Memory;
use annal_engine::memory::MemoryId;
use annal_engine::pool::{IndexState, Pool};
use annal_engine::project::ProjectName;
use annal_engine::search::SearchRequest;

use crate::util::{open_pool, tags};

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

impl Tree {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let base = dir.path().canonicalize().expect("canonical");
        for sub in ["src", "docs"] {
            std::fs::create_dir_all(base.join("proj").join(sub)).expect("mkdir");
        }
        let root = base.join("proj");
        let outside = base.join("outside.rs");
        std::fs::write(&outside, "fn outside() {}\n").expect("write");
        std::fs::write(root.join("src/a.rs"), "pub fn session() -> bool { true }\n").expect("a");
        std::fs::write(root.join("src/c.rs"), "pub fn steady() {}\n").expect("c");
        let lines: String = (1..=20).map(|n| format!("Setup step {n}.\n")).collect();
        std::fs::write(root.join("docs/b.md"), format!("# Setup\n{lines}")).expect("b");
        Self { _dir: dir, root, outside }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn text(&self, relative: &str) -> String {
        self.path(relative).to_str().expect("utf-8").to_owned()
    }
}

async fn project(pool: &Arc<Pool>, tree: &Tree, watch: bool) {
    let init = ProjectInit {
        watch_paths: Some(vec![tree.root.clone()]),
        watch: Some(watch),
        ..Default::default()
    };
    pool.init_project("app", init, None).await.expect("init");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = pool.index_status("app").await.expect("status");
        if status.index == IndexState::Idle && status.last_reconcile.is_some() {
            return;
        }
        assert!(Instant::now() < deadline, "the first reconcile did not end: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn store(pool: &Pool, text: &str) -> String {
    let outcome =
        pool.memories().remember("app", text.to_owned(), tags(&["decision"]), None, None).await;
    match outcome.expect("store") {
        annal_engine::store::StoreOutcome::Stored { id, .. } => id,
        other => panic!("not stored: {other:?}"),
    }
}

async fn memory(pool: &Pool, id: &str) -> Memory {
    let project = ProjectName::parse("app").expect("name");
    let id = MemoryId::parse(id).expect("id");
    let found = pool.memories().store().get(&project, vec![id]).await.expect("get");
    found.into_iter().next().expect("the memory")
}

async fn linked(pool: &Pool) -> Vec<String> {
    let project = ProjectName::parse("app").expect("name");
    let files = pool.memories().store().linked_files(&project, None).await.expect("links");
    files.into_iter().map(|f| f.path).collect()
}

/// Waits, with a deadline, until the memory carries a review mark, and returns it.
async fn marked(pool: &Pool, id: &str) -> Review {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(review) = memory(pool, id).await.review {
            return review;
        }
        assert!(Instant::now() < deadline, "memory {id} was never marked");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The watcher has handled everything up to now: a change to an indexed file made after them
/// has been indexed (the watcher handles events in order). The deadline is generous because
/// the file waits for the bulk embedding queue, which the rest of the suite keeps busy.
async fn settled(pool: &Pool, tree: &Tree, marker: &str) {
    let path = tree.path("docs/settle.md");
    let text = format!("# Settle\n{marker}\n");
    std::fs::write(&path, &text).expect("write");
    let project = ProjectName::parse("app").expect("name");
    let key = tree.text("docs/settle.md");
    let store = pool.memories().store();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let files = store.indexed_files(&project).await.expect("files");
        let stamped = files.get(&key).is_some_and(|s| s.size == text.len() as u64);
        if stamped && !store.file_chunks(&project, &key).await.expect("chunks").is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "the watcher never indexed {marker}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn reason(review: &Review) -> (ReviewReason, String, Option<String>) {
    (review.reason, review.path.clone(), review.to.clone())
}

#[tokio::test]
async fn the_watcher_marks_memories_whose_files_change_go_or_move_and_confirming_clears() {
    let tree = Tree::new();
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    project(&pool, &tree, true).await;
    let both = store(
        &pool,
        "Sessions are checked in `src/a.rs`; the setup order is in docs/b.md:12, keep it.",
    )
    .await;
    let steady = store(&pool, "The steady path is src/c.rs and nothing else touches it.").await;
    let outside = format!("Unrelated notes about {} kept here.", tree.outside.display());
    let outside = store(&pool, &outside).await;
    let mut expected = vec![tree.text("docs/b.md"), tree.text("src/a.rs"), tree.text("src/c.rs")];
    assert_eq!(linked(&pool).await, expected, "the outside file is not linked");

    // Rewriting a file with the same bytes (a touch) marks nothing.
    std::fs::write(tree.path("src/c.rs"), "pub fn steady() {}\n").expect("touch");
    std::fs::write(&tree.outside, "fn outside() { changed() }\n").expect("outside");
    settled(&pool, &tree, "first settle").await;
    for id in [&both, &steady, &outside] {
        assert_eq!(memory(&pool, id).await.review, None, "{id}");
    }

    std::fs::write(tree.path("src/a.rs"), "pub fn session() -> bool { false }\n").expect("a");
    let review = marked(&pool, &both).await;
    assert_eq!(reason(&review), (ReviewReason::Changed, tree.text("src/a.rs"), None));
    let status = pool.index_status("app").await.expect("status");
    assert_eq!(status.stats.needs_review, 1);
    assert_eq!(status.stats.files_changed, 1);
    // The mark travels with search results.
    let request = SearchRequest::new("app", "where are sessions checked");
    let results = pool.memories().search(request).await.expect("search");
    let json = results.to_json();
    let hit = json["results"]["agent_memories"]
        .as_array()
        .or(json["results"].as_array())
        .and_then(|hits| hits.iter().find(|h| h["id"] == both.as_str()))
        .cloned()
        .expect("the memory is found");
    assert_eq!(hit["review"]["reason"], "changed");
    assert_eq!(hit["review"]["path"], tree.text("src/a.rs"));

    let confirmed = pool.memories().confirm("app", &both).await.expect("confirm");
    assert_eq!(confirmed.review, None);
    assert_eq!(pool.index_status("app").await.expect("status").stats.needs_review, 0);

    std::fs::write(tree.path("docs/b.md"), "# Setup\nA different order now.\n").expect("b");
    let review = marked(&pool, &both).await;
    assert_eq!(reason(&review), (ReviewReason::Changed, tree.text("docs/b.md"), None));
    pool.memories().confirm("app", &both).await.expect("confirm");

    std::fs::rename(tree.path("src/a.rs"), tree.path("src/z.rs")).expect("mv a");
    let review = marked(&pool, &both).await;
    let to = Some(tree.text("src/z.rs"));
    assert_eq!(reason(&review), (ReviewReason::Renamed, tree.text("src/a.rs"), to));
    pool.memories().confirm("app", &both).await.expect("confirm");
    expected = vec![tree.text("docs/b.md"), tree.text("src/c.rs"), tree.text("src/z.rs")];
    assert_eq!(linked(&pool).await, expected, "the link follows the rename");

    std::fs::rename(tree.path("docs/b.md"), tree.path("docs/y.md")).expect("mv b");
    let review = marked(&pool, &both).await;
    let to = Some(tree.text("docs/y.md"));
    assert_eq!(reason(&review), (ReviewReason::Renamed, tree.text("docs/b.md"), to));
    pool.memories().confirm("app", &both).await.expect("confirm");

    std::fs::remove_file(tree.path("src/z.rs")).expect("rm z");
    let review = marked(&pool, &both).await;
    assert_eq!(reason(&review), (ReviewReason::Deleted, tree.text("src/z.rs"), None));
    // Editing clears the mark too, and links what the new text names.
    let edited = pool
        .memories()
        .update("app", &both, Some("Setup order: docs/y.md only.".into()), None, None)
        .await
        .expect("edit");
    assert_eq!(edited.review, None);
    expected = vec![tree.text("docs/y.md"), tree.text("src/c.rs")];
    assert_eq!(linked(&pool).await, expected);

    std::fs::remove_file(tree.path("docs/y.md")).expect("rm y");
    let review = marked(&pool, &both).await;
    assert_eq!(reason(&review), (ReviewReason::Deleted, tree.text("docs/y.md"), None));

    settled(&pool, &tree, "the last settle").await;
    assert_eq!(memory(&pool, &steady).await.review, None, "an untouched file never marks");
    assert_eq!(memory(&pool, &outside).await.review, None);
    pool.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_reconcile_marks_what_changed_while_nothing_watched() {
    let tree = Tree::new();
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    project(&pool, &tree, false).await;
    let id = store(&pool, "The session check is src/a.rs:1 — see also src/c.rs.").await;
    std::fs::write(tree.path("src/a.rs"), "pub fn session() -> bool { maybe() }\n").expect("a");
    pool.index_files("app").await.expect("reindex");
    let review = marked(&pool, &id).await;
    assert_eq!(reason(&review), (ReviewReason::Changed, tree.text("src/a.rs"), None));
    // The inbox lists it with its reason; confirming it there clears the mark.
    let inbox = pool.memories().inbox("app").await.expect("inbox");
    let key = format!("memory:{id}");
    let item = inbox.items.iter().find(|i| i.key == key).expect("listed");
    assert_eq!(item.reason, review.to_string());
    let confirm = annal_engine::memories::ReviewAction::Confirm { key };
    let inbox = pool.memories().resolve("app", confirm).await.expect("confirm");
    assert!(inbox.items.is_empty(), "{inbox:?}");
    assert_eq!(memory(&pool, &id).await.review, None);
    // Confirming an unknown memory, or one of an unknown project, is an error naming it.
    let missing = MemoryId::generate();
    let err = pool.memories().confirm("app", missing.as_str()).await.expect_err("missing");
    assert!(err.to_string().contains(missing.as_str()), "{err}");
    let err = pool.memories().confirm("nope", &id).await.expect_err("unknown project");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = pool.memories().confirm("app", "not an id!").await.expect_err("bad id");
    assert!(err.to_string().contains("not an id!"), "{err}");
    pool.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_project_without_watch_paths_links_nothing() {
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    store(&pool, &format!("The engine's root is {}.", here.display())).await;
    assert!(linked(&pool).await.is_empty());
    pool.shutdown(Duration::from_secs(10)).await;
}
