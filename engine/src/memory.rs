//! What a memory is, and the validation every write goes through before it reaches the store.
//!
//! Validation lives in constructors ([`Content`], [`Tags`], [`Source`]) so an invalid value
//! cannot be built, and the store never has to re-check what it is given. The secret filter
//! lives there too: every constructor of free text runs it ([`Screen`]), so no text reaches the
//! store unscreened. A write applies its project's policy (`secrets:` in the config) through
//! the `screened` constructors; the plain ones redact, which is the default policy and what
//! file chunks always get.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::code_links::{CodeLink, Review};
use crate::excerpt::excerpt;
use crate::secrets::{Policy, Refused, SecretKind};

/// Largest agent memory, in bytes of UTF-8. Agents store notes, not documents; anything larger
/// is almost always a mistake (a pasted file), and the embedding's windows cover ~1,650 tokens.
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
    #[error(
        "{field}: {refused}; not written, as the secrets policy is refuse: write it without \
         the secret (say where the secret is kept instead)"
    )]
    Secret { field: Field, refused: Refused },
}

/// The free-text field of a write a secret was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Content,
    Source,
    /// The tag at this index of the list as given.
    Tag(usize),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Content => f.write_str("content"),
            Self::Source => f.write_str("source"),
            Self::Tag(index) => write!(f, "tags[{index}]"),
        }
    }
}

/// On the wire as its name: `content`, `source`, `tags[1]`.
impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A secret replaced by `[redacted:<kind>]` in what was stored: the field, the kind and the
/// byte range in the text as given — never the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Redaction {
    /// `content`, `source` or `tags[<index>]`.
    #[ts(type = "string")]
    pub field: Field,
    /// The detector's name, as in `[redacted:<kind>]` (e.g. `github-token`).
    #[ts(type = "string")]
    pub kind: SecretKind,
    pub start: usize,
    pub end: usize,
}

impl fmt::Display for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Field::Content => write!(f, "{} at bytes {}..{}", self.kind, self.start, self.end),
            field => write!(f, "{} in {field} at bytes {}..{}", self.kind, self.start, self.end),
        }
    }
}

/// The secret filter as one write applies it: each free-text field passes through it under
/// the write's policy, and what it redacted is kept for the reply.
#[derive(Debug)]
pub struct Screen {
    policy: Policy,
    redactions: Vec<Redaction>,
}

impl Screen {
    pub fn new(policy: Policy) -> Self {
        Self { policy, redactions: Vec::new() }
    }

    /// `text` as the policy lets it be stored, or the refusal naming `field`.
    fn text(&mut self, field: Field, text: String) -> Result<String, InvalidMemory> {
        let redacted =
            self.policy.apply(&text).map_err(|refused| InvalidMemory::Secret { field, refused })?;
        if redacted.findings.is_empty() {
            return Ok(text);
        }
        self.redactions.extend(redacted.findings.iter().map(|finding| Redaction {
            field,
            kind: finding.kind,
            start: finding.start,
            end: finding.end,
        }));
        Ok(redacted.text.into_owned())
    }

    /// What has been redacted so far, in the order the fields were screened.
    pub fn redactions(&self) -> &[Redaction] {
        &self.redactions
    }

    /// What was redacted, in the order the fields were screened.
    pub fn into_redactions(self) -> Vec<Redaction> {
        self.redactions
    }
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
    /// Valid content with every secret redacted: what file chunks always get.
    pub fn new(text: impl Into<String>, kind: ChunkType) -> Result<Self, InvalidMemory> {
        Self::screened(text, kind, &mut Screen::new(Policy::Redact))
    }

