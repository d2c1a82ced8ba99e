//! Queries, all on the reader connection so they never wait behind a write transaction.
//! Counts are SQL aggregates over indexed columns, never scans in Rust.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_rusqlite::rusqlite::{self, Connection, Row, Rows, ToSql, params};

use super::{Store, StoreError, blob_to_vector, parse_time, require_project};
use crate::code_links::{Review, ReviewReason};
use crate::embed::DIMENSIONS;
use crate::memory::{ChunkType, FileInfo, Memory, MemoryId, format_timestamp};
use crate::project::ProjectName;
use crate::vector_index::{EntryMeta, ProjectVectors, VectorIndex, write};

pub(super) const MEMORY_COLUMNS: &str = "m.id, m.project, m.content, m.source, m.chunk_type, m.created_at, \
    m.updated_at, m.superseded_by, m.hit_count, m.last_accessed_at, m.file_path, \
    m.file_mtime_ns, m.file_size, m.chunk_hash, \
    (SELECT json_group_array(tag) FROM \
        (SELECT tag FROM memory_tags t WHERE t.memory_rowid = m.rowid ORDER BY position)), \
    m.review_reason, m.review_path, m.review_to, m.review_since";

/// How many live memories carry a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct TagCount {
    pub tag: String,
    #[ts(type = "number")]
    pub count: u64,
}

/// Filters and paging of [`Store::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub chunk_type: Option<ChunkType>,
    pub tag: Option<String>,
    pub source_prefix: Option<String>,
    pub include_superseded: bool,
    /// Only agent memories last accessed before this time (the stats' "stale").
    pub stale_before: Option<DateTime<Utc>>,
    pub limit: usize,
    pub offset: usize,
}

/// The WHERE clause and parameters for what [`ListQuery`] selects. Only the filters in use
/// appear, so SQLite can answer an unfiltered page and count from the project's index.
fn list_filter(project: &str, query: &ListQuery) -> (String, Vec<Box<dyn ToSql>>) {
    let mut sql = String::from("m.project = ?");
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(project.to_owned())];
    if let Some(chunk_type) = query.chunk_type {
        sql.push_str(" AND m.chunk_type = ?");
        args.push(Box::new(chunk_type.as_str()));
    }
    if let Some(tag) = &query.tag {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM memory_tags t WHERE t.memory_rowid = m.rowid AND t.tag = ?)",
        );
        args.push(Box::new(tag.clone()));
    }
    if let Some(prefix) = &query.source_prefix {
        sql.push_str(" AND substr(m.source, 1, length(?)) = ?");
        args.push(Box::new(prefix.clone()));
        args.push(Box::new(prefix.clone()));
    }
    if !query.include_superseded {
        sql.push_str(" AND m.superseded_by IS NULL");
    }
    if let Some(before) = query.stale_before {
        sql.push_str(" AND m.chunk_type = 'agent-memory' AND m.last_accessed_at < ?");
        args.push(Box::new(format_timestamp(before)));
    }
    (sql, args)
}

/// Every memory a `SELECT {MEMORY_COLUMNS}` query returns, in its order.
pub(super) fn collect_memories(mut rows: Rows<'_>) -> Result<Vec<Memory>, StoreError> {
    let mut memories = Vec::new();
    while let Some(row) = rows.next()? {
        memories.push(memory_from_row(row)?);
    }
    Ok(memories)
}

/// How many agent memories were created on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DayCount {
    /// `YYYY-MM-DD`
    pub day: String,
    #[ts(type = "number")]
    pub count: u64,
}

/// A page of memories and how many match in all.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Page {
    #[ts(type = "number")]
    pub total: u64,
    pub items: Vec<Memory>,
}

/// A full-text match; `relevance` is BM25 (higher is better).
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordMatch {
    pub id: String,
    pub project: String,
    pub relevance: f32,
}

