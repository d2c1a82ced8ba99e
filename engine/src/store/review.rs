//! What the review inbox needs from the store: the pairs and redactions writes recorded, the
//! memories a changed file marked, and dismissing an item.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_rusqlite::rusqlite::{Transaction, params};

use super::read::{MEMORY_COLUMNS, collect_memories};
use super::write::begin;
use super::{Store, StoreError, parse_time, require_project};
use crate::memory::{Memory, format_timestamp};
use crate::project::ProjectName;

/// Most items of one kind the inbox lists at once.
pub const INBOX_LIMIT: usize = 200;

/// What a recorded inbox item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    /// A file the memory names changed, went or moved (the memory's own mark).
    CodeChange,
    /// Stored beside a live memory it nearly repeats (cosine 0.80–0.95).
    Duplicate,
    /// A decision that may reverse an older one.
    Conflict,
    /// Secrets were taken out of it when it was written.
    Redaction,
}

impl ReviewKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::CodeChange => "code_change",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
            Self::Redaction => "redaction",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Duplicate, Self::Conflict, Self::Redaction].into_iter().find(|k| k.as_str() == text)
    }
}

/// An inbox item a write recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedItem {
    pub id: i64,
    pub kind: ReviewKind,
    pub memory_id: String,
    pub other_id: Option<String>,
    pub score: Option<f32>,
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

/// Records that the memory `id` was stored beside `other` (a near-duplicate or a possible
/// conflict).
pub(super) fn record_pair(
    tx: &Transaction<'_>,
    project: &str,
    id: &str,
    (kind, other, score): (ReviewKind, &str, f32),
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO review_items (project, kind, memory_id, other_id, score, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        project,
        kind.as_str(),
        id,
        other,
        score,
        format_timestamp(Utc::now())
    ])?;
    Ok(())
}

/// Records what the secret filter took out of the memory `id`.
pub(super) fn record_redaction(
    tx: &Transaction<'_>,
    project: &str,
    id: &str,
    detail: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO review_items (project, kind, memory_id, detail, created_at) \
         VALUES (?1, 'redaction', ?2, ?3, ?4)",
    )?
    .execute(params![project, id, detail, format_timestamp(Utc::now())])?;
    Ok(())
}

/// Settles the pairs of two memories once one supersedes the other: nothing is left to decide.
pub(super) fn settle_pair(
    tx: &Transaction<'_>,
    project: &str,
    a: &str,
    b: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM review_items WHERE project = ?1 AND kind IN ('duplicate', 'conflict') \
         AND ((memory_id = ?2 AND other_id = ?3) OR (memory_id = ?3 AND other_id = ?2))",
    )?
    .execute(params![project, a, b])?;
    Ok(())
}

impl Store {
    /// The inbox items writes recorded for a project, newest first (at most [`INBOX_LIMIT`]),
    /// and the memories a changed file marked, longest marked first.
    pub async fn review_queue(
        &self,
        project: &ProjectName,
    ) -> Result<(Vec<RecordedItem>, Vec<Memory>), StoreError> {
        let project = project.to_string();
        self.read(move |conn| {
            require_project(conn, &project)?;
            let mut stmt = conn.prepare_cached(
                "SELECT id, kind, memory_id, other_id, score, detail, created_at \
                 FROM review_items WHERE project = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![project, INBOX_LIMIT as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<f64>>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                ))
            })?;
            let mut items = Vec::new();
            for row in rows {
                let (id, kind, memory_id, other_id, score, detail, created_at) = row?;
                let corrupt =
                    || StoreError::Corrupt { id: memory_id.clone(), what: "review item".into() };
                items.push(RecordedItem {
                    id,
                    kind: ReviewKind::parse(&kind).ok_or_else(corrupt)?,
                    created_at: parse_time(&memory_id, &created_at)?,
                    memory_id,
                    other_id,
                    score: score.map(|s| s as f32),
                    detail,
                });
            }
            let sql = format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.project = ?1 \
                 AND m.review_reason IS NOT NULL ORDER BY m.review_since LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let marked = collect_memories(stmt.query(params![project, INBOX_LIMIT as i64])?)?;
            Ok((items, marked))
        })
        .await
    }

    /// How many items every project's inbox holds (the tray's count).
    pub async fn review_total(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let total: i64 = conn.query_row(
                "SELECT (SELECT count(*) FROM memories WHERE review_reason IS NOT NULL) \
                      + (SELECT count(*) FROM review_items)",
                [],
                |row| row.get(0),
            )?;
            Ok(total.max(0) as u64)
        })
        .await
    }

    /// Takes an item off the inbox; [`StoreError::NotFound`] when the project has no such item.
    pub async fn dismiss_review_item(
        &self,
        project: &ProjectName,
        item: i64,
    ) -> Result<(), StoreError> {
        let project = project.to_string();
        self.write(move |conn, _| {
            let tx = begin(conn)?;
            let gone = tx.execute(
                "DELETE FROM review_items WHERE project = ?1 AND id = ?2",
                params![project, item],
            )?;
            tx.commit()?;
            if gone == 0 {
                return Err(StoreError::NotFound { project, id: format!("review item {item}") });
            }
            Ok(())
        })
        .await
    }
}
