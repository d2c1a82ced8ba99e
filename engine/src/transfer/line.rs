//! One line of an export: `{"id", "text", "metadata": {...}}`, the reference system's format
//! (CLIENTS.md), plus the fields it does not have so that nothing we hold is lost.
//!
//! Written as Python's `json.dumps` writes it (`", "` and `": "` separators, every non-ASCII
//! character escaped as `\uXXXX`), so our exports look like the reference's byte for byte:
//! `tags`, `source`, `chunk_type`, `created_at`, `updated_at`, `last_accessed_at`,
//! `hit_count`, `superseded_by` (absent when unset), and for memories cut from a file
//! `file_mtime` (float seconds, as the reference writes it), `file_mtime_ns` (exact),
//! `file_path`, `file_size` and `chunk_hash`. Timestamps are written as `isoformat` writes
//! them (`2026-02-21T10:15:30.123456+00:00`, no fraction when it is zero). An export of all
//! projects adds a top-level `project` to each line.
//!
//! Read: the same, and the reference's own exports as they are: tags as a list or as a
//! JSON-encoded string, any RFC 3339 offset (or none: UTC), missing optional keys, `null` for
//! absent values, keys we do not know. The reference stored memories without tags and with
//! empty text (SPEC §14.1); an untagged one gets the tag [`UNTAGGED`], an empty one is
//! nothing to remember and is left out — both counted in the import's report.
//!
//! A line's text, tags and source are screened for secrets like any other write: under its
//! project's policy for an agent memory, always redacted for a file chunk.

use std::io;

use chrono::{DateTime, NaiveDateTime, Timelike as _, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::memory::{
    ChunkType, Content, FileInfo, InvalidMemory, Memory, MemoryId, NewMemory, Screen, Source, Tags,
};
use crate::project::{InvalidProjectName, ProjectName};
use crate::secrets::Policy;

/// The tag an imported agent memory without tags gets (ours need at least one).
pub const UNTAGGED: &str = "untagged";

/// What is wrong with one import line (the import names the line).
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("not a JSON object with id, text and metadata: {0}")]
    Json(String),
    #[error("{0}")]
    Invalid(#[from] InvalidMemory),
    #[error("{0}")]
    Project(#[from] InvalidProjectName),
    #[error("metadata.chunk_type must be \"agent-memory\" or \"file-indexed\", got {0:?}")]
    ChunkType(String),
    #[error("metadata.{field} is not an ISO 8601 timestamp: {value:?}")]
    Timestamp { field: &'static str, value: String },
    #[error("metadata.file_mtime {0} is not a time in epoch seconds")]
    Mtime(f64),
}

#[derive(Serialize)]
struct LineOut<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<&'a str>,
    text: &'a str,
    metadata: MetadataOut<'a>,
}

#[derive(Serialize)]
struct MetadataOut<'a> {
    tags: &'a [String],
    source: &'a str,
    chunk_type: &'static str,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_accessed_at: Option<String>,
    hit_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    superseded_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_mtime: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_mtime_ns: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chunk_hash: Option<&'a str>,
}

/// serde_json output in the layout of Python's `json.dumps` with its defaults.
struct PythonStyle;

impl serde_json::ser::Formatter for PythonStyle {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    /// `ensure_ascii`: everything past ASCII as `\uXXXX` (lower-case hex, surrogate pairs
    /// beyond the BMP); serde_json has already escaped quotes, backslashes and controls.
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut ascii_from = 0;
        for (at, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            w.write_all(&fragment.as_bytes()[ascii_from..at])?;
            let mut units = [0; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            ascii_from = at + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[ascii_from..])
    }
}