/// A project's numbers for `index_status` and the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Stats {
    #[ts(type = "number")]
    pub total: u64,
    #[ts(type = "number")]
    pub agent_memories: u64,
    #[ts(type = "number")]
    pub file_chunks: u64,
    #[ts(type = "number")]
    pub superseded: u64,
    /// Agent memories last accessed before the cutoff.
    #[ts(type = "number")]
    pub stale: u64,
    /// Agent memories never accessed and created before the cutoff.
    #[ts(type = "number")]
    pub never_accessed: u64,
    /// What the review inbox holds: memories a changed file marked, and the near-duplicate
    /// pairs, possible conflicts and redactions writes recorded.
    #[ts(type = "number")]
    pub needs_review: u64,
    /// Of those, the memories marked because a file they name changed, went or moved.
    #[ts(type = "number")]
    pub files_changed: u64,
    /// The most used tags of live memories, most used first.
    pub top_tags: Vec<TagCount>,
}

const TOP_TAGS: usize = 10;

fn memory_from_row(row: &Row<'_>) -> Result<Memory, StoreError> {
    let id: String = row.get(0)?;
    let corrupt = |what: &str| StoreError::Corrupt { id: id.clone(), what: what.to_owned() };
    let chunk_type: String = row.get(4)?;
    let tags_json: String = row.get(14)?;
    let file_path: Option<String> = row.get(10)?;
    let file = match file_path {
        Some(path) => Some(FileInfo {
            path,
            mtime_ns: row.get::<_, Option<i64>>(11)?.unwrap_or_default(),
            size: row.get::<_, Option<i64>>(12)?.unwrap_or_default().max(0) as u64,
            chunk_hash: row.get::<_, Option<String>>(13)?.unwrap_or_default(),
        }),
        None => None,
    };
    let optional_time = |index| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.get::<_, Option<String>>(index)?.map(|t| parse_time(&id, &t)).transpose()
    };
    let review = match row.get::<_, Option<String>>(15)? {
        Some(reason) => Some(Review {
            reason: ReviewReason::parse(&reason).ok_or_else(|| corrupt("review reason"))?,
            path: row.get::<_, Option<String>>(16)?.unwrap_or_default(),
            to: row.get(17)?,
            since: optional_time(18)?.ok_or_else(|| corrupt("review time"))?,
        }),
        None => None,
    };
    Ok(Memory {
        project: row.get(1)?,
        content: row.get(2)?,
        source: row.get(3)?,
        chunk_type: ChunkType::parse(&chunk_type).ok_or_else(|| corrupt("chunk type"))?,
        created_at: parse_time(&id, &row.get::<_, String>(5)?)?,
        updated_at: optional_time(6)?,
        superseded_by: row.get(7)?,
        hit_count: row.get::<_, i64>(8)?.max(0) as u64,
        last_accessed_at: optional_time(9)?,
        file,
        review,
        tags: serde_json::from_str(&tags_json).map_err(|_| corrupt("tags"))?,
        id,
    })
}

