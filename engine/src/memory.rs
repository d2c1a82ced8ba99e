//! What a memory is, and the validation every write goes through before it reaches the store.
//!
//! Validation lives in constructors ([`Content`], [`Tags`], [`Source`]) so an invalid value
//! cannot be built, and the store never has to re-check what it is given.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::excerpt::excerpt;

/// Largest agent memory, in bytes of UTF-8. Agents store notes, not documents; anything larger
/// is almost always a mistake (a pasted file) and the embedding only sees the first 256 tokens.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// Largest file chunk, in bytes: the default file size limit of the indexer.
pub const MAX_CHUNK_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_SOURCE_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMemory {
    #[error("content is empty; give the text to remember")]
    EmptyContent,
    #[error("content is {bytes} bytes; the limit is {limit} bytes")]
    ContentTooLarge { bytes: usize, limit: usize },
    #[error("tags are empty after trimming; give at least one tag, e.g. \"decision\"")]
    NoTags,
    #[error("{count} tags given; at most {MAX_TAGS} are allowed")]
    TooManyTags { count: usize },
    #[error("tag {} is longer than {MAX_TAG_CHARS} characters", excerpt(tag))]
    TagTooLong { tag: String },
    #[error("source is {bytes} bytes; the limit is {MAX_SOURCE_BYTES} bytes")]
    SourceTooLong { bytes: usize },
    #[error(
        "memory id {} is not a valid id (1-128 characters, no control characters)",
        excerpt(id)
    )]
    InvalidId { id: String },
    #[error("set_tags replaces all tags and cannot be combined with add_tags or remove_tags")]
    MixedTagEdit,
    #[error("give set_tags, or add_tags and/or remove_tags")]
    NoTagEdit,
    #[error("this edit would leave the memory without tags; keep at least one")]
    WouldRemoveAllTags,
}

/// Whether a memory was written by an agent or cut from an indexed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum ChunkType {
    AgentMemory,
    FileIndexed,
}

impl ChunkType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentMemory => "agent-memory",
            Self::FileIndexed => "file-indexed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "agent-memory" => Some(Self::AgentMemory),
            "file-indexed" => Some(Self::FileIndexed),
            _ => None,
        }
    }

    fn content_limit(self) -> usize {
        match self {
            Self::AgentMemory => MAX_CONTENT_BYTES,
            Self::FileIndexed => MAX_CHUNK_BYTES,
        }
    }
}

/// Non-empty text within the size limit of its chunk type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content(String);

impl Content {
    pub fn new(text: impl Into<String>, kind: ChunkType) -> Result<Self, InvalidMemory> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(InvalidMemory::EmptyContent);
        }
        let limit = kind.content_limit();
        if text.len() > limit {
            return Err(InvalidMemory::ContentTooLarge { bytes: text.len(), limit });
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At least one tag; each trimmed, lower-cased and unique, in first-seen order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn new<S: AsRef<str>>(raw: impl IntoIterator<Item = S>) -> Result<Self, InvalidMemory> {
        let tags = normalize_tags(raw)?;
        if tags.is_empty() {
            return Err(InvalidMemory::NoTags);
        }
        Ok(Self(tags))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// Trims, lower-cases and de-duplicates tags; an empty result is allowed here (a removal list
/// may be empty), the callers that need a tag use [`Tags::new`].
pub fn normalize_tags<S: AsRef<str>>(
    raw: impl IntoIterator<Item = S>,
) -> Result<Vec<String>, InvalidMemory> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw {
        let tag = tag.as_ref().trim().to_lowercase();
        if tag.is_empty() || tags.contains(&tag) {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(InvalidMemory::TagTooLong { tag });
        }
        tags.push(tag);
    }
    if tags.len() > MAX_TAGS {
        return Err(InvalidMemory::TooManyTags { count: tags.len() });
    }
    Ok(tags)
}

/// How `retag_memory` changes tags: replace them all, or add and remove some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagEdit {
    Set(Tags),
    Change { add: Vec<String>, remove: Vec<String> },
}

impl TagEdit {
    pub fn from_parts(
        add: Option<Vec<String>>,
        remove: Option<Vec<String>>,
        set: Option<Vec<String>>,
    ) -> Result<Self, InvalidMemory> {
        match (add, remove, set) {
            (None, None, Some(set)) => Ok(Self::Set(Tags::new(set)?)),
            (_, _, Some(_)) => Err(InvalidMemory::MixedTagEdit),
            (None, None, None) => Err(InvalidMemory::NoTagEdit),
            (add, remove, None) => {
                let add = normalize_tags(add.unwrap_or_default())?;
                let remove = normalize_tags(remove.unwrap_or_default())?;
                if add.is_empty() && remove.is_empty() {
                    return Err(InvalidMemory::NoTagEdit);
                }
                Ok(Self::Change { add, remove })
            }
        }
    }

