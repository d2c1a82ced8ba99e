//! What export and import need from the store: every memory of a project a page at a time in
//! a stable order, and restoring memories exactly as they were (ids, timestamps, hit counts,
//! supersession) through the writer like every other write.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_rusqlite::rusqlite::{OptionalExtension, params};

use super::read::{MEMORY_COLUMNS, collect_memories};
use super::write::{begin, check_vector, register, sync_index, write_tags};
use super::{Store, StoreError, require_project, vector_to_blob};
use crate::memory::{Memory, MemoryId, NewMemory, format_timestamp};
use crate::project::ProjectName;

/// A memory to put back as it was exported, with its embedding.
#[derive(Debug, Clone)]
pub struct Restore {
    pub project: ProjectName,
    /// Id, content, tags, source, type, `created_at` and file fields.
    pub memory: NewMemory,
    pub updated_at: Option<DateTime<Utc>>,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub hit_count: u64,
    /// Kept as given: the newer memory may come later in the same import, or not at all.
    pub superseded_by: Option<MemoryId>,
    pub vector: Vec<f32>,
}

/// What [`Store::restore`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreCounts {
    pub stored: u64,
    pub replaced: u64,
    /// Ids that exist already (and `replace` was not asked for).
    pub skipped: u64,
}

impl RestoreCounts {
    pub fn add(&mut self, other: Self) {
        self.stored += other.stored;
        self.replaced += other.replaced;
        self.skipped += other.skipped;
    }
}

impl Store {
    /// Up to `limit` memories of a project in `(created_at, id)` order, starting after
    /// `after` (the last memory of the previous page). The order survives an export and
    /// import, so a re-export lists the memories in the same order.
    pub async fn export_page(
        &self,
        project: &ProjectName,
        after: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> Result<Vec<Memory>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let (at, id) = match after {
                Some((at, id)) => (format_timestamp(at), id),
                None => (String::new(), String::new()),
            };
            let sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m \
                 WHERE m.project = ?1 AND (m.created_at, m.id) > (?2, ?3) \
                 ORDER BY m.created_at, m.id LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            collect_memories(stmt.query(params![project, at, id, limit as i64])?)
        })
        .await
    }

    /// How many memories a project holds.
    pub async fn count(&self, project: &ProjectName) -> Result<u64, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let n: i64 = conn.query_row(
                "SELECT count(*) FROM memories WHERE project = ?1",
                [&project],
                |row| row.get(0),
            )?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    /// Which of `ids` name a memory (in any project: ids are unique across projects), so an
    /// import does not embed what it is going to skip.
    pub async fn existing_ids(&self, ids: Vec<String>) -> Result<HashSet<String>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT 1 FROM memories WHERE id = ?1")?;
            let mut found = HashSet::new();
            for id in ids {
                if stmt.exists([&id])? {
                    found.insert(id);
                }
            }
            Ok(found)
        })
        .await
    }

    /// Puts memories back as they were, in one transaction, registering their projects. An
    /// id that exists is skipped, or with `replace` overwritten in place of the old row; an id
    /// held by another project is [`StoreError::IdTaken`] (ids are unique across projects), and
    /// then nothing of this call is stored.
    pub async fn restore(
        &self,
        items: Vec<Restore>,
        replace: bool,
    ) -> Result<RestoreCounts, StoreError> {
        for item in &items {
            check_vector(&item.vector)?;
        }
        self.write(move |conn, index| {
            let tx = begin(conn)?;
            let mut registered = BTreeSet::new();
            let mut touched: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut counts = RestoreCounts::default();
            for item in items {
                let project = item.project.to_string();
                if registered.insert(project.clone()) {
                    register(&tx, &project, Utc::now())?;
                }
                let id = item.memory.id.as_str().to_owned();
                let existing: Option<(i64, String)> = tx
                    .query_row("SELECT rowid, project FROM memories WHERE id = ?1", [&id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                match existing {
                    Some(_) if !replace => {
                        counts.skipped += 1;
                        continue;
                    }
                    Some((_, owner)) if owner != project => {
                        return Err(StoreError::IdTaken { id, project: owner });
                    }
                    Some((rowid, _)) => {
                        // Memories it superseded keep pointing at the id, which stays.
                        tx.execute("DELETE FROM memories WHERE rowid = ?1", [rowid])?;
                        counts.replaced += 1;
                    }
                    None => counts.stored += 1,
                }
                insert_restored(&tx, &project, item)?;
                touched.entry(project).or_default().push(id);
            }
            tx.commit()?;
            for (project, ids) in &touched {
                sync_index(conn, index, project, ids);
            }
            Ok(counts)
        })
        .await
    }
}

fn insert_restored(
    tx: &tokio_rusqlite::rusqlite::Transaction<'_>,
    project: &str,
    item: Restore,
) -> Result<(), StoreError> {
    let Restore { memory, updated_at, last_accessed_at, hit_count, superseded_by, vector, .. } =
        item;
    let file = memory.file.as_ref();
    tx.execute(
        "INSERT INTO memories (id, project, content, source, chunk_type, created_at, \
         updated_at, superseded_by, hit_count, last_accessed_at, \
         file_path, file_mtime_ns, file_size, chunk_hash, embedding) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            memory.id.as_str(),
            project,
            memory.content.as_str(),
            memory.source.as_str(),
            memory.chunk_type.as_str(),
            format_timestamp(memory.created_at),
            updated_at.map(format_timestamp),
            superseded_by.as_ref().map(MemoryId::as_str),
            i64::try_from(hit_count).unwrap_or(i64::MAX),
            last_accessed_at.map(format_timestamp),
            file.map(|f| f.path.as_str()),
            file.map(|f| f.mtime_ns),
            file.map(|f| i64::try_from(f.size).unwrap_or(i64::MAX)),
            file.map(|f| f.chunk_hash.as_str()),
            vector_to_blob(&vector),
        ],
    )?;
    write_tags(tx, tx.last_insert_rowid(), project, memory.tags.as_slice())
}
