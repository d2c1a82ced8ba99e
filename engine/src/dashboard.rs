//! What the dashboard asks of the engine, in one place for both of its transports: the owner's
//! HTTP API (browser) and the desktop app's Tauri commands (webview). Each adapter parses its
//! input into these wire types, calls exactly one function here and renders the result, so the
//! two can never drift apart. The wire types are exported to TypeScript (`ui/src/bindings`).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::{ConfigError, ProjectInit};
use crate::events::Event;
use crate::memories::MemoryError;
use crate::memory::{ChunkType, Memory};
use crate::pool::{Activity, IndexStatus, InitReply, Pool, PoolError, STALE_AFTER_DAYS};
use crate::search::{Mode, SearchError, SearchHit, SearchRequest};
use crate::store::{DayCount, ListQuery, Page, StoreError, StoreOutcome};

/// How a dashboard failure should be shown: HTTP picks a status from it, the desktop app
/// passes it to the page next to the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    Invalid,
    Conflict,
    Unavailable,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("type must be agent-memory or file-indexed, got {0:?}")]
    ChunkType(String),
    #[error("watch path {0:?} is relative; give an absolute path")]
    RelativePath(String),
    #[error(transparent)]
    Memory(#[from] MemoryError),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

fn store_kind(err: &StoreError) -> ErrorKind {
    match err {
        StoreError::NotFound { .. } | StoreError::UnknownProject { .. } => ErrorKind::NotFound,
        StoreError::Invalid(_) | StoreError::NothingToUpdate | StoreError::SupersedeSelf { .. } => {
            ErrorKind::Invalid
        }
        StoreError::DuplicateId { .. } => ErrorKind::Conflict,
        StoreError::FileChanged { .. } => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

impl DashboardError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::ChunkType(_) | Self::RelativePath(_) => ErrorKind::Invalid,
            Self::Memory(MemoryError::Store(store))
            | Self::Pool(PoolError::Store(store))
            | Self::Search(SearchError::Store(store)) => store_kind(store),
            Self::Memory(MemoryError::Embed(_))
            | Self::Search(SearchError::Embed(_) | SearchError::Worker(_))
            | Self::Pool(PoolError::ShuttingDown) => ErrorKind::Unavailable,
            Self::Pool(PoolError::UnknownProject { .. })
            | Self::Search(SearchError::UnknownProject { .. }) => ErrorKind::NotFound,
            Self::Pool(PoolError::AlreadyIndexing { .. })
            | Self::Memory(MemoryError::CountChanged { .. }) => ErrorKind::Conflict,
            Self::Pool(PoolError::Config(
                ConfigError::WatchPathMissing { .. }
                | ConfigError::WatchPathNotDir { .. }
                | ConfigError::WatchPathUnreadable { .. }
                | ConfigError::ProjectName(_),
            )) => ErrorKind::Invalid,
            Self::Pool(PoolError::Config(_)) => ErrorKind::Internal,
            Self::Memory(_) | Self::Pool(_) | Self::Search(_) => ErrorKind::Invalid,
        }
    }
}

