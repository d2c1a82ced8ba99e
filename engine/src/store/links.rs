//! What code-linked memories need from the store: the links written with a memory, the linked
//! files to look at, the review marks the findings set, and confirming a memory.

use chrono::Utc;
use tokio_rusqlite::rusqlite::{Transaction, params};

use super::read::memory_by_rowid;
use super::write::{begin, rowid_of};
use super::{Store, StoreError, require_project};
use crate::code_links::{CodeLink, Finding, LinkedFile, Marked, ReviewReason};
use crate::memory::{Memory, MemoryId, format_timestamp};
use crate::project::ProjectName;

/// Replaces a memory's links.
pub(super) fn write_links(
    tx: &Transaction<'_>,
    rowid: i64,
    project: &str,
    links: &[CodeLink],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM memory_links WHERE memory_rowid = ?1", [rowid])?;
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO memory_links \
         (memory_rowid, project, path, line, content_hash, mtime_ns, size) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for link in links {
        insert.execute(params![
            rowid,
            project,
            link.path,
            link.line,
            link.hash,
            link.stamp.mtime_ns,
            link.stamp.size as i64
        ])?;
    }
    Ok(())
}

/// Clears a memory's review mark (in the transaction of the edit or confirmation that does).
pub(super) fn clear_review(tx: &Transaction<'_>, rowid: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE memories SET review_reason = NULL, review_path = NULL, review_to = NULL, \
         review_since = NULL WHERE rowid = ?1 AND review_reason IS NOT NULL",
        [rowid],
    )?;
    Ok(())
}

