//! Filler memories written straight into a closed store's database: the engine's tests and the
//! root crate's both need stores of 100,000 memories, which the store's own inserts take ten
//! times longer to make in a debug build than one SQL transaction.

use std::path::Path;

use annal_engine::memory::format_timestamp;
use tokio_rusqlite::rusqlite;

/// Inserts memories `filler-<seed>` for `seeds` into project `app` of the database in
/// `data_dir`, each tagged `filler`, with `vector(seed)` among a thousand taken in turn.
pub fn insert(data_dir: &Path, seeds: std::ops::Range<u64>, vector: impl Fn(u64) -> Vec<f32>) {
    let mut conn = rusqlite::Connection::open(data_dir.join("annal.db")).expect("open directly");
    let tx = conn.transaction().expect("transaction");
    {
        let mut memory = tx
            .prepare(
                "INSERT INTO memories (id, project, content, chunk_type, created_at, embedding) \
                 VALUES (?1, 'app', ?2, 'agent-memory', ?3, ?4)",
            )
            .expect("prepare");
        let mut tag = tx
            .prepare(
                "INSERT INTO memory_tags (memory_rowid, position, project, tag) \
                 VALUES (?1, 0, 'app', 'filler')",
            )
            .expect("prepare");
        let created_at = format_timestamp(chrono::Utc::now());
        // A thousand vectors taken in turn: making 100,000 is most of the fill in a debug build.
        let vectors: Vec<Vec<u8>> = (0..1000)
            .map(|seed| vector(seed).iter().flat_map(|x| x.to_le_bytes()).collect())
            .collect();
        for seed in seeds {
            let bytes = &vectors[seed as usize % vectors.len()];
            let (id, content) = (format!("filler-{seed}"), format!("filler note {seed}"));
            memory.execute(rusqlite::params![id, content, created_at, bytes]).expect("memory");
            tag.execute([tx.last_insert_rowid()]).expect("tag");
        }
    }
    tx.commit().expect("commit");
}