/// A failure as the page receives it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<&DashboardError> for ErrorReply {
    fn from(err: &DashboardError) -> Self {
        Self { kind: err.kind(), message: err.to_string() }
    }
}

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
    fn into_query(self) -> Result<ListQuery, DashboardError> {
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
#[derive(Debug, Clone, Serialize, TS)]
pub struct SearchReply {
    pub hits: Vec<SearchHit>,
    /// Set when more than the primary project was searched.
    pub projects_searched: Option<Vec<String>>,
}

impl SearchParams {
    fn into_request(self, project: String) -> Result<SearchRequest, DashboardError> {
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

/// A memory written from the dashboard.
#[derive(Debug, Clone, Deserialize, TS)]
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
    fn into_init(self) -> Result<ProjectInit, DashboardError> {
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

/// The dashboard's queries over the one pool.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pool: Arc<Pool>,
}

type Reply<T> = Result<T, DashboardError>;

impl Dashboard {
    pub fn new(pool: Arc<Pool>) -> Self {
        Self { pool }
    }

    /// Every project with its counts and indexing state.
    pub async fn projects(&self) -> Reply<Vec<IndexStatus>> {
        Ok(self.pool.overview().await?)
    }

    pub async fn status(&self, project: &str) -> Reply<IndexStatus> {
        Ok(self.pool.index_status(project).await?)
    }

    pub async fn memories(&self, project: &str, params: ListParams) -> Reply<Page> {
        Ok(self.pool.memories().list(project, params.into_query()?).await?)
    }

    /// The search results in the JSON shape agents get with `output="json"`.
    pub async fn search(&self, project: &str, params: SearchParams) -> Reply<SearchReply> {
        let request = params.into_request(project.to_owned())?;
        let results = self.pool.memories().search(request).await?;
        Ok(SearchReply { hits: results.hits, projects_searched: results.projects_searched })
    }

    pub async fn create(&self, project: &str, draft: MemoryDraft) -> Reply<StoreOutcome> {
        let memories = self.pool.memories();
        Ok(memories
            .remember(project, draft.content, draft.tags, draft.source, draft.supersedes)
            .await?)
    }

    pub async fn edit(&self, project: &str, id: &str, edit: MemoryEdit) -> Reply<Memory> {
        let memories = self.pool.memories();
        Ok(memories.update(project, id, edit.content, edit.tags, edit.source).await?)
    }

    pub async fn delete(&self, project: &str, id: &str) -> Reply<()> {
        Ok(self.pool.memories().delete(project, id).await?)
    }

    /// Deletes the memories selected on the page.
    pub async fn delete_selected(&self, project: &str, ids: Vec<String>) -> Reply<Deleted> {
        Ok(Deleted { deleted: self.pool.memories().delete_ids(project, ids).await? })
    }

    /// Deletes everything the filters select, if that is still the `expected` count the
    /// person confirmed.
    pub async fn delete_matching(
        &self,
        project: &str,
        params: ListParams,
        expected: usize,
    ) -> Reply<Deleted> {
        let query = params.into_query()?;
        let deleted = self.pool.memories().delete_matching(project, query, expected).await?;
        Ok(Deleted { deleted })
    }

    /// The supersession chain through a memory, oldest first.
    pub async fn chain(&self, project: &str, id: &str) -> Reply<Vec<Memory>> {
        Ok(self.pool.memories().chain(project, id).await?)
    }

    /// Agent memories created per day.
    pub async fn timeline(&self, project: &str) -> Reply<Vec<DayCount>> {
        Ok(self.pool.memories().timeline(project).await?)
    }

    /// Starts a full re-index; progress and the outcome arrive as events.
    pub async fn reindex(&self, project: &str) -> Reply<()> {
        Ok(self.pool.index_files(project).await?)
    }

    /// The project's watch settings; `None` when it has none (it only holds memories).
    pub fn watch_config(&self, project: &str) -> Option<WatchConfig> {
        let config = self.pool.config().snapshot();
        let (_, settings) =
            config.projects.iter().find(|(name, _)| name.as_str() == project.trim())?;
        Some(WatchConfig {
            watch_paths: settings.watch_paths.iter().map(|p| p.display().to_string()).collect(),
            watch_patterns: settings.watch_patterns.clone(),
            watch_exclude: settings.watch_exclude.clone(),
            watch: settings.watch,
        })
    }

    /// Registers a project or changes its watch settings (`init_project`'s merge rules); the
    /// reply says what changed, and a reconcile brings the index in line.
    pub async fn configure(&self, project: &str, edit: WatchEdit) -> Reply<InitReply> {
        Ok(self.pool.init_project(project, edit.into_init()?, None).await?)
    }

    /// Whether the project's watcher is on, or `None` for an unknown project.
    pub fn watching(&self, project: &str) -> Option<bool> {
        let watching = self.pool.watching();
        watching.into_iter().find(|(name, _)| name == project.trim()).map(|(_, on)| on)
    }

    /// Pauses or resumes a project's watcher. This is the `watch` setting of `init_project`
    /// (so it survives a restart); resuming reconciles what changed while paused.
    pub async fn set_watching(&self, project: &str, watching: bool) -> Reply<InitReply> {
        if self.watching(project).is_none() {
            return Err(PoolError::UnknownProject { project: project.to_owned() }.into());
        }
        let init = ProjectInit { watch: Some(watching), ..ProjectInit::default() };
        Ok(self.pool.init_project(project, init, None).await?)
    }

    /// The persisted recent events, oldest first, for the activity feed.
    pub fn recent_events(&self) -> Vec<Event> {
        self.pool.events().recent()
    }

    /// All projects' indexing in one state, for the activity indicator.
    pub fn activity(&self) -> Activity {
        self.pool.activity()
    }
}
