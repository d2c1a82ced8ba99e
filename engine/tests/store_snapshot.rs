//! The vector index's snapshot: a close writes it, the next open reads it back instead of
//! scanning the database — but only when it is exactly the index of the database as it is
//! then. Every way it can be out of date or damaged falls back to the scan and loses nothing.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use annal_engine::project::ProjectName;
use annal_engine::store::{SNAPSHOT_FILE, Store};
use annal_engine::vector_index::{EntryMeta, read};
use tokio_rusqlite::rusqlite;

use crate::common::filler;
use crate::util::unit_vector;

type Entry = (String, String, Vec<f32>, EntryMeta);
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("annal.db")).expect("open directly")
}

/// A closed store of 300 filler memories, one superseded, one a file chunk, one with a source
/// and a second tag, two long ones (three and two windows), and a second project; no snapshot
/// yet.
async fn store_in(dir: &Path) {
    let store = Store::open(dir).await.expect("open");
    for name in ["app", "other"] {
        store.register_project(&ProjectName::parse(name).expect("name")).await.expect("project");
    }
    store.close().await.expect("close");
    filler::insert(dir, 0..300, unit_vector);
    db(dir)
        .execute_batch(
            "UPDATE memories SET superseded_by = 'filler-2' WHERE id = 'filler-1';
             UPDATE memories SET chunk_type = 'file-indexed', source = 'docs/a.md' WHERE id = 'filler-3';
             UPDATE memories SET source = 'review' WHERE id = 'filler-4';
             INSERT INTO memory_tags (memory_rowid, position, project, tag)
                 SELECT rowid, 1, 'app', 'second' FROM memories WHERE id = 'filler-4';
             UPDATE memories SET project = 'other' WHERE id IN ('filler-5', 'filler-6');
             UPDATE memory_tags SET project = 'other' WHERE memory_rowid IN
                 (SELECT rowid FROM memories WHERE project = 'other');",
        )
        .expect("vary the rows");
    let conn = db(dir);
    for (id, windows) in [("filler-40", 3), ("filler-41", 2)] {
        let first: Vec<u8> = conn
            .query_row("SELECT embedding FROM memories WHERE id = ?1", [id], |row| row.get(0))
            .expect("embedding");
        let further = (1..windows).flat_map(|w| unit_vector(1000 + w)).flat_map(f32::to_le_bytes);
        let long: Vec<u8> = first.into_iter().chain(further).collect();
        conn.execute("UPDATE memories SET embedding = ?1 WHERE id = ?2", (long, id))
            .expect("a long memory's windows");
    }
    std::fs::remove_file(dir.join(SNAPSHOT_FILE)).expect("the close wrote a snapshot");
}

/// Opens the store, reads its whole index (sorted), and closes it again (which writes a new
/// snapshot).
async fn contents(dir: &Path) -> Vec<Entry> {
    let store = Store::open(dir).await.expect("open");
    let index = store.index().await.expect("the index loaded");
    assert!(!dir.join(SNAPSHOT_FILE).exists(), "an open consumes the snapshot");
    let mut entries = Vec::new();
    for (project, shard) in index.projects() {
        let shard = read(&shard);
        for (id, _, meta) in shard.entries() {
            let vectors = shard.vectors_of(id).expect("listed");
            entries.push((project.clone(), id.to_owned(), vectors, meta.clone()));
        }
    }
    store.close().await.expect("close");
    entries.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    entries
}

/// What a scan of the database gives: the snapshot removed first.
async fn scanned(dir: &Path) -> Vec<Entry> {
    let _ = std::fs::remove_file(dir.join(SNAPSHOT_FILE));
    contents(dir).await
}

#[tokio::test]
async fn a_reopened_store_reads_the_snapshot_its_close_wrote() {
    let dir = tempfile::tempdir().expect("temp dir");
    store_in(dir.path()).await;
    let scan = scanned(dir.path()).await;
    assert_eq!(scan.len(), 300);
    let windows = |id: &str| scan.iter().find(|e| e.1 == id).map(|e| e.2.len() / 384);
    assert_eq!((windows("filler-40"), windows("filler-41")), (Some(3), Some(2)));
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let mode =
        std::fs::metadata(&snapshot).expect("the close wrote a snapshot").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the snapshot is the user's alone");

    // A change made behind the triggers' back stays invisible exactly when the index came
    // from the snapshot: the proof that the open read it.
    db(dir.path())
        .execute_batch(
            "DROP TRIGGER index_generation_memory_update;
             UPDATE memories SET source = 'changed behind the back' WHERE id = 'filler-9';",
        )
        .expect("change without a trigger");
    assert_eq!(contents(dir.path()).await, scan, "the index came from the snapshot, whole");
    let rescan = scanned(dir.path()).await;
    let changed = rescan.iter().find(|entry| entry.1 == "filler-9").expect("filler-9");
    assert_eq!(changed.3.source, "changed behind the back", "the scan reads the database");
}

