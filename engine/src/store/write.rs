//! Everything that changes the database, each operation in one transaction on the writer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_rusqlite::rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::links::{clear_review, write_links};
use super::read::refresh_index;
use super::review::{ReviewKind, record_pair, record_redaction, settle_pair};
use super::{Store, StoreError, require_project, vector_to_blob};
use crate::code_links::CodeLink;
use crate::contradiction::reads_as_reversal;
use crate::embed::{DIMENSIONS, MAX_WINDOWS};
use crate::memory::{
    ChunkType, Content, Memory, MemoryId, NewMemory, Source, TagEdit, Tags, format_timestamp,
};
use crate::project::ProjectName;
use crate::vector_index::{VectorIndex, dot, first_window, read};

/// A memory to insert with its embedding, optionally superseding an older one.
#[derive(Debug, Clone)]
pub struct StoreItem {
    pub memory: NewMemory,
    /// One vector per window of the content, end to end (see [`crate::embed::MAX_WINDOWS`]).
    pub vector: Vec<f32>,
    pub supersedes: Option<MemoryId>,
}

/// Above this cosine a new agent memory is a duplicate of a live one and is not stored.
pub const DUPLICATE_ABOVE: f32 = 0.95;
/// From this cosine up to [`DUPLICATE_ABOVE`] a new memory is stored with a hint naming the
/// similar one, so the agent can supersede it instead.
pub const SIMILAR_FROM: f32 = 0.80;

/// A live memory close to a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Similar {
    pub id: String,
    pub score: f32,
}

/// A live decision a new decision may contradict: close to it, below a duplicate, and about
/// the same domain (see [`decision_conflict`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Conflict {
    pub id: String,
    pub score: f32,
    pub created_at: DateTime<Utc>,
    /// The older decision's first non-empty line, shortened.
    pub first_line: String,
}

/// From this cosine up to [`DUPLICATE_ABOVE`] a new `decision` that shares a domain tag with a
/// live decision, and reads as reversing it ([`reads_as_reversal`]), is hinted to possibly
/// contradict it. Chosen (best F1) on the tuning half of the labelled pairs of
/// `engine/tests/data/contradictions.json` (`cargo bench --bench search -- --conflicts`).
pub const CONFLICT_FROM: f32 = 0.45;
/// How many of the closest live decisions are read for a reversal.
const CONFLICT_CANDIDATES: usize = 3;
/// Tags that say what kind of memory it is (or who wrote it), not what it is about.
const KIND_TAGS: &[&str] =
    &["memory", "decision", "preference", "pattern", "bug", "spec", "pinned", "untagged"];
const FIRST_LINE_CHARS: usize = 120;

/// The domain tags of a memory: its tags but the kind tags and `agent:` identities.
fn domain_tags(tags: &[String]) -> impl Iterator<Item = &String> {
    tags.iter().filter(|t| !KIND_TAGS.contains(&t.as_str()) && !t.starts_with("agent:"))
}

/// What happened to one memory given to [`Store::insert_deduplicated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StoreOutcome {
    Stored {
        id: String,
        similar: Option<Similar>,
        /// Set for a new decision that may contradict a live one.
        conflict: Option<Conflict>,
    },
    /// Not stored: `duplicate_of` is the live memory (or an earlier item of the same batch,
    /// `in_batch`) it repeats.
    Skipped { duplicate_of: String, score: f32, in_batch: bool },
}

/// Fields to change in place; new content comes with its new embedding and the links found in
/// it. Any edit clears the memory's review mark.
#[derive(Debug, Clone, Default)]
pub struct MemoryUpdate {
    pub content: Option<(Content, Vec<f32>)>,
    pub tags: Option<Tags>,
    pub source: Option<Source>,
    pub links: Option<Vec<CodeLink>>,
    /// An older memory this one replaces from now on.
    pub supersedes: Option<MemoryId>,
    /// What the secret filter took out of the edit, for the review inbox (empty when nothing).
    pub redacted: String,
}