    /// Valid content as `screen`'s policy lets it be stored.
    pub fn screened(
        text: impl Into<String>,
        kind: ChunkType,
        screen: &mut Screen,
    ) -> Result<Self, InvalidMemory> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(InvalidMemory::EmptyContent);
        }
        let limit = kind.content_limit();
        let too_large = |text: &str| InvalidMemory::ContentTooLarge { bytes: text.len(), limit };
        // Checked before the scan too, so an oversized paste costs no scan.
        if text.len() > limit {
            return Err(too_large(&text));
        }
        let text = screen.text(Field::Content, text)?;
        // A marker can be longer than a short secret it replaces.
        if text.len() > limit {
            return Err(too_large(&text));
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
    /// Valid tags with every secret redacted.
    pub fn new<S: AsRef<str>>(raw: impl IntoIterator<Item = S>) -> Result<Self, InvalidMemory> {
        Self::screened(raw, &mut Screen::new(Policy::Redact))
    }

    /// Valid tags as `screen`'s policy lets them be stored.
    pub fn screened<S: AsRef<str>>(
        raw: impl IntoIterator<Item = S>,
        screen: &mut Screen,
    ) -> Result<Self, InvalidMemory> {
        Self::from_normalized(normalize(raw, Some(screen))?)
    }

    fn from_normalized(tags: Vec<String>) -> Result<Self, InvalidMemory> {
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
/// may be empty), the callers that need a tag use [`Tags::new`]. Nothing here is screened: a
/// list to store goes through [`Tags::screened`] or [`TagEdit::screened`].
pub fn normalize_tags<S: AsRef<str>>(
    raw: impl IntoIterator<Item = S>,
) -> Result<Vec<String>, InvalidMemory> {
    normalize(raw, None)
}

/// [`normalize_tags`], each tag screened (before lower-casing, which would hide the case that
/// tells a key from a word) when a screen is given.
fn normalize<S: AsRef<str>>(
    raw: impl IntoIterator<Item = S>,
    mut screen: Option<&mut Screen>,
) -> Result<Vec<String>, InvalidMemory> {
    let mut tags: Vec<String> = Vec::new();
    for (index, tag) in raw.into_iter().enumerate() {
        let tag = tag.as_ref().trim();
        let tag = match screen.as_deref_mut() {
            Some(screen) => screen.text(Field::Tag(index), tag.to_owned())?.to_lowercase(),
            None => tag.to_lowercase(),
        };
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
    /// The edit, the tags it adds or sets screened by `screen` (a removal list is not stored).
    pub fn screened(
        add: Option<Vec<String>>,
        remove: Option<Vec<String>>,
        set: Option<Vec<String>>,
        screen: &mut Screen,
    ) -> Result<Self, InvalidMemory> {
        match (add, remove, set) {
            (None, None, Some(set)) => Ok(Self::Set(Tags::screened(set, screen)?)),
            (_, _, Some(_)) => Err(InvalidMemory::MixedTagEdit),
            (None, None, None) => Err(InvalidMemory::NoTagEdit),
            (add, remove, None) => {
                let add = normalize(add.unwrap_or_default(), Some(screen))?;
                let remove = normalize_tags(remove.unwrap_or_default())?;
                if add.is_empty() && remove.is_empty() {
                    return Err(InvalidMemory::NoTagEdit);
                }
                Ok(Self::Change { add, remove })
            }
        }
    }

    /// The tags after applying this edit to `current` (the stored tags, screened when they
    /// were written, as `add` was when this edit was made: neither is screened again).
    pub fn apply(&self, current: &[String]) -> Result<Tags, InvalidMemory> {
        match self {
            Self::Set(tags) => Ok(tags.clone()),
            Self::Change { add, remove } => {
                let kept = current.iter().filter(|t| !remove.contains(t));
                normalize_tags(kept.chain(add.iter())).and_then(Tags::from_normalized).map_err(
                    |err| match err {
                        InvalidMemory::NoTags => InvalidMemory::WouldRemoveAllTags,
                        other => other,
                    },
                )
            }
        }
    }
}

/// Where a memory came from (free text for agents, `file:<path>|<heading>` for chunks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source(String);

impl Source {
    /// A valid source with every secret redacted.
    pub fn new(text: impl Into<String>) -> Result<Self, InvalidMemory> {
        Self::screened(text, &mut Screen::new(Policy::Redact))
    }

    /// A valid source as `screen`'s policy lets it be stored.
    pub fn screened(text: impl Into<String>, screen: &mut Screen) -> Result<Self, InvalidMemory> {
        let text = text.into().trim().to_owned();
        let too_long = |text: &str| InvalidMemory::SourceTooLong { bytes: text.len() };
        if text.len() > MAX_SOURCE_BYTES {
            return Err(too_long(&text));
        }
        let text = screen.text(Field::Source, text)?;
        if text.len() > MAX_SOURCE_BYTES {
            return Err(too_long(&text));
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
    /// The project files an agent memory names, linked as they are now.
    pub links: Vec<CodeLink>,
    /// What the secret filter took out of an agent memory, for the review inbox (empty when
    /// nothing): kinds and positions, never the secrets.
    pub redacted: String,
}

impl NewMemory {
    /// An agent memory with a fresh id, created now, its secrets redacted.
    pub fn agent<S: AsRef<str>>(
        content: impl Into<String>,
        tags: impl IntoIterator<Item = S>,
        source: impl Into<String>,
    ) -> Result<Self, InvalidMemory> {
        Self::screened_agent(content, tags, source, &mut Screen::new(Policy::Redact))
    }

    /// An agent memory with a fresh id, created now, as `screen`'s policy lets it be stored.
    pub fn screened_agent<S: AsRef<str>>(
        content: impl Into<String>,
        tags: impl IntoIterator<Item = S>,
        source: impl Into<String>,
        screen: &mut Screen,
    ) -> Result<Self, InvalidMemory> {
        Ok(Self {
            id: MemoryId::generate(),
            content: Content::screened(content, ChunkType::AgentMemory, screen)?,
            tags: Tags::screened(tags, screen)?,
            source: Source::screened(source, screen)?,
            chunk_type: ChunkType::AgentMemory,
            created_at: Utc::now(),
            file: None,
            links: Vec::new(),
            redacted: String::new(),
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
    /// Set when a file the memory names changed, went or moved since it was written.
    pub review: Option<Review>,
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
        let edit = |add, remove, set| {
            TagEdit::screened(add, remove, set, &mut Screen::new(Policy::Redact))
        };
        assert_eq!(edit(tags(&["a"]), None, tags(&["b"])), Err(InvalidMemory::MixedTagEdit));
        assert_eq!(edit(None, None, None), Err(InvalidMemory::NoTagEdit));
        assert_eq!(edit(tags(&[" "]), None, None), Err(InvalidMemory::NoTagEdit));
        let change = edit(tags(&["New"]), tags(&["old"]), None).expect("valid");
        let current = ["old".to_string(), "keep".to_string()];
        assert_eq!(change.apply(&current).expect("tags").as_slice(), ["keep", "new"]);
        let strip = edit(None, tags(&["old", "keep"]), None).expect("valid");
        assert_eq!(strip.apply(&current), Err(InvalidMemory::WouldRemoveAllTags));
    }

    #[test]
    fn tags_are_screened_before_lower_casing_and_an_allowed_tag_survives_a_change() {
        // An AWS key id is upper case: lower-cased first, it would pass as a word.
        let key = format!("AKIA{}", "Q7RZ2XW4LM5TN6VB");
        let mut screen = Screen::new(Policy::Redact);
        let tags = Tags::screened(["ops", &key], &mut screen).expect("tags");
        assert_eq!(tags.as_slice(), ["ops", "[redacted:aws-access-key]"]);
        let redactions = screen.into_redactions();
        assert_eq!(redactions[0].to_string(), "aws-access-key in tags[1] at bytes 0..20");

        let mut refuse = Screen::new(Policy::Refuse);
        let refused = Source::screened(format!(" key {key}"), &mut refuse).expect_err("refused");
        assert!(
            refused.to_string().starts_with(
                "source: the text holds a secret: aws-access-key at bytes 4..24; not written"
            ),
            "{refused}"
        );

        let mut allow = Screen::new(Policy::Allow);
        let edit = TagEdit::screened(Some(vec![key.clone()]), None, None, &mut allow).expect("ok");
        let kept = edit.apply(&["ops".to_owned()]).expect("tags");
        assert_eq!(kept.as_slice(), ["ops".to_owned(), key.to_lowercase()]);
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
