//! What the indexer needs from the store: per-file state and replacing one file's chunks in
//! one transaction.

use std::collections::HashMap;

use tokio_rusqlite::rusqlite::{TransactionBehavior, params};

use super::write::{check_vector, insert_one, register, sync_index};
use super::{Store, StoreError, StoreItem};
use crate::project::ProjectName;

/// A file as it was when last indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub mtime_ns: i64,
    pub size: u64,
}

/// One file's new state: chunks to keep (by id) and chunks to add.
#[derive(Debug, Clone)]
pub struct FileUpdate {
    pub path: String,
    pub stamp: FileStamp,
    pub keep: Vec<String>,
    pub add: Vec<StoreItem>,
}

impl Store {
    /// Every indexed file of a project with its stamp.
    pub async fn indexed_files(
        &self,
        project: &ProjectName,
    ) -> Result<HashMap<String, FileStamp>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT path, mtime_ns, size FROM indexed_files WHERE project = ?1",
            )?;
            let rows = stmt.query_map([&project], |row| {
                let stamp =
                    FileStamp { mtime_ns: row.get(1)?, size: row.get::<_, i64>(2)?.max(0) as u64 };
                Ok((row.get::<_, String>(0)?, stamp))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// `(id, chunk hash)` of a file's chunks.
    pub async fn file_chunks(
        &self,
        project: &ProjectName,
        path: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (project, path) = (project.to_string(), path.to_owned());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, coalesce(chunk_hash, '') FROM memories \
                 WHERE project = ?1 AND file_path = ?2 AND chunk_type = 'file-indexed'",
            )?;
            let rows =
                stmt.query_map(params![project, path], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Replaces one file's chunks in one transaction: chunks not kept go, new ones come, and
    /// the file's stamp is recorded. Registers the project if needed.
    pub async fn replace_file(
        &self,
        project: &ProjectName,
        update: FileUpdate,
    ) -> Result<(), StoreError> {
        for item in &update.add {
            check_vector(&item.vector)?;
        }
        let project = project.to_string();
        self.write(move |conn, index| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            register(&tx, &project, chrono::Utc::now())?;
            let mut touched: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM memories WHERE project = ?1 AND file_path = ?2 \
                     AND chunk_type = 'file-indexed'",
                )?;
                let ids = stmt.query_map(params![project, update.path], |row| row.get(0))?;
                ids.collect::<Result<_, _>>()?
            };
            {
                let mut delete = tx.prepare_cached("DELETE FROM memories WHERE id = ?1")?;
                let mut restamp = tx.prepare_cached(
                    "UPDATE memories SET file_mtime_ns = ?1, file_size = ?2 WHERE id = ?3",
                )?;
                for id in &touched {
                    if update.keep.contains(id) {
                        restamp.execute(params![
                            update.stamp.mtime_ns,
                            update.stamp.size as i64,
                            id
                        ])?;
                    } else {
                        delete.execute([id])?;
                    }
                }
            }
            for item in update.add {
                touched.push(insert_one(&tx, &project, item)?);
            }
            tx.execute(
                "INSERT INTO indexed_files (project, path, mtime_ns, size) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (project, path) DO UPDATE SET mtime_ns = ?3, size = ?4",
                params![project, update.path, update.stamp.mtime_ns, update.stamp.size as i64],
            )?;
            tx.commit()?;
            sync_index(conn, index, &project, &touched);
            Ok(())
        })
        .await
    }

    /// Forgets files (deleted, now excluded, or under a removed watch path): their chunks and
    /// stamps go in one transaction. Returns how many chunks were removed.
    pub async fn remove_files(
        &self,
        project: &ProjectName,
        paths: Vec<String>,
    ) -> Result<usize, StoreError> {
        if paths.is_empty() {
            return Ok(0);
        }
        let project = project.to_string();
        self.write(move |conn, index| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut removed = Vec::new();
            {
                let mut chunks = tx.prepare_cached(
                    "DELETE FROM memories WHERE project = ?1 AND file_path = ?2 \
                     AND chunk_type = 'file-indexed' RETURNING id",
                )?;
                let mut stamp = tx
                    .prepare_cached("DELETE FROM indexed_files WHERE project = ?1 AND path = ?2")?;
                for path in &paths {
                    let ids = chunks.query_map(params![project, path], |row| row.get(0))?;
                    removed.extend(ids.collect::<Result<Vec<String>, _>>()?);
                    stamp.execute(params![project, path])?;
                }
            }
            tx.commit()?;
            sync_index(conn, index, &project, &removed);
            Ok(removed.len())
        })
        .await
    }
}