impl MemoryUpdate {
    fn is_empty(&self) -> bool {
        self.content.is_none()
            && self.tags.is_none()
            && self.source.is_none()
            && self.supersedes.is_none()
    }
}

/// The live agent memory of the project, or the earlier accepted item of the batch, that `item`
/// comes closest to repeating, with how alike they are and whether it is of the batch.
fn closest_memory(
    shard: Option<&std::sync::RwLock<crate::vector_index::ProjectVectors>>,
    accepted: &[StoreItem],
    item: &StoreItem,
) -> Option<(String, Alike, bool)> {
    let stored = shard.and_then(|shard| {
        let shard = read(shard);
        let live = |m: &crate::vector_index::EntryMeta| {
            m.chunk_type == ChunkType::AgentMemory && !m.superseded
        };
        let hit = shard.top_k_first_windows(first_window(&item.vector), 1, live).pop()?;
        let vectors = shard.vectors_of(&hit.id)?;
        Some((hit.id, alike(&vectors, &item.vector), false))
    });
    let batch = accepted
        .iter()
        .map(|a| (a.memory.id.as_str().to_owned(), alike(&a.vector, &item.vector), true));
    stored.into_iter().chain(batch).max_by(|a, b| a.1.repeat.total_cmp(&b.1.repeat))
}

/// Updates the index after a commit. The write has happened whatever this returns, so a
/// failure (which would need a row we just wrote to be unreadable) is logged, not returned.
pub(super) fn sync_index(
    conn: &tokio_rusqlite::rusqlite::Connection,
    index: &VectorIndex,
    project: &str,
    ids: &[String],
) {
    if let Err(err) = refresh_index(conn, index, project, ids) {
        tracing::error!(project, %err, "vector index not updated after a commit");
    }
}

/// A memory's embedding is one to [`MAX_WINDOWS`] whole vectors.
pub(super) fn check_vector(vector: &[f32]) -> Result<(), StoreError> {
    let windows = vector.len() / DIMENSIONS;
    if vector.len().is_multiple_of(DIMENSIONS) && (1..=MAX_WINDOWS).contains(&windows) {
        Ok(())
    } else {
        Err(StoreError::BadVector { found: vector.len(), expected: DIMENSIONS })
    }
}

/// How alike two memories are, from their windows compared in order (for one-window memories
/// both are their cosine).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alike {
    /// The least alike pair: a repeat must repeat every window. Memories with different
    /// numbers of windows never repeat each other (one goes on where the other stops), so
    /// theirs stops at the duplicate bar, which is not above it.
    pub repeat: f32,
    /// The pairs' mean, for the similar-memory hint: most of the text in common.
    pub similar: f32,
}

pub fn alike(a: &[f32], b: &[f32]) -> Alike {
    let pairs: Vec<f32> = a
        .chunks_exact(DIMENSIONS)
        .zip(b.chunks_exact(DIMENSIONS))
        .map(|(x, y)| dot(x, y))
        .collect();
    let least = pairs.iter().copied().reduce(f32::min).unwrap_or(0.0);
    let mean = pairs.iter().sum::<f32>() / pairs.len().max(1) as f32;
    let cap = if a.len() == b.len() { f32::INFINITY } else { DUPLICATE_ABOVE };
    Alike { repeat: least.min(cap), similar: mean.min(cap) }
}

pub(super) fn begin(
    conn: &mut tokio_rusqlite::rusqlite::Connection,
) -> Result<Transaction<'_>, StoreError> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

pub(super) fn rowid_of(tx: &Transaction<'_>, project: &str, id: &str) -> Result<i64, StoreError> {
    tx.query_row(
        "SELECT rowid FROM memories WHERE project = ?1 AND id = ?2",
        params![project, id],
        |row| row.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound { project: project.to_owned(), id: id.to_owned() })
}

