//! What the window backfill needs from the store: long memories embedded before windows existed
//! (one window's vector), a page at a time, and writing their windows back.

use tokio_rusqlite::rusqlite::params;

use super::write::{begin, check_vector, sync_index};
use super::{Store, StoreError, vector_to_blob};
use crate::embed::DIMENSIONS;

/// A memory whose content may run past its one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneWindow {
    pub project: String,
    pub id: String,
    pub content: String,
}

impl Store {
    /// Up to `limit` memories after rowid `after` whose content has at least `min_bytes` and
    /// whose embedding is one vector, in rowid order, with the rowid of the last memory read
    /// (`None` when there are no more).
    pub async fn one_window_after(
        &self,
        after: i64,
        min_bytes: usize,
        limit: usize,
    ) -> Result<(Vec<OneWindow>, Option<i64>), StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT rowid, project, id, content FROM memories \
                 WHERE rowid > ?1 AND length(CAST(content AS BLOB)) >= ?2 \
                   AND length(embedding) = ?3 \
                 ORDER BY rowid LIMIT ?4",
            )?;
            let mut rows = stmt.query(params![
                after,
                min_bytes as i64,
                (DIMENSIONS * 4) as i64,
                limit as i64
            ])?;
            let (mut found, mut last) = (Vec::new(), None);
            while let Some(row) = rows.next()? {
                last = Some(row.get(0)?);
                found.push(OneWindow {
                    project: row.get(1)?,
                    id: row.get(2)?,
                    content: row.get(3)?,
                });
            }
            Ok((found, last))
        })
        .await
    }

    /// Writes the windows' vectors of memories read by [`Store::one_window_after`], each only
    /// if its content is still what was embedded (an edit since re-embedded it already).
    /// Returns how many were written.
    pub async fn write_windows(
        &self,
        items: Vec<(OneWindow, Vec<f32>)>,
    ) -> Result<usize, StoreError> {
        for (_, vectors) in &items {
            check_vector(vectors)?;
        }
        self.write(move |conn, index| {
            let tx = begin(conn)?;
            let mut touched: Vec<(String, String)> = Vec::new();
            for (memory, vectors) in items {
                let changed = tx.execute(
                    "UPDATE memories SET embedding = ?1 WHERE project = ?2 AND id = ?3 AND content = ?4",
                    params![vector_to_blob(&vectors), memory.project, memory.id, memory.content],
                )?;
                if changed > 0 {
                    touched.push((memory.project, memory.id));
                }
            }
            tx.commit()?;
            let mut projects: Vec<&str> = touched.iter().map(|(p, _)| p.as_str()).collect();
            projects.sort_unstable();
            projects.dedup();
            for project in projects {
                let ids: Vec<String> =
                    touched.iter().filter(|(p, _)| p == project).map(|(_, id)| id.clone()).collect();
                sync_index(conn, index, project, &ids);
            }
            Ok(touched.len())
        })
        .await
    }
}
