//! The dashboard's parameters and replies as they cross to the page (exported to TypeScript),
//! and their translation into the engine's own requests.

use std::path::PathBuf;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::DashboardError;
use crate::config::ProjectInit;
use crate::memory::ChunkType;
use crate::pool::STALE_AFTER_DAYS;
use crate::search::{Mode, SearchHit, SearchRequest};
use crate::store::ListQuery;

/// Filters and paging of the memories list. Empty strings mean "no filter", so a form can
/// send its fields as they are.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct ListParams {
    #[serde(rename = "type")]
    #[ts(rename = "type")]
    pub chunk_type: Option<String>,
    pub tag: Option<String>,
    pub source: Option<String>,
    pub include_superseded: bool,
    /// Only agent memories nobody has used for the stale period (the stats' "stale").
    pub stale_only: bool,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

impl ListParams {
    pub(super) fn into_query(self) -> Result<ListQuery, DashboardError> {
        let chunk_type = match self.chunk_type.as_deref() {
            None | Some("") => None,
            Some(text) => {
                Some(ChunkType::parse(text).ok_or_else(|| DashboardError::ChunkType(text.into()))?)
            }
        };
        Ok(ListQuery {
            chunk_type,
            tag: self.tag.filter(|t| !t.trim().is_empty()).map(|t| t.trim().to_lowercase()),
            source_prefix: self.source.filter(|s| !s.is_empty()),
            include_superseded: self.include_superseded,
            stale_before: self
                .stale_only
                .then(|| Utc::now() - chrono::Duration::days(STALE_AFTER_DAYS)),
            limit: self.limit.unwrap_or(50),
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// A search from the dashboard. `tags` and `projects` are comma-separated, as typed.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct SearchParams {
    pub query: String,
    pub mode: Option<String>,
    #[ts(type = "number")]
    pub limit: Option<i64>,
    pub tags: Option<String>,
    pub projects: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub include_superseded: bool,
}

/// A search as the page shows it: hits in ranked order, each a whole memory with its cosine
/// score (the MCP tool's JSON shape is its own, in `search::SearchResults::to_json`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SearchReply {
    pub hits: Vec<SearchHit>,
    /// Set when more than the primary project was searched.
    pub projects_searched: Option<Vec<String>>,
}

impl SearchParams {
    pub(super) fn into_request(self, project: String) -> Result<SearchRequest, DashboardError> {
        let split = |text: Option<String>| -> Option<Vec<String>> {
            text.filter(|t| !t.trim().is_empty()).map(|t| t.split(',').map(str::to_owned).collect())
        };
        let mut request = SearchRequest::new(project, self.query);
        request.mode = self.mode.as_deref().map(Mode::parse).transpose()?.unwrap_or(Mode::Summary);
        request.limit = self.limit.unwrap_or(20);
        request.tags = split(self.tags).unwrap_or_default();
        request.projects = split(self.projects);
        request.after = self.after;
        request.before = self.before;
        request.include_superseded = self.include_superseded;
        Ok(request)
    }
}

/// A memory written from the dashboard (or `annal store`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(optional_fields)]
pub struct MemoryDraft {
    pub content: String,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub supersedes: Option<String>,
}

/// Changes to a memory; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct MemoryEdit {
    pub content: Option<String>,
    pub tags: Option<Vec<String>>,
    pub source: Option<String>,
    /// An older memory the edited one replaces.
    pub supersedes: Option<String>,
}

/// A project's watch settings as configured.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct WatchConfig {
    pub watch_paths: Vec<String>,
    pub watch_patterns: Vec<String>,
    pub watch_exclude: Vec<String>,
    pub watch: bool,
}

/// Changes to a project's watch settings, merged by `init_project`'s rules: absent fields
/// stay as they are. Paths must be absolute (the dashboard has no working directory).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct WatchEdit {
    pub watch_paths: Option<Vec<String>>,
    pub watch_patterns: Option<Vec<String>>,
    pub watch_exclude: Option<Vec<String>>,
    pub watch: Option<bool>,
}

impl WatchEdit {
    pub(super) fn into_init(self) -> Result<ProjectInit, DashboardError> {
        let watch_paths = match self.watch_paths {
            None => None,
            Some(paths) => Some(
                paths
                    .into_iter()
                    .map(|path| match PathBuf::from(path.trim()) {
                        absolute if absolute.is_absolute() => Ok(absolute),
                        _ => Err(DashboardError::RelativePath(path)),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(ProjectInit {
            watch_paths,
            watch_patterns: self.watch_patterns,
            watch_exclude: self.watch_exclude,
            watch: self.watch,
        })
    }
}

/// How many memories a bulk delete removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct Deleted {
    pub deleted: usize,
}

/// Memories picked one by one on the page, to delete.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct Selection {
    pub ids: Vec<String>,
}

/// Everything a filter selects, to delete, with the count the person confirmed.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct Matching {
    pub filter: ListParams,
    pub expected: usize,
}