pub(super) fn write_tags(
    tx: &Transaction<'_>,
    rowid: i64,
    project: &str,
    tags: &[String],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM memory_tags WHERE memory_rowid = ?1", [rowid])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO memory_tags (memory_rowid, position, project, tag) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (position, tag) in tags.iter().enumerate() {
        insert.execute(params![rowid, position as i64, project, tag])?;
    }
    Ok(())
}

pub(super) fn register(
    tx: &Transaction<'_>,
    project: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO projects (name, created_at) VALUES (?1, ?2)",
        params![project, format_timestamp(now)],
    )?;
    Ok(inserted > 0)
}

impl Store {
    /// Registers a project namespace; returns whether it was new.
    pub async fn register_project(&self, project: &ProjectName) -> Result<bool, StoreError> {
        let project = project.to_string();
        self.write(move |conn, _| {
            let tx = begin(conn)?;
            let created = register(&tx, &project, Utc::now())?;
            tx.commit()?;
            Ok(created)
        })
        .await
    }

    /// Inserts memories in one transaction, registering the project if it is new. Returns
    /// their ids in order. Any failure (a duplicate id, an unknown superseded id) inserts none.
    pub async fn insert(
        &self,
        project: &ProjectName,
        items: Vec<StoreItem>,
    ) -> Result<Vec<String>, StoreError> {
        for item in &items {
            check_vector(&item.vector)?;
        }
        let project = project.to_string();
        self.write(move |conn, index| {
            let tx = begin(conn)?;
            register(&tx, &project, Utc::now())?;
            let mut ids = Vec::with_capacity(items.len());
            let mut touched = Vec::with_capacity(items.len());
            for item in items {
                touched.extend(item.supersedes.as_ref().map(|old| old.as_str().to_owned()));
                let id = insert_one(&tx, &project, item)?;
                touched.push(id.clone());
                ids.push(id);
            }
            tx.commit()?;
            sync_index(conn, index, &project, &touched);
            Ok(ids)
        })
        .await
    }

    /// Inserts agent memories unless they repeat a live agent memory of the project or an
    /// earlier item of the batch (cosine above [`DUPLICATE_ABOVE`]); items that supersede
    /// another skip the check. The check runs on the writer thread against the index as of the
    /// last commit, so two concurrent stores of the same text cannot both pass it.
    pub async fn insert_deduplicated(
        &self,
        project: &ProjectName,
        items: Vec<StoreItem>,
    ) -> Result<Vec<StoreOutcome>, StoreError> {
        for item in &items {
            check_vector(&item.vector)?;
        }
        let project = project.to_string();
        self.write(move |conn, index| {
            let shard = index.project(&project);
            let mut outcomes = Vec::with_capacity(items.len());
            let mut accepted: Vec<StoreItem> = Vec::with_capacity(items.len());
            // What the inbox keeps of each accepted item: its near-duplicate and conflict.
            let mut hints = Vec::with_capacity(items.len());
            for item in items {
                let closest = match &item.supersedes {
                    Some(_) => None,
                    None => closest_memory(shard.as_deref(), &accepted, &item),
                };
                match closest {
                    Some((duplicate_of, alike, in_batch)) if alike.repeat > DUPLICATE_ABOVE => {
                        let score = alike.repeat;
                        outcomes.push(StoreOutcome::Skipped { duplicate_of, score, in_batch });
                    }
                    closest => {
                        let similar = closest
                            .filter(|c| c.1.similar >= SIMILAR_FROM)
                            .map(|(id, alike, _)| Similar { id, score: alike.similar });
                        let conflict = match (&item.supersedes, shard.as_ref()) {
                            (None, Some(shard)) => decision_conflict(conn, shard, &item)?,
                            _ => None,
                        };
                        let id = item.memory.id.as_str().to_owned();
                        hints.push((similar.clone(), conflict.clone()));
                        outcomes.push(StoreOutcome::Stored { id, similar, conflict });
                        accepted.push(item);
                    }
                }
            }
            let tx = begin(conn)?;
            register(&tx, &project, Utc::now())?;
            let mut touched = Vec::with_capacity(accepted.len());
            for (item, (similar, conflict)) in accepted.into_iter().zip(hints) {
                touched.extend(item.supersedes.as_ref().map(|old| old.as_str().to_owned()));
                let id = insert_one(&tx, &project, item)?;
                if let Some(similar) = similar {
                    let pair = (ReviewKind::Duplicate, similar.id.as_str(), similar.score);
                    record_pair(&tx, &project, &id, pair)?;
                }
                if let Some(conflict) = conflict {
                    let pair = (ReviewKind::Conflict, conflict.id.as_str(), conflict.score);
                    record_pair(&tx, &project, &id, pair)?;
                }
                touched.push(id);
            }
            tx.commit()?;
            sync_index(conn, index, &project, &touched);
            Ok(outcomes)
        })
        .await
    }