/// A timestamp as Python's `datetime.isoformat()` writes an aware UTC one.
pub fn iso_timestamp(at: DateTime<Utc>) -> String {
    if at.nanosecond() / 1000 == 0 {
        at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// Appends `memory` as one export line (with its newline) to `out`, in ASCII; `with_project`
/// adds the top-level `project` key (exports of all projects).
pub fn write_line(out: &mut Vec<u8>, memory: &Memory, with_project: bool) {
    let file = memory.file.as_ref();
    let line = LineOut {
        id: &memory.id,
        project: with_project.then_some(memory.project.as_str()),
        text: &memory.content,
        metadata: MetadataOut {
            tags: &memory.tags,
            source: &memory.source,
            chunk_type: memory.chunk_type.as_str(),
            created_at: iso_timestamp(memory.created_at),
            updated_at: memory.updated_at.map(iso_timestamp),
            last_accessed_at: memory.last_accessed_at.map(iso_timestamp),
            hit_count: memory.hit_count,
            superseded_by: memory.superseded_by.as_deref(),
            file_mtime: file.map(|f| f.mtime_ns as f64 / 1e9),
            file_mtime_ns: file.map(|f| f.mtime_ns),
            file_path: file.map(|f| f.path.as_str()),
            file_size: file.map(|f| f.size),
            chunk_hash: file.map(|f| f.chunk_hash.as_str()),
        },
    };
    let start = out.len();
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, PythonStyle);
    // Strings, integers, finite floats and lists into a Vec: serialising cannot fail, but
    // should it, no half line is left behind.
    if line.serialize(&mut serializer).is_ok() {
        out.push(b'\n');
    } else {
        out.truncate(start);
    }
}

#[derive(Deserialize)]
struct LineIn {
    id: String,
    #[serde(default)]
    project: Option<String>,
    text: String,
    metadata: MetadataIn,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TagsIn {
    List(Vec<String>),
    /// The reference sometimes stores the list JSON-encoded: `"[\"a\", \"b\"]"`.
    Text(String),
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MetadataIn {
    tags: Option<TagsIn>,
    source: Option<String>,
    chunk_type: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    last_accessed_at: Option<String>,
    hit_count: Option<u64>,
    superseded_by: Option<String>,
    file_mtime: Option<f64>,
    file_mtime_ns: Option<i64>,
    file_path: Option<String>,
    file_size: Option<u64>,
    chunk_hash: Option<String>,
}

/// A parsed, validated import line, waiting for its embedding.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The `project` key, if the line has one.
    pub project: Option<ProjectName>,
    pub memory: NewMemory,
    pub updated_at: Option<DateTime<Utc>>,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub hit_count: u64,
    pub superseded_by: Option<MemoryId>,
    /// The line had no tags and was given [`UNTAGGED`].
    pub untagged: bool,
    /// Secrets were redacted from the line's text, tags or source.
    pub redacted: bool,
}

/// What a valid line holds.
#[derive(Debug, Clone)]
pub enum Line {
    Memory(Box<Parsed>),
    /// Empty or blank text: nothing to remember.
    Empty,
}

fn parse_time(field: &'static str, text: &str) -> Result<DateTime<Utc>, LineError> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    // Naive times (no offset) are UTC, as the reference writes them.
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
        .ok_or_else(|| LineError::Timestamp { field, value: text.to_owned() })
}

fn optional_time(
    field: &'static str,
    text: Option<String>,
) -> Result<Option<DateTime<Utc>>, LineError> {
    text.filter(|t| !t.trim().is_empty()).map(|t| parse_time(field, &t)).transpose()
}

fn tag_list(tags: Option<TagsIn>) -> Vec<String> {
    match tags {
        None => Vec::new(),
        Some(TagsIn::List(list)) => list,
        Some(TagsIn::Text(text)) => serde_json::from_str::<Vec<String>>(&text)
            .unwrap_or_else(|_| text.split(',').map(str::to_owned).collect()),
    }
}

/// The file a chunk came from: the line's file fields, or, in the reference's exports, the
/// path in its `file:<path>|<heading>` source and the hash of its text (what the indexer
/// compares, so an unchanged file is not re-embedded). `text` is the text as stored; when
/// redaction changed it, the line's own hash (of the text before) no longer applies.
fn file_info(
    meta: &mut MetadataIn,
    source: &str,
    text: &str,
    redacted: bool,
    kind: ChunkType,
) -> Result<Option<FileInfo>, LineError> {
    let from_source = || {
        let rest = source.strip_prefix("file:")?;
        Some(rest.split_once('|').map_or(rest, |(path, _)| path).to_owned())
    };
    let path = match meta.file_path.take() {
        Some(path) => path,
        None if kind == ChunkType::FileIndexed => match from_source() {
            Some(path) => path,
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let mtime_ns = match (meta.file_mtime_ns, meta.file_mtime) {
        (Some(ns), _) => ns,
        (None, Some(seconds)) if seconds.is_finite() && seconds.abs() < 9.2e9 => {
            (seconds * 1e9).round() as i64
        }
        (None, Some(seconds)) => return Err(LineError::Mtime(seconds)),
        (None, None) => 0,
    };
    let chunk_hash = meta
        .chunk_hash
        .take()
        .filter(|_| !redacted)
        .unwrap_or_else(|| format!("{:x}", Sha256::digest(text.as_bytes())));
    Ok(Some(FileInfo { path, mtime_ns, size: meta.file_size.unwrap_or(0), chunk_hash }))
}

/// Parses and validates one import line. `now` stands in for a missing `created_at`;
/// `policy` gives the secrets policy of an agent memory from the line's `project` key.
pub fn parse_line(
    line: &str,
    now: DateTime<Utc>,
    policy: impl FnOnce(Option<&ProjectName>) -> Policy,
) -> Result<Line, LineError> {
    let LineIn { id, project, text, mut metadata } =
        serde_json::from_str(line).map_err(|e| LineError::Json(e.to_string()))?;
    let chunk_type = match metadata.chunk_type.as_deref() {
        None | Some("") => ChunkType::AgentMemory,
        Some(kind) => {
            ChunkType::parse(kind).ok_or_else(|| LineError::ChunkType(kind.to_owned()))?
        }
    };
    let id = MemoryId::parse(&id)?;
    let project = project.map(|p| ProjectName::parse(p.trim())).transpose()?;
    if text.trim().is_empty() {
        return Ok(Line::Empty);
    }
    let mut tags = tag_list(metadata.tags.take());
    let untagged = tags.iter().all(|t| t.trim().is_empty());
    if untagged {
        // File chunks are tagged by the indexer, whose base tag they get.
        let tag = if chunk_type == ChunkType::FileIndexed { "indexed" } else { UNTAGGED };
        tags = vec![tag.to_owned()];
    }
    let policy = match chunk_type {
        ChunkType::AgentMemory => policy(project.as_ref()),
        ChunkType::FileIndexed => Policy::Redact,
    };
    let mut screen = Screen::new(policy);
    let content = Content::screened(text, chunk_type, &mut screen)?;
    let content_redacted = !screen.redactions().is_empty();
    let tags = Tags::screened(tags, &mut screen)?;
    let source = Source::screened(metadata.source.take().unwrap_or_default(), &mut screen)?;
    let file =
        file_info(&mut metadata, source.as_str(), content.as_str(), content_redacted, chunk_type)?;
    let memory = NewMemory {
        id,
        tags,
        source,
        chunk_type,
        created_at: optional_time("created_at", metadata.created_at)?.unwrap_or(now),
        file,
        content,
        links: Vec::new(),
        redacted: String::new(),
    };
    Ok(Line::Memory(Box::new(Parsed {
        project,
        memory,
        updated_at: optional_time("updated_at", metadata.updated_at)?,
        last_accessed_at: optional_time("last_accessed_at", metadata.last_accessed_at)?,
        hit_count: metadata.hit_count.unwrap_or(0),
        superseded_by: metadata
            .superseded_by
            .filter(|s| !s.trim().is_empty())
            .map(|s| MemoryId::parse(&s))
            .transpose()?,
        untagged: untagged && chunk_type == ChunkType::AgentMemory,
        redacted: !screen.redactions().is_empty(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_python_writes_them() {
        let at = DateTime::from_timestamp(1_771_668_930, 123_456_000).expect("valid");
        assert_eq!(iso_timestamp(at), "2026-02-21T10:15:30.123456+00:00");
        let whole = DateTime::from_timestamp(1_771_668_930, 0).expect("valid");
        assert_eq!(iso_timestamp(whole), "2026-02-21T10:15:30+00:00");
        for text in ["2026-02-21T10:15:30.123456+00:00", "2026-02-21T11:15:30.123456+01:00"] {
            assert_eq!(parse_time("created_at", text).expect(text), at);
        }
        assert_eq!(parse_time("created_at", "2026-02-21T10:15:30").expect("naive"), whole);
        assert!(parse_time("created_at", "yesterday").is_err());
    }

    #[test]
    fn tags_come_as_a_list_or_as_a_json_string() {
        let list = tag_list(Some(TagsIn::List(vec!["a".into(), "b".into()])));
        let text = tag_list(Some(TagsIn::Text("[\"a\", \"b\"]".into())));
        let commas = tag_list(Some(TagsIn::Text("a,b".into())));
        assert_eq!((list.clone(), text), (list.clone(), list.clone()));
        assert_eq!(commas, list);
    }

    #[test]
    fn lines_are_laid_out_as_json_dumps_lays_them_out() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Sample {
            n: u32,
            tags: Vec<String>,
            text: String,
        }
        let value =
            Sample {
                n: 1, tags: vec!["a".into(), "b".into()], text: "Café \"q\"\n✓ 𝄞".into()
            };
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonStyle);
        value.serialize(&mut serializer).expect("serialise");
        // `json.dumps({"n": 1, "tags": ["a", "b"], "text": "Café \"q\"\n✓ 𝄞"})` in Python.
        let python =
            r#"{"n": 1, "tags": ["a", "b"], "text": "Caf\u00e9 \"q\"\n\u2713 \ud834\udd1e"}"#;
        assert_eq!(String::from_utf8(out).expect("ascii"), python);
        let back: Sample = serde_json::from_str(python).expect("parse");
        assert_eq!(back, value);
    }
}
