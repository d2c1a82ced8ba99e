//! Tool parameters as agents send them. Names and shapes follow the reference system so
//! agents configured for it keep working; doc comments become the schema descriptions.

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::Value;

use crate::excerpt::value_error;

/// A tool's arguments, parsed so that an error names the parameter it is about (`limit: invalid
/// type: string "five", expected i64`, `memories[2].tags: …`); serde's own message does not.
#[derive(Debug)]
pub struct Args<T>(pub T);

/// The wrapped type's schema itself, inline: a tool's input schema must be an object, not a
/// reference to one.
impl<T: JsonSchema> JsonSchema for Args<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Args<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Kept as a value so that a rejected string can be found again and quoted short: serde
        // quotes it whole.
        let value = Value::deserialize(deserializer)?;
        serde_path_to_error::deserialize(&value)
            .map(Args)
            .map_err(|err| D::Error::custom(value_error(&err, &value)))
    }
}

/// A tag list given as one string (comma-separated) or as a list.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "expected a string or a list of strings")]
pub enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(text) => text.split(',').map(str::to_owned).collect(),
            Self::Many(items) => items,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct StoreMemory {
    /// Project name: the basename of your working directory.
    pub project: String,
    /// What to remember: a decision, a bug's root cause, a pattern, a preference.
    pub content: String,
    /// At least one tag, e.g. ["decision", "database"] or "decision,database".
    pub tags: StringOrList,
    /// Where this came from (file, ticket, conversation).
    pub source: Option<String>,
    /// Id of a memory this one replaces; the old one is hidden from search but kept.
    pub supersedes: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BatchMemory {
    /// What to remember.
    pub content: Option<String>,
    /// At least one tag.
    pub tags: Option<StringOrList>,
    /// Where this came from.
    pub source: Option<String>,
    /// Id of a memory this one replaces.
    pub supersedes: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct StoreBatch {
    /// Project name.
    pub project: String,
    /// Up to 100 memories, each with content and tags.
    pub memories: Vec<BatchMemory>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchMemories {
    /// Project name.
    pub project: String,
    /// What you are looking for, in words or with exact identifiers.
    pub query: String,
    /// Only memories with one of these tags (close tags match too: auth finds authentication).
    pub tags: Option<StringOrList>,
    /// How many results, 1-50 (default 5).
    pub limit: Option<i64>,
    /// summary (first 200 characters, default), probe (one line each) or full.
    pub mode: Option<String>,
    /// Minimum cosine similarity, -1 to 1 (default 0; ignored when tags filter). Hits below
    /// 0.40, the relevance bar, are marked weak: rarely the answer.
    pub min_score: Option<f32>,
    /// Only memories created at or after this date (YYYY-MM-DD or ISO 8601 date-time).
    pub after: Option<String>,
    /// Only memories created before this date; a date alone includes that whole day.
    pub before: Option<String>,
    /// text (default) or json.
    pub output: Option<String>,
    /// Other projects to search too, or "*" for all.
    pub projects: Option<StringOrList>,
    /// Include memories that were superseded (default false).
    pub include_superseded: Option<bool>,
    /// Only memories whose source starts with this.
    pub source: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExpandMemories {
    /// Project name.
    pub project: String,
    /// Ids from a search.
    pub memory_ids: StringOrList,
    /// text (default) or json.
    pub output: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateMemory {
    /// Project name.
    pub project: String,
    /// The memory to edit.
    pub memory_id: String,
    /// New content (re-embedded).
    pub content: Option<String>,
    /// New tags (replace all).
    pub tags: Option<StringOrList>,
    /// New source.
    pub source: Option<String>,
    /// ID of an older memory this one replaces (it is hidden from search, kept for audit).
    pub supersedes: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RetagMemory {
    /// Project name.
    pub project: String,
    /// The memory to retag.
    pub memory_id: String,
    /// Tags to add.
    pub add_tags: Option<StringOrList>,
    /// Tags to remove.
    pub remove_tags: Option<StringOrList>,
    /// Replace all tags with these (not together with add_tags/remove_tags).
    pub set_tags: Option<StringOrList>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryRef {
    /// Project name.
    pub project: String,
    /// The memory.
    pub memory_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProjectRef {
    /// Project name.
    pub project: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PruneStale {
    /// Project name.
    pub project: String,
    /// Memories not accessed for this many days are stale (default 60).
    pub max_age_days: Option<i64>,
    /// Also count memories never accessed and older than max_age_days (default true).
    pub include_never_accessed: Option<bool>,
    /// Only report, delete nothing (default true).
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct InitProject {
    /// Project name: the basename of your working directory.
    pub project_name: String,
    /// Directories whose documents to index: absolute, or relative to your working directory
    /// (known through the stdio sidecar; over HTTP give absolute paths).
    pub watch_paths: Option<StringOrList>,
    /// Glob patterns of files to index (default markdown, YAML, TOML, JSON).
    pub watch_patterns: Option<StringOrList>,
    /// Glob patterns to leave out (default node_modules, .git, target, ...).
    pub watch_exclude: Option<StringOrList>,
    /// Keep the index current with a file watcher (default true).
    pub watch: Option<bool>,
}