    /// Edits a memory in place: keeps its id and `created_at`, sets `updated_at`.
    pub async fn update(
        &self,
        project: &ProjectName,
        id: &MemoryId,
        update: MemoryUpdate,
    ) -> Result<Memory, StoreError> {
        if update.is_empty() {
            return Err(StoreError::NothingToUpdate);
        }
        if let Some((_, vector)) = &update.content {
            check_vector(vector)?;
        }
        let (project, id) = (project.to_string(), id.as_str().to_owned());
        self.write(move |conn, index| {
            let tx = begin(conn)?;
            require_project(&tx, &project)?;
            let rowid = rowid_of(&tx, &project, &id)?;
            let now = format_timestamp(Utc::now());
            if let Some((content, vector)) = &update.content {
                tx.execute(
                    "UPDATE memories SET content = ?1, embedding = ?2 WHERE rowid = ?3",
                    params![content.as_str(), vector_to_blob(vector), rowid],
                )?;
            }
            if let Some(source) = &update.source {
                tx.execute(
                    "UPDATE memories SET source = ?1 WHERE rowid = ?2",
                    params![source.as_str(), rowid],
                )?;
            }
            if let Some(tags) = &update.tags {
                write_tags(&tx, rowid, &project, tags.as_slice())?;
            }
            if let Some(links) = &update.links {
                write_links(&tx, rowid, &project, links)?;
            }
            clear_review(&tx, rowid)?;
            if !update.redacted.is_empty() {
                record_redaction(&tx, &project, &id, &update.redacted)?;
            }
            let mut touched = vec![id.clone()];
            if let Some(old) = &update.supersedes {
                mark_superseded(&tx, &project, old, &MemoryId::parse(&id)?)?;
                settle_pair(&tx, &project, &id, old.as_str())?;
                touched.push(old.as_str().to_owned());
            }
            tx.execute(
                "UPDATE memories SET updated_at = ?1 WHERE rowid = ?2",
                params![now, rowid],
            )?;
            let memory = super::read::memory_by_rowid(&tx, rowid)?;
            tx.commit()?;
            sync_index(conn, index, &project, &touched);
            Ok(memory)
        })
        .await
    }

    /// Applies a tag edit and returns the final tags; `redacted` (what the secret filter took
    /// out of the added tags, empty when nothing) goes to the review inbox.
    pub async fn retag(
        &self,
        project: &ProjectName,
        id: &MemoryId,
        edit: TagEdit,
        redacted: String,
    ) -> Result<Vec<String>, StoreError> {
        let (project, id) = (project.to_string(), id.as_str().to_owned());
        self.write(move |conn, index| {
            let tx = begin(conn)?;
            require_project(&tx, &project)?;
            let rowid = rowid_of(&tx, &project, &id)?;
            let current = super::read::tags_of(&tx, rowid)?;
            let tags = edit.apply(&current)?;
            write_tags(&tx, rowid, &project, tags.as_slice())?;
            if !redacted.is_empty() {
                record_redaction(&tx, &project, &id, &redacted)?;
            }
            tx.execute(
                "UPDATE memories SET updated_at = ?1 WHERE rowid = ?2",
                params![format_timestamp(Utc::now()), rowid],
            )?;
            tx.commit()?;
            sync_index(conn, index, &project, &[id]);
            Ok(tags.as_slice().to_vec())
        })
        .await
    }