pub(super) fn memory_by_rowid(conn: &Connection, rowid: i64) -> Result<Memory, StoreError> {
    let sql = format!("SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.rowid = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([rowid])?;
    match rows.next()? {
        Some(row) => memory_from_row(row),
        None => Err(StoreError::Corrupt { id: format!("rowid {rowid}"), what: "vanished".into() }),
    }
}

pub(super) fn tags_of(conn: &Connection, rowid: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT tag FROM memory_tags WHERE memory_rowid = ?1 ORDER BY position")?;
    let tags = stmt.query_map([rowid], |row| row.get(0))?.collect::<Result<_, _>>()?;
    Ok(tags)
}

const INDEX_COLUMNS: &str = "m.id, m.project, m.embedding, m.chunk_type, m.created_at, \
    m.superseded_by IS NOT NULL, m.source, \
    (SELECT json_group_array(tag) FROM \
        (SELECT tag FROM memory_tags t WHERE t.memory_rowid = m.rowid ORDER BY position))";

type IndexRow = (String, String, Vec<f32>, EntryMeta);

fn index_row(row: &Row<'_>) -> Result<IndexRow, StoreError> {
    let id: String = row.get(0)?;
    let corrupt = |what: &str| StoreError::Corrupt { id: id.clone(), what: what.to_owned() };
    let blob: Vec<u8> = row.get(2)?;
    let chunk_type: String = row.get(3)?;
    let tags_json: String = row.get(7)?;
    let meta = EntryMeta {
        chunk_type: ChunkType::parse(&chunk_type).ok_or_else(|| corrupt("chunk type"))?,
        created_at: parse_time(&id, &row.get::<_, String>(4)?)?,
        superseded: row.get(5)?,
        source: row.get(6)?,
        tags: serde_json::from_str(&tags_json).map_err(|_| corrupt("tags"))?,
    };
    let vector = blob_to_vector(&id, &blob)?;
    Ok((row.get(1)?, id, vector, meta))
}

/// Fills the index with every stored memory and returns how many there are. Runs on the
/// writer connection as its first job after open, so no write can slip between the load and
/// the first update. Memories and their tags are read side by side in rowid order (two plain
/// scans in one read transaction: no sort, no per-row subquery), and each project's vectors are
/// built at their counted size before they are put in place, so a failed load leaves the index
/// empty.
pub(super) fn load_index(conn: &mut Connection, index: &VectorIndex) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let mut memories = tx.prepare(
        "SELECT rowid, id, project, embedding, chunk_type, created_at, \
         superseded_by IS NOT NULL, source FROM memories ORDER BY rowid",
    )?;
    let mut tags =
        tx.prepare("SELECT memory_rowid, tag FROM memory_tags ORDER BY memory_rowid, position")?;
    let mut tag_rows = tags.query([])?;
    let mut next_tag = next_tag_row(&mut tag_rows)?;
    let mut projects: HashMap<String, ProjectVectors> = {
        let mut sizes = tx.prepare("SELECT project, count(*) FROM memories GROUP BY project")?;
        let sizes = sizes.query_map([], |row| {
            let entries = row.get::<_, i64>(1)?.max(0) as usize;
            Ok((row.get(0)?, ProjectVectors::with_capacity(entries)))
        })?;
        sizes.collect::<Result<_, _>>()?
    };
    let mut vector = Vec::with_capacity(DIMENSIONS);
    let mut loaded = 0;
    let mut rows = memories.query([])?;
    while let Some(row) = rows.next()? {
        let rowid: i64 = row.get(0)?;
        let id: String = row.get(1)?;
        let corrupt = |what: &str| StoreError::Corrupt { id: id.clone(), what: what.to_owned() };
        let mut memory_tags = Vec::new();
        while next_tag.as_ref().is_some_and(|(owner, _)| *owner <= rowid) {
            // Rows of a memory that is gone cannot exist (the foreign key cascades): skipped.
            if let Some((owner, tag)) = next_tag.take()
                && owner == rowid
            {
                memory_tags.push(tag);
            }
            next_tag = next_tag_row(&mut tag_rows)?;
        }
        let blob = row.get_ref(3)?.as_blob().map_err(|_| corrupt("embedding type"))?;
        if !blob.len().is_multiple_of(4) {
            return Err(corrupt("embedding length"));
        }
        vector.clear();
        vector.extend(blob.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        let chunk_type = row.get_ref(4)?.as_str().map_err(rusqlite::Error::from)?;
        let created_at = row.get_ref(5)?.as_str().map_err(rusqlite::Error::from)?;
        let meta = EntryMeta {
            chunk_type: ChunkType::parse(chunk_type).ok_or_else(|| corrupt("chunk type"))?,
            created_at: parse_time(&id, created_at)?,
            superseded: row.get(6)?,
            source: row.get(7)?,
            tags: memory_tags,
        };
        let project = row.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?;
        let shard = match projects.get_mut(project) {
            Some(shard) => shard,
            None => projects.entry(project.to_owned()).or_default(),
        };
        shard.upsert(&id, &vector, meta);
        loaded += 1;
    }
    for (project, vectors) in projects {
        *write(&index.project_or_default(&project)) = vectors;
    }
    Ok(loaded)
}

fn next_tag_row(rows: &mut Rows<'_>) -> Result<Option<(i64, String)>, StoreError> {
    Ok(match rows.next()? {
        Some(row) => Some((row.get(0)?, row.get(1)?)),
        None => None,
    })
}

/// Brings the index entries of `ids` in line with the database (upsert, or remove when gone).
/// Called on the writer connection right after each commit, so updates reach the index in
/// commit order.
pub(super) fn refresh_index(
    conn: &Connection,
    index: &VectorIndex,
    project: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    let sql = format!("SELECT {INDEX_COLUMNS} FROM memories m WHERE m.project = ?1 AND m.id = ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut fresh = Vec::with_capacity(ids.len());
    for id in ids {
        let mut rows = stmt.query(params![project, id])?;
        fresh.push(match rows.next()? {
            Some(row) => Ok(index_row(row)?),
            None => Err(id.clone()),
        });
    }
    let shard = index.project_or_default(project);
    let mut shard = write(&shard);
    for entry in fresh {
        match entry {
            Ok((_, id, vector, meta)) => shard.upsert(&id, &vector, meta),
            Err(id) => shard.remove(&id),
        }
    }
    Ok(())
}

fn agent_stale_condition(include_never_accessed: bool) -> &'static str {
    // Stale: last access before the cutoff. Never accessed: only when created before it, so a
    // memory stored yesterday is not stale just because nobody has needed it yet.
    if include_never_accessed {
        "(m.last_accessed_at < ?2 OR (m.last_accessed_at IS NULL AND m.created_at < ?2))"
    } else {
        "m.last_accessed_at < ?2"
    }
}

impl Store {
    /// Every registered project name, sorted.
    pub async fn projects(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT name FROM projects ORDER BY name")?;
            let names = stmt.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
            Ok(names)
        })
        .await
    }

    /// The memories among `ids` that exist, in the order asked. Does not count as an access:
    /// callers that show content to an agent also call [`Store::record_access`].
    pub async fn get(
        &self,
        project: &ProjectName,
        ids: Vec<MemoryId>,
    ) -> Result<Vec<Memory>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.project = ?1 AND m.id = ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut found = Vec::with_capacity(ids.len());
            for id in &ids {
                let mut rows = stmt.query(params![project, id.as_str()])?;
                if let Some(row) = rows.next()? {
                    found.push(memory_from_row(row)?);
                }
            }
            Ok(found)
        })
        .await
    }

    /// One page of a project's memories, newest first, with the total that match.
    pub async fn list(&self, project: &ProjectName, query: ListQuery) -> Result<Page, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let (filter, filter_args) = list_filter(&project, &query);
            let mut args: Vec<&dyn ToSql> = filter_args.iter().map(|a| a.as_ref()).collect();
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM memories m WHERE {filter}"),
                &args[..],
                |row| row.get(0),
            )?;
            let (limit, offset) = (query.limit as i64, query.offset as i64);
            args.extend([&limit as &dyn ToSql, &offset]);
            let sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m WHERE {filter} \
                 ORDER BY m.created_at DESC, m.id DESC LIMIT ? OFFSET ?"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let items = collect_memories(stmt.query(&args[..])?)?;
            Ok(Page { total: total.max(0) as u64, items })
        })
        .await
    }

    /// The ids of every memory [`ListQuery`] selects (paging ignored), newest first.
    pub async fn list_ids(
        &self,
        project: &ProjectName,
        query: ListQuery,
    ) -> Result<Vec<String>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let (filter, filter_args) = list_filter(&project, &query);
            let args: Vec<&dyn ToSql> = filter_args.iter().map(|a| a.as_ref()).collect();
            let sql = format!(
                "SELECT m.id FROM memories m WHERE {filter} ORDER BY m.created_at DESC, m.id DESC"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let ids = stmt.query_map(&args[..], |row| row.get(0))?.collect::<Result<_, _>>()?;
            Ok(ids)
        })
        .await
    }

    /// The memories that `id` superseded, oldest first.
    pub async fn superseded_by(
        &self,
        project: &ProjectName,
        id: &MemoryId,
    ) -> Result<Vec<Memory>, StoreError> {
        let (project, id) = (project.to_string(), id.as_str().to_owned());
        self.read(move |conn| {
            require_project(conn, &project)?;
            let sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m \
                 WHERE m.project = ?1 AND m.superseded_by = ?2 ORDER BY m.created_at, m.id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let found = collect_memories(stmt.query(params![project, id])?)?;
            Ok(found)
        })
        .await
    }

    /// Agent memories created per day, oldest day first (days without any are left out).
    pub async fn timeline(&self, project: &ProjectName) -> Result<Vec<DayCount>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let mut stmt = conn.prepare_cached(
                "SELECT substr(created_at, 1, 10) AS day, count(*) FROM memories \
                 WHERE project = ?1 AND chunk_type = 'agent-memory' GROUP BY day ORDER BY day",
            )?;
            let days = stmt
                .query_map(params![project], |row| {
                    Ok(DayCount { day: row.get(0)?, count: row.get::<_, i64>(1)?.max(0) as u64 })
                })?
                .collect::<Result<_, _>>()?;
            Ok(days)
        })
        .await
    }

    /// Tags of live (not superseded) memories with their counts, most used first.
    pub async fn topics(&self, project: &ProjectName) -> Result<Vec<TagCount>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            tag_counts(conn, &project, None)
        })
        .await
    }

    /// Counts by type, stale and never-accessed agent memories (relative to `stale_cutoff`),
    /// and the top tags.
    pub async fn stats(
        &self,
        project: &ProjectName,
        stale_cutoff: DateTime<Utc>,
    ) -> Result<Stats, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let cutoff = format_timestamp(stale_cutoff);
            let (total, agent, file, superseded, stale, never): (i64, i64, i64, i64, i64, i64) =
                conn.query_row(
                    "SELECT count(*),
                        count(*) FILTER (WHERE chunk_type = 'agent-memory'),
                        count(*) FILTER (WHERE chunk_type = 'file-indexed'),
                        count(*) FILTER (WHERE superseded_by IS NOT NULL),
                        count(*) FILTER (WHERE chunk_type = 'agent-memory'
                                         AND last_accessed_at < ?2),
                        count(*) FILTER (WHERE chunk_type = 'agent-memory'
                                         AND last_accessed_at IS NULL AND created_at < ?2)
                     FROM memories WHERE project = ?1",
                    params![project, cutoff],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )?;
            let (files_changed, recorded): (i64, i64) = conn.query_row(
                "SELECT (SELECT count(*) FROM memories \
                         WHERE project = ?1 AND review_reason IS NOT NULL), \
                        (SELECT count(*) FROM review_items WHERE project = ?1)",
                [&project],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let count = |n: i64| n.max(0) as u64;
            Ok(Stats {
                needs_review: count(files_changed + recorded),
                files_changed: count(files_changed),
                total: count(total),
                agent_memories: count(agent),
                file_chunks: count(file),
                superseded: count(superseded),
                stale: count(stale),
                never_accessed: count(never),
                top_tags: tag_counts(conn, &project, Some(TOP_TAGS))?,
            })
        })
        .await
    }

    /// Agent memories `prune_stale` would remove, oldest access first.
    pub async fn find_stale(
        &self,
        project: &ProjectName,
        cutoff: DateTime<Utc>,
        include_never_accessed: bool,
    ) -> Result<Vec<Memory>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m \
                 WHERE m.project = ?1 AND m.chunk_type = 'agent-memory' AND {} \
                 ORDER BY coalesce(m.last_accessed_at, m.created_at)",
                agent_stale_condition(include_never_accessed)
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let stale = collect_memories(stmt.query(params![project, format_timestamp(cutoff)])?)?;
            Ok(stale)
        })
        .await
    }

    /// Full-text matches of any of `terms` in `projects`, best BM25 first: the first `limit`
    /// that `keep(project, id)` accepts. The filter runs as rows are read, so matches are never
    /// cut off before filtering (a selective filter reads further down the ranking instead).
    /// Terms are quoted, so FTS5 syntax in user text is matched literally instead of failing;
    /// rare terms (identifiers, error codes) weigh most.
    pub async fn keyword_matches<F>(
        &self,
        projects: Vec<String>,
        terms: &[String],
        limit: usize,
        keep: F,
    ) -> Result<Vec<KeywordMatch>, StoreError>
    where
        F: Fn(&str, &str) -> bool + Send + 'static,
    {
        if terms.is_empty() || projects.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let quoted: Vec<String> =
            terms.iter().map(|t| format!("\"{}\"", t.replace('"', ""))).collect();
        let fts_query = quoted.join(" OR ");
        let projects = serde_json::to_string(&projects)
            .map_err(|e| StoreError::Corrupt { id: "projects".into(), what: e.to_string() })?;
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT m.id, m.project, bm25(memories_fts) FROM memories_fts f \
                 JOIN memories m ON m.rowid = f.rowid \
                 WHERE memories_fts MATCH ?1 \
                   AND m.project IN (SELECT value FROM json_each(?2)) \
                 ORDER BY bm25(memories_fts)",
            )?;
            let mut rows = stmt.query(params![fts_query, projects])?;
            let mut matches = Vec::new();
            while let Some(row) = rows.next()? {
                let (id, project): (String, String) = (row.get(0)?, row.get(1)?);
                if keep(&project, &id) {
                    let relevance = -row.get::<_, f64>(2)? as f32;
                    matches.push(KeywordMatch { id, project, relevance });
                    if matches.len() == limit {
                        break;
                    }
                }
            }
            Ok(matches)
        })
        .await
    }

    /// Every embedding of a project, for the in-memory vector index.
    pub async fn vectors(
        &self,
        project: &ProjectName,
    ) -> Result<Vec<(String, Vec<f32>)>, StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let mut stmt =
                conn.prepare_cached("SELECT id, embedding FROM memories WHERE project = ?1")?;
            let mut rows = stmt.query([&project])?;
            let mut vectors = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let blob: Vec<u8> = row.get(1)?;
                let vector = blob_to_vector(&id, &blob)?;
                vectors.push((id, vector));
            }
            Ok(vectors)
        })
        .await
    }
}

fn tag_counts(
    conn: &Connection,
    project: &str,
    limit: Option<usize>,
) -> Result<Vec<TagCount>, StoreError> {
    let mut stmt = conn.prepare_cached(
        // Live rows come from an index, not by visiting each memory: rows carry their vectors.
        "SELECT t.tag, count(*) AS n FROM memory_tags t \
         WHERE t.project = ?1 AND t.memory_rowid IN \
             (SELECT rowid FROM memories WHERE project = ?1 AND superseded_by IS NULL) \
         GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT ?2",
    )?;
    let limit = limit.map_or(-1, |l| l as i64);
    let counts = stmt
        .query_map(params![project, limit], |row| {
            Ok(TagCount { tag: row.get(0)?, count: row.get::<_, i64>(1)?.max(0) as u64 })
        })?
        .collect::<Result<_, _>>()?;
    Ok(counts)
}