#[tokio::test]
async fn any_change_after_the_close_makes_the_snapshot_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    store_in(dir.path()).await;
    let changes = [
        "INSERT INTO memory_tags (memory_rowid, position, project, tag) \
             SELECT rowid, 5, 'app', 'added' FROM memories WHERE id = 'filler-10'",
        "DELETE FROM memory_tags WHERE tag = 'second'",
        "UPDATE memory_tags SET tag = 'renamed' WHERE tag = 'filler' AND memory_rowid = 20",
        "DELETE FROM memories WHERE id = 'filler-11'",
        "UPDATE memories SET superseded_by = NULL WHERE id = 'filler-1'",
        "UPDATE memories SET embedding = (SELECT embedding FROM memories WHERE id = 'filler-30') \
             WHERE id = 'filler-12'",
        "UPDATE memories SET source = 'moved' WHERE id = 'filler-13'",
        "UPDATE memories SET created_at = '2020-01-01T00:00:00.000000Z' WHERE id = 'filler-14'",
        "INSERT INTO memories (id, project, content, chunk_type, created_at, embedding) \
             SELECT 'new', 'app', 'new', 'agent-memory', created_at, embedding \
             FROM memories WHERE id = 'filler-15'",
    ];
    let mut before = scanned(dir.path()).await;
    for change in changes {
        db(dir.path()).execute_batch(change).expect(change);
        let reopened = contents(dir.path()).await;
        assert_eq!(reopened, scanned(dir.path()).await, "after {change}");
        assert_ne!(reopened, before, "{change} changed the index");
        before = reopened;
    }
}

#[tokio::test]
async fn a_damaged_snapshot_is_ignored_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    store_in(dir.path()).await;
    let scan = scanned(dir.path()).await;
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let length = std::fs::metadata(&snapshot).expect("snapshot").len() as usize;
    let damages: [(&str, Damage); 8] = [
        ("a vector byte flipped", Box::new(move |b| b[length - 100] ^= 0x40)),
        ("a metadata byte flipped", Box::new(|b| b[70] ^= 0x01)),
        (
            "an id's length made huge",
            Box::new(|b| b[56..60].copy_from_slice(&u32::MAX.to_le_bytes())),
        ),
        ("the last byte cut", Box::new(|b| b.truncate(b.len() - 1))),
        ("cut after the header", Box::new(|b| b.truncate(44))),
        ("a byte appended", Box::new(|b| b.push(0))),
        ("emptied", Box::new(|b| b.clear())),
        ("the magic changed", Box::new(|b| b[0] = b'X')),
    ];
    for (what, damage) in damages {
        let mut bytes = std::fs::read(&snapshot).expect("the last close wrote a snapshot");
        damage(&mut bytes);
        std::fs::write(&snapshot, &bytes).expect("write the damaged snapshot");
        assert_eq!(contents(dir.path()).await, scan, "snapshot {what}");
    }
}

#[tokio::test]
async fn a_database_swapped_for_an_older_copy_does_not_match_a_newer_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    store_in(dir.path()).await;
    let older = scanned(dir.path()).await;
    let copy = dir.path().join("copy.db");
    std::fs::copy(dir.path().join("annal.db"), &copy).expect("copy the closed database");
    db(dir.path()).execute_batch("DELETE FROM memories WHERE id = 'filler-7'").expect("delete");
    assert_eq!(contents(dir.path()).await.len(), older.len() - 1);
    // The copy, changed once: the same generation as the newer snapshot, another token.
    std::fs::rename(&copy, dir.path().join("annal.db")).expect("restore the older copy");
    db(dir.path())
        .execute_batch("UPDATE memories SET source = 'restored' WHERE id = 'filler-8'")
        .expect("change the copy");
    let restored = contents(dir.path()).await;
    assert_eq!(restored.len(), older.len(), "the restored database's own index");
    assert!(restored.iter().any(|entry| entry.1 == "filler-7"));
    assert_eq!(restored, scanned(dir.path()).await);
}

#[tokio::test]
async fn a_close_during_the_load_still_writes_the_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    store_in(dir.path()).await;
    let scan = scanned(dir.path()).await;
    for _ in 0..3 {
        // Closed at once: the close queues behind the load, which consumed the snapshot.
        Store::open(dir.path()).await.expect("open").close().await.expect("close");
        assert!(dir.path().join(SNAPSHOT_FILE).exists(), "the close wrote a new snapshot");
    }
    assert_eq!(contents(dir.path()).await, scan);
}