    /// Deletes one memory; an unknown id is [`StoreError::NotFound`].
    pub async fn delete(&self, project: &ProjectName, id: &MemoryId) -> Result<(), StoreError> {
        let deleted = self.delete_many(project, vec![id.clone()]).await?;
        if deleted == 0 {
            return Err(StoreError::NotFound {
                project: project.to_string(),
                id: id.as_str().into(),
            });
        }
        Ok(())
    }

    /// Deletes the memories that exist among `ids`; returns how many went. A memory that was
    /// superseded by a deleted one becomes live again: its replacement is gone.
    pub async fn delete_many(
        &self,
        project: &ProjectName,
        ids: Vec<MemoryId>,
    ) -> Result<usize, StoreError> {
        let project = project.to_string();
        self.write(move |conn, index| {
            let tx = begin(conn)?;
            require_project(&tx, &project)?;
            let mut deleted = 0;
            let mut touched = Vec::new();
            {
                let mut delete =
                    tx.prepare_cached("DELETE FROM memories WHERE project = ?1 AND id = ?2")?;
                let mut revive = tx.prepare_cached(
                    "UPDATE memories SET superseded_by = NULL \
                     WHERE project = ?1 AND superseded_by = ?2 RETURNING id",
                )?;
                for id in &ids {
                    let gone = delete.execute(params![project, id.as_str()])?;
                    if gone > 0 {
                        touched.push(id.as_str().to_owned());
                        let revived = revive
                            .query_map(params![project, id.as_str()], |row| row.get(0))?
                            .collect::<Result<Vec<String>, _>>()?;
                        touched.extend(revived);
                    }
                    deleted += gone;
                }
            }
            tx.commit()?;
            sync_index(conn, index, &project, &touched);
            Ok(deleted)
        })
        .await
    }

    /// Marks `old` as superseded by `new`: hidden from search, kept for audit.
    pub async fn supersede(
        &self,
        project: &ProjectName,
        old: &MemoryId,
        new: &MemoryId,
    ) -> Result<(), StoreError> {
        let (project, old, new) = (project.to_string(), old.clone(), new.clone());
        self.write(move |conn, index| {
            let tx = begin(conn)?;
            require_project(&tx, &project)?;
            mark_superseded(&tx, &project, &old, &new)?;
            tx.commit()?;
            sync_index(conn, index, &project, &[old.as_str().to_owned()]);
            Ok(())
        })
        .await
    }