    /// The tags after applying this edit to `current`.
    pub fn apply(&self, current: &[String]) -> Result<Tags, InvalidMemory> {
        match self {
            Self::Set(tags) => Ok(tags.clone()),
            Self::Change { add, remove } => {
                let kept = current.iter().filter(|t| !remove.contains(t));
                Tags::new(kept.chain(add.iter())).map_err(|err| match err {
                    InvalidMemory::NoTags => InvalidMemory::WouldRemoveAllTags,
                    other => other,
                })
            }
        }
    }
}

/// Where a memory came from (free text for agents, `file:<path>|<heading>` for chunks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source(String);

impl Source {
    pub fn new(text: impl Into<String>) -> Result<Self, InvalidMemory> {
        let text = text.into().trim().to_owned();
        if text.len() > MAX_SOURCE_BYTES {
            return Err(InvalidMemory::SourceTooLong { bytes: text.len() });
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A memory id: UUIDs for new memories, but imports keep whatever id they carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryId(String);

impl MemoryId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn parse(id: &str) -> Result<Self, InvalidMemory> {
        let id = id.trim();
        if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
            return Err(InvalidMemory::InvalidId { id: id.to_owned() });
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The file a chunk was cut from, as it was when the chunk was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct FileInfo {
    pub path: String,
    /// Modification time in nanoseconds since the Unix epoch.
    #[ts(type = "number")]
    pub mtime_ns: i64,
    #[ts(type = "number")]
    pub size: u64,
    /// Hash of the chunk's embedded text, to skip re-embedding unchanged chunks.
    pub chunk_hash: String,
}

/// A validated memory ready to be stored.
#[derive(Debug, Clone)]
pub struct NewMemory {
    pub id: MemoryId,
    pub content: Content,
    pub tags: Tags,
    pub source: Source,
    pub chunk_type: ChunkType,
    pub created_at: DateTime<Utc>,
    pub file: Option<FileInfo>,
}

impl NewMemory {
    /// An agent memory with a fresh id, created now.
    pub fn agent<S: AsRef<str>>(
        content: impl Into<String>,
        tags: impl IntoIterator<Item = S>,
        source: impl Into<String>,
    ) -> Result<Self, InvalidMemory> {
        Ok(Self {
            id: MemoryId::generate(),
            content: Content::new(content, ChunkType::AgentMemory)?,
            tags: Tags::new(tags)?,
            source: Source::new(source)?,
            chunk_type: ChunkType::AgentMemory,
            created_at: Utc::now(),
            file: None,
        })
    }
}

/// A stored memory as read back (without its embedding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Memory {
    pub id: String,
    pub project: String,
    pub content: String,
    pub tags: Vec<String>,
    pub source: String,
    pub chunk_type: ChunkType,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub superseded_by: Option<String>,
    #[ts(type = "number")]
    pub hit_count: u64,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub file: Option<FileInfo>,
}

/// Formats a timestamp so that text order equals time order (fixed width, UTC, microseconds):
/// the store compares timestamps as text in SQL.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_lowercased_and_unique() {
        let tags = Tags::new([" Decision", "decision", "AUTH ", ""]).expect("valid");
        assert_eq!(tags.as_slice(), ["decision", "auth"]);
        assert_eq!(Tags::new(["  ", ""]), Err(InvalidMemory::NoTags));
        assert_eq!(Tags::new(Vec::<String>::new()), Err(InvalidMemory::NoTags));
    }

    #[test]
    fn tag_edits_set_or_change_but_never_both() {
        let tags = |t: &[&str]| Some(t.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            TagEdit::from_parts(tags(&["a"]), None, tags(&["b"])),
            Err(InvalidMemory::MixedTagEdit)
        );
        assert_eq!(TagEdit::from_parts(None, None, None), Err(InvalidMemory::NoTagEdit));
        assert_eq!(TagEdit::from_parts(tags(&[" "]), None, None), Err(InvalidMemory::NoTagEdit));
        let edit = TagEdit::from_parts(tags(&["New"]), tags(&["old"]), None).expect("valid");
        let current = ["old".to_string(), "keep".to_string()];
        assert_eq!(edit.apply(&current).expect("tags").as_slice(), ["keep", "new"]);
        let strip = TagEdit::from_parts(None, tags(&["old", "keep"]), None).expect("valid");
        assert_eq!(strip.apply(&current), Err(InvalidMemory::WouldRemoveAllTags));
    }

    #[test]
    fn content_limits_depend_on_the_chunk_type() {
        assert_eq!(Content::new(" \n\t", ChunkType::AgentMemory), Err(InvalidMemory::EmptyContent));
        let big = "x".repeat(MAX_CONTENT_BYTES + 1);
        assert!(Content::new(big.clone(), ChunkType::AgentMemory).is_err());
        assert!(Content::new(big, ChunkType::FileIndexed).is_ok());
    }

    #[test]
    fn timestamps_sort_as_text() {
        let early = DateTime::from_timestamp(1_000_000_000, 5_000).expect("valid");
        let late = DateTime::from_timestamp(1_000_000_001, 0).expect("valid");
        assert!(format_timestamp(early) < format_timestamp(late));
        assert_eq!(format_timestamp(early), "2001-09-09T01:46:40.000005Z");
    }
}
