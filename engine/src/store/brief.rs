//! What the session-start brief is made of: a project's live agent memories with a given tag
//! (newest first), its most used and its newest, a few of each, each list read from an index
//! so the cost does not grow with the project.

use tokio_rusqlite::rusqlite::{Connection, ToSql};

use super::read::{MEMORY_COLUMNS, collect_memories};
use super::{Store, StoreError};
use crate::memory::Memory;
use crate::project::ProjectName;

/// The brief's candidates, each list in its own order; a memory may be in several.
#[derive(Debug, Clone, Default)]
pub struct BriefCandidates {
    /// Per asked tag, in the order the tags were asked: newest first.
    pub tagged: Vec<(String, Vec<Memory>)>,
    /// Most hits first (only memories with a hit).
    pub most_used: Vec<Memory>,
    pub newest: Vec<Memory>,
    /// Live agent memories in the project.
    pub agent_memories: u64,
}

/// Live agent memories without any of the excluded tags.
const LIVE: &str = "m.project = ?1 AND m.chunk_type = 'agent-memory' AND m.superseded_by IS NULL";

fn without_tags(excluded: &[String]) -> String {
    if excluded.is_empty() {
        return String::new();
    }
    let marks = vec!["?"; excluded.len()].join(", ");
    format!(
        " AND NOT EXISTS (SELECT 1 FROM memory_tags x WHERE x.memory_rowid = m.rowid \
         AND x.tag IN ({marks}))"
    )
}

fn query(
    conn: &Connection,
    sql: &str,
    project: &str,
    first: Option<&dyn ToSql>,
    excluded: &[String],
    limit: i64,
) -> Result<Vec<Memory>, StoreError> {
    let mut args: Vec<&dyn ToSql> = vec![&project];
    args.extend(first);
    args.extend(excluded.iter().map(|t| t as &dyn ToSql));
    args.push(&limit);
    let mut stmt = conn.prepare_cached(sql)?;
    collect_memories(stmt.query(&args[..])?)
}

impl Store {
    /// Up to `per_list` memories of each list; `None` for a project the store does not know.
    pub async fn brief_candidates(
        &self,
        project: &ProjectName,
        tags: Vec<String>,
        excluded: Vec<String>,
        per_list: usize,
    ) -> Result<Option<BriefCandidates>, StoreError> {
        let project = project.to_string();
        let limit = i64::try_from(per_list).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let known: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM projects WHERE name = ?1)",
                [&project],
                |row| row.get(0),
            )?;
            if !known {
                return Ok(None);
            }
            let skip = without_tags(&excluded);
            // Numbered after the project (and the tag): the excluded tags, then the limit.
            let tagged_sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memory_tags t JOIN memories m \
                 ON m.rowid = t.memory_rowid \
                 WHERE t.project = ?1 AND t.tag = ? AND {LIVE}{skip} \
                 ORDER BY t.memory_rowid DESC LIMIT ?"
            );
            let mut tagged = Vec::with_capacity(tags.len());
            for tag in tags {
                let found = query(conn, &tagged_sql, &project, Some(&tag), &excluded, limit)?;
                tagged.push((tag, found));
            }
            let used_sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m WHERE {LIVE} AND m.hit_count > 0{skip} \
                 ORDER BY m.hit_count DESC LIMIT ?"
            );
            let most_used = query(conn, &used_sql, &project, None, &excluded, limit)?;
            let newest_sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m WHERE {LIVE}{skip} \
                 ORDER BY m.created_at DESC LIMIT ?"
            );
            let newest = query(conn, &newest_sql, &project, None, &excluded, limit)?;
            let agent_memories: i64 = conn.query_row(
                &format!("SELECT count(*) FROM memories m WHERE {LIVE}"),
                [&project],
                |row| row.get(0),
            )?;
            Ok(Some(BriefCandidates {
                tagged,
                most_used,
                newest,
                agent_memories: agent_memories.max(0) as u64,
            }))
        })
        .await
    }
}
