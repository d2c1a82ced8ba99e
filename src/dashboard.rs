//! What the dashboard asks of the engine, in one place for both of its transports: the owner's
//! HTTP API (browser) and the desktop app's Tauri commands (webview). Each adapter parses its
//! input into these wire types, calls exactly one function here and renders the result, so the
//! two can never drift apart. The wire types are exported to TypeScript (`ui/src/bindings`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::events::Event;
use crate::memories::MemoryError;
use crate::memory::{ChunkType, Memory};
use crate::pool::{IndexStatus, Pool, PoolError};
use crate::search::{Mode, SearchError, SearchRequest};
use crate::store::{ListQuery, Page, StoreError, StoreOutcome};

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
        _ => ErrorKind::Internal,
    }
}

impl DashboardError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::ChunkType(_) => ErrorKind::Invalid,
            Self::Memory(MemoryError::Store(store))
            | Self::Pool(PoolError::Store(store))
            | Self::Search(SearchError::Store(store)) => store_kind(store),
            Self::Memory(MemoryError::Embed(_))
            | Self::Search(SearchError::Embed(_) | SearchError::Worker(_))
            | Self::Pool(PoolError::ShuttingDown) => ErrorKind::Unavailable,
            Self::Pool(PoolError::UnknownProject { .. })
            | Self::Search(SearchError::UnknownProject { .. }) => ErrorKind::NotFound,
            Self::Pool(PoolError::AlreadyIndexing { .. }) => ErrorKind::Conflict,
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
    pub async fn search(&self, project: &str, params: SearchParams) -> Reply<serde_json::Value> {
        let request = params.into_request(project.to_owned())?;
        Ok(self.pool.memories().search(request).await?.to_json())
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

    /// Starts a full re-index; progress and the outcome arrive as events.
    pub async fn reindex(&self, project: &str) -> Reply<()> {
        Ok(self.pool.index_files(project).await?)
    }

    /// The persisted recent events, oldest first, for the activity feed.
    pub fn recent_events(&self) -> Vec<Event> {
        self.pool.events().recent()
    }
}