/// Marks the live memories linked to `path` (those whose link `also` selects) and returns
/// their ids. A mark stays as first set, except that a file found gone or moved replaces a
/// "changed" mark, which it explains better.
fn mark(
    tx: &Transaction<'_>,
    project: &str,
    path: &str,
    reason: ReviewReason,
    to: Option<&str>,
    only_hash_other_than: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    let replaces = if reason == ReviewReason::Changed {
        "review_reason IS NULL"
    } else {
        "(review_reason IS NULL OR review_reason = 'changed')"
    };
    let sql = format!(
        "UPDATE memories SET review_reason = ?1, review_path = ?2, review_to = ?3, \
         review_since = coalesce(review_since, ?4) \
         WHERE rowid IN (SELECT memory_rowid FROM memory_links \
                         WHERE project = ?5 AND path = ?2 AND content_hash IS NOT ?6) \
           AND superseded_by IS NULL AND {replaces} RETURNING id"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let now = format_timestamp(Utc::now());
    // No hash to spare: `''` is no link's hash, so every link of the path counts.
    let spared = only_hash_other_than.unwrap_or("");
    let ids = stmt.query_map(params![reason.as_str(), path, to, now, project, spared], |row| {
        row.get::<_, String>(0)
    })?;
    Ok(ids.collect::<Result<_, _>>()?)
}

impl Store {
    /// The linked files of a project with every hash and stamp their links hold: all of them,
    /// or those among `paths`.
    pub async fn linked_files(
        &self,
        project: &ProjectName,
        paths: Option<Vec<String>>,
    ) -> Result<Vec<LinkedFile>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let mut files: Vec<LinkedFile> = Vec::new();
            let mut add =
                |path: String, hash: String, stamp: super::FileStamp| match files.last_mut() {
                    Some(file) if file.path == path => {
                        file.hashes.push(hash);
                        file.stamps.push(stamp);
                    }
                    _ => files.push(LinkedFile { path, hashes: vec![hash], stamps: vec![stamp] }),
                };
            let row_of = |row: &tokio_rusqlite::rusqlite::Row<'_>| {
                let stamp = super::FileStamp {
                    mtime_ns: row.get(2)?,
                    size: row.get::<_, i64>(3)?.max(0) as u64,
                };
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, stamp))
            };
            match paths {
                None => {
                    let mut stmt = conn.prepare_cached(
                        "SELECT path, content_hash, mtime_ns, size FROM memory_links \
                         WHERE project = ?1 ORDER BY path",
                    )?;
                    for row in stmt.query_map([&project], row_of)? {
                        let (path, hash, stamp) = row?;
                        add(path, hash, stamp);
                    }
                }
                Some(paths) => {
                    let mut stmt = conn.prepare_cached(
                        "SELECT path, content_hash, mtime_ns, size FROM memory_links \
                         WHERE project = ?1 AND path = ?2",
                    )?;
                    for path in paths {
                        for row in stmt.query_map(params![project, path], row_of)? {
                            let (path, hash, stamp) = row?;
                            add(path, hash, stamp);
                        }
                    }
                }
            }
            Ok(files)
        })
        .await
    }

    /// Applies what looking at linked files found, in one transaction: marks the memories
    /// whose files changed, went or moved, records the stamps seen (so an untouched file is
    /// not read again) and moves links along with renamed files.
    pub async fn apply_link_findings(
        &self,
        project: &ProjectName,
        findings: Vec<(String, Finding)>,
    ) -> Result<Vec<Marked>, StoreError> {
        let project = project.to_string();
        self.write(move |conn, _| {
            let tx = begin(conn)?;
            let mut marked = Vec::new();
            for (path, finding) in findings {
                let (reason, ids) = match &finding {
                    Finding::Present { stamp, hash } => {
                        let ids =
                            mark(&tx, &project, &path, ReviewReason::Changed, None, Some(hash))?;
                        tx.execute(
                            "UPDATE memory_links SET mtime_ns = ?1, size = ?2 \
                             WHERE project = ?3 AND path = ?4",
                            params![stamp.mtime_ns, stamp.size as i64, project, path],
                        )?;
                        (ReviewReason::Changed, ids)
                    }
                    Finding::Deleted => (
                        ReviewReason::Deleted,
                        mark(&tx, &project, &path, ReviewReason::Deleted, None, None)?,
                    ),
                    Finding::Renamed { to, stamp } => {
                        let ids =
                            mark(&tx, &project, &path, ReviewReason::Renamed, Some(to), None)?;
                        // A memory linked to both names keeps its link to the new one.
                        tx.execute(
                            "UPDATE OR IGNORE memory_links SET path = ?1, mtime_ns = ?2, size = ?3 \
                             WHERE project = ?4 AND path = ?5",
                            params![to, stamp.mtime_ns, stamp.size as i64, project, path],
                        )?;
                        tx.execute(
                            "DELETE FROM memory_links WHERE project = ?1 AND path = ?2",
                            params![project, path],
                        )?;
                        (ReviewReason::Renamed, ids)
                    }
                };
                if !ids.is_empty() {
                    marked.push(Marked { path, reason, ids });
                }
            }
            tx.commit()?;
            Ok(marked)
        })
        .await
    }

    /// The files a memory is linked to, with the line it named.
    pub async fn links_of(
        &self,
        project: &ProjectName,
        id: &MemoryId,
    ) -> Result<Vec<(String, Option<u32>)>, StoreError> {
        let (project, id) = (project.to_string(), id.as_str().to_owned());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.path, l.line FROM memory_links l JOIN memories m \
                 ON m.rowid = l.memory_rowid WHERE m.project = ?1 AND m.id = ?2 ORDER BY l.path",
            )?;
            let rows =
                stmt.query_map(params![project, id], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Confirms a memory still holds: clears its review mark and links it to its files as they
    /// are now (`links`, found from its content).
    pub async fn confirm(
        &self,
        project: &ProjectName,
        id: &MemoryId,
        links: Vec<CodeLink>,
    ) -> Result<Memory, StoreError> {
        let (project, id) = (project.to_string(), id.as_str().to_owned());
        self.write(move |conn, _| {
            let tx = begin(conn)?;
            require_project(&tx, &project)?;
            let rowid = rowid_of(&tx, &project, &id)?;
            clear_review(&tx, rowid)?;
            write_links(&tx, rowid, &project, &links)?;
            let memory = memory_by_rowid(&tx, rowid)?;
            tx.commit()?;
            Ok(memory)
        })
        .await
    }
}