    /// Counts an access (a search hit or an expand) to agent memories among `ids`.
    pub async fn record_access(
        &self,
        project: &ProjectName,
        ids: Vec<String>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let project = project.to_string();
        self.write(move |conn, _| {
            let tx = begin(conn)?;
            {
                let mut touch = tx.prepare_cached(
                    "UPDATE memories SET hit_count = hit_count + 1, last_accessed_at = ?1 \
                     WHERE project = ?2 AND id = ?3 AND chunk_type = 'agent-memory'",
                )?;
                let at = format_timestamp(at);
                for id in &ids {
                    touch.execute(params![at, project, id])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

/// The closest live decision of the project that a new decision may contradict: it shares a
/// domain tag, its cosine lies in [`CONFLICT_FROM`]..=[`DUPLICATE_ABOVE`], and the new text
/// reads as reversing it. On the labelled pairs the cosine alone is no better than chance (a
/// refinement is as close as a reversal), so the reading decides; it is a hint for the agent
/// to look, never a refusal.
fn decision_conflict(
    conn: &tokio_rusqlite::rusqlite::Connection,
    shard: &std::sync::RwLock<crate::vector_index::ProjectVectors>,
    item: &StoreItem,
) -> Result<Option<Conflict>, StoreError> {
    let tags = item.memory.tags.as_slice();
    if !tags.iter().any(|t| t == "decision") {
        return Ok(None);
    }
    let domains: Vec<&String> = domain_tags(tags).collect();
    if domains.is_empty() {
        return Ok(None);
    }
    let first = first_window(&item.vector);
    let candidates = read(shard).top_k_first_windows(first, CONFLICT_CANDIDATES, |m| {
        m.chunk_type == ChunkType::AgentMemory
            && !m.superseded
            && m.tags.iter().any(|t| t == "decision")
            && domain_tags(&m.tags).any(|t| domains.contains(&t))
    });
    let mut stmt = conn.prepare_cached("SELECT content, created_at FROM memories WHERE id = ?1")?;
    let new_text = item.memory.content.as_str();
    let mut found = None;
    for hit in candidates {
        if !(CONFLICT_FROM..=DUPLICATE_ABOVE).contains(&hit.score) {
            continue;
        }
        let (content, created_at): (String, String) =
            stmt.query_row([&hit.id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        if reads_as_reversal(new_text, &content) {
            found = Some((hit, content, created_at));
            break;
        }
    }
    let Some((hit, content, created_at)) = found else { return Ok(None) };
    let first_line = content.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let first_line = match first_line.char_indices().nth(FIRST_LINE_CHARS) {
        Some((cut, _)) => format!("{}…", &first_line[..cut]),
        None => first_line.to_owned(),
    };
    Ok(Some(Conflict {
        created_at: super::parse_time(&hit.id, &created_at)?,
        id: hit.id,
        score: hit.score,
        first_line,
    }))
}

fn mark_superseded(
    tx: &Transaction<'_>,
    project: &str,
    old: &MemoryId,
    new: &MemoryId,
) -> Result<(), StoreError> {
    if old == new {
        return Err(StoreError::SupersedeSelf { id: old.as_str().to_owned() });
    }
    rowid_of(tx, project, new.as_str())?;
    let old_rowid = rowid_of(tx, project, old.as_str())?;
    tx.execute(
        "UPDATE memories SET superseded_by = ?1 WHERE rowid = ?2",
        params![new.as_str(), old_rowid],
    )?;
    Ok(())
}

pub(super) fn insert_one(
    tx: &Transaction<'_>,
    project: &str,
    item: StoreItem,
) -> Result<String, StoreError> {
    let StoreItem { memory, vector, supersedes } = item;
    let id = memory.id.as_str().to_owned();
    let exists: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM memories WHERE id = ?1)", [&id], |row| {
            row.get(0)
        })?;
    if exists {
        return Err(StoreError::DuplicateId { id });
    }
    let file = memory.file.as_ref();
    tx.execute(
        "INSERT INTO memories (id, project, content, source, chunk_type, created_at, \
         file_path, file_mtime_ns, file_size, chunk_hash, embedding) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            id,
            project,
            memory.content.as_str(),
            memory.source.as_str(),
            memory.chunk_type.as_str(),
            format_timestamp(memory.created_at),
            file.map(|f| f.path.as_str()),
            file.map(|f| f.mtime_ns),
            file.map(|f| f.size as i64),
            file.map(|f| f.chunk_hash.as_str()),
            vector_to_blob(&vector),
        ],
    )?;
    let rowid = tx.last_insert_rowid();
    write_tags(tx, rowid, project, memory.tags.as_slice())?;
    write_links(tx, rowid, project, &memory.links)?;
    if !memory.redacted.is_empty() {
        record_redaction(tx, project, &id, &memory.redacted)?;
    }
    if let Some(old) = supersedes {
        mark_superseded(tx, project, &old, &memory.id)?;
    }
    Ok(id)
}
