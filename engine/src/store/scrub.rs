//! What the secret scrub needs from the store: every memory's text a page at a time, writing
//! a memory back with its secrets taken out, and remembering that the scrub ran.

use chrono::Utc;
use tokio_rusqlite::rusqlite::{OptionalExtension, params};

use super::read::{MEMORY_COLUMNS, collect_memories};
use super::review::record_redaction;
use super::write::{begin, check_vector, rowid_of, write_tags};
use super::{Store, StoreError, vector_to_blob};
use crate::memory::{Content, Memory, Source, Tags, format_timestamp};

/// A memory with its secrets taken out, to write back.
#[derive(Debug, Clone)]
pub struct Scrubbed {
    pub project: String,
    pub id: String,
    /// New content and its embedding, when the content held a secret.
    pub content: Option<(Content, Vec<f32>)>,
    pub source: Source,
    pub tags: Tags,
    /// A file chunk's new text hash (so an unchanged file keeps its chunk on the next
    /// reconcile, whose chunks are cut redacted).
    pub chunk_hash: Option<String>,
    /// What was taken out, for the review inbox.
    pub redacted: String,
}

impl Store {
    /// Up to `limit` memories of every project after `after` (a rowid), in rowid order, with
    /// the rowid of the last.
    pub async fn memories_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<Memory>, Option<i64>), StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.rowid > ?1 ORDER BY m.rowid LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let memories = collect_memories(stmt.query(params![after, limit as i64])?)?;
            let last = match memories.last() {
                Some(m) => Some(conn.query_row(
                    "SELECT rowid FROM memories WHERE id = ?1",
                    [&m.id],
                    |row| row.get(0),
                )?),
                None => None,
            };
            Ok((memories, last))
        })
        .await
    }

    /// Writes scrubbed memories back, each with its redaction item, in one transaction.
    pub async fn write_scrubbed(&self, scrubbed: Vec<Scrubbed>) -> Result<(), StoreError> {
        for item in &scrubbed {
            if let Some((_, vector)) = &item.content {
                check_vector(vector)?;
            }
        }
        self.write(move |conn, index| {
            let tx = begin(conn)?;
            let mut touched: Vec<(String, String)> = Vec::new();
            for item in scrubbed {
                // Gone since it was read (a reconcile replaced the chunk): nothing to scrub.
                let Ok(rowid) = rowid_of(&tx, &item.project, &item.id) else { continue };
                if let Some((content, vector)) = &item.content {
                    tx.execute(
                        "UPDATE memories SET content = ?1, embedding = ?2, \
                         chunk_hash = coalesce(?3, chunk_hash) WHERE rowid = ?4",
                        params![content.as_str(), vector_to_blob(vector), item.chunk_hash, rowid],
                    )?;
                }
                tx.execute(
                    "UPDATE memories SET source = ?1 WHERE rowid = ?2",
                    params![item.source.as_str(), rowid],
                )?;
                write_tags(&tx, rowid, &item.project, item.tags.as_slice())?;
                record_redaction(&tx, &item.project, &item.id, &item.redacted)?;
                touched.push((item.project, item.id));
            }
            tx.commit()?;
            for (project, id) in touched {
                super::write::sync_index(conn, index, &project, &[id]);
            }
            Ok(())
        })
        .await
    }

    /// Makes what a scrub replaced unreadable on disk: secure deletion while it writes (freed
    /// pages are zeroed), the keyword index merged (deleted terms leave its segments) and the
    /// WAL checkpointed and truncated (its frames hold the old pages).
    pub async fn secure_delete(&self, on: bool) -> Result<(), StoreError> {
        self.write(move |conn, _| {
            if on {
                conn.pragma_update(None, "secure_delete", true)?;
                return Ok(());
            }
            // Still under secure deletion: the merge frees the old segments' pages.
            conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')", [])?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            conn.pragma_update(None, "secure_delete", false)?;
            Ok(())
        })
        .await
    }

    /// Whether the one-off job `name` has run on this database.
    pub async fn maintenance_done(&self, name: &'static str) -> Result<bool, StoreError> {
        self.read(move |conn| {
            let done = conn
                .query_row("SELECT 1 FROM maintenance WHERE name = ?1", [name], |_| Ok(()))
                .optional()?;
            Ok(done.is_some())
        })
        .await
    }

    /// Records that the one-off job `name` has run.
    pub async fn mark_maintenance_done(&self, name: &'static str) -> Result<(), StoreError> {
        self.write(move |conn, _| {
            let tx = begin(conn)?;
            tx.execute(
                "INSERT OR REPLACE INTO maintenance (name, done_at) VALUES (?1, ?2)",
                params![name, format_timestamp(Utc::now())],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
