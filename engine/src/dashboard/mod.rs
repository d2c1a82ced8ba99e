//! What the dashboard asks of the engine, in one place for both of its transports: the owner's
//! HTTP API (browser) and the desktop app's Tauri commands (webview). Both are generated from
//! the one declaration of each query (`queries`), which calls exactly one function here, so
//! the two can never drift apart. The wire types (`wire`) are exported to TypeScript
//! (`ui/src/bindings.ts`).

mod agents;
mod queries;
mod wire;

pub use agents::{ConnectConfirm, ConnectParams};
pub use queries::{Carrier, Input, Query, queries};
pub use wire::{
    Deleted, ListParams, Matching, MemoryDraft, MemoryEdit, SearchParams, SearchReply, Selection,
    WatchConfig, WatchEdit,
};

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
/// For `describe_queries!`, which names TypeScript types wherever it expands.
pub use ts_rs::TS;

use crate::config::{ConfigError, ProjectInit};
use crate::events::Event;
use crate::hooks::{HookError, HookOverrides, HookView};
use crate::install::{ClientStatus, InstallError, Plan};
use crate::memories::{Inbox, MemoryError, ReviewAction, Stored, Updated};
use crate::memory::Memory;
use crate::pool::{Activity, IndexStatus, InitReply, Pool, PoolError};
use crate::project::ProjectName;
use crate::search::SearchError;
use crate::store::{DayCount, Page, StoreError, TagCount};

/// How a dashboard failure should be shown: HTTP picks a status from it, the desktop app
/// passes it to the page next to the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
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
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error("the task serving this request failed: {0}")]
    Task(String),
}

fn store_kind(err: &StoreError) -> ErrorKind {
    match err {
        StoreError::NotFound { .. } | StoreError::UnknownProject { .. } => ErrorKind::NotFound,
        StoreError::Invalid(_) | StoreError::NothingToUpdate | StoreError::SupersedeSelf { .. } => {
            ErrorKind::Invalid
        }
        StoreError::DuplicateId { .. } | StoreError::IdTaken { .. } => ErrorKind::Conflict,
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
            Self::Install(InstallError::PlanChanged) => ErrorKind::Conflict,
            Self::Install(
                InstallError::UnknownClient { .. }
                | InstallError::NoProjectScope { .. }
                | InstallError::EmptyCommand,
            ) => ErrorKind::Invalid,
            Self::Install(InstallError::NoHome | InstallError::Environment { .. })
            | Self::Task(_) => ErrorKind::Internal,
            Self::Hook(HookError::Project(_) | HookError::Invalid(_)) => ErrorKind::Invalid,
            Self::Hook(HookError::Store(store)) => store_kind(store),
            Self::Hook(HookError::Search(_) | HookError::Config(_)) => ErrorKind::Internal,
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

/// The dashboard's queries over the one pool.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pool: Arc<Pool>,
    agents: agents::Agents,
}

type Reply<T> = Result<T, DashboardError>;

impl Dashboard {
    /// `sidecar` is the `annal` binary agents start: what Connect writes into their configs.
    pub fn new(pool: Arc<Pool>, sidecar: PathBuf) -> Self {
        Self { pool, agents: agents::Agents::new(sidecar) }
    }

    /// Every project with its counts and indexing state.
    pub async fn projects(&self) -> Reply<Vec<IndexStatus>> {
        Ok(self.pool.overview().await?)
    }

    pub async fn project_status(&self, project: &str) -> Reply<IndexStatus> {
        Ok(self.pool.index_status(project).await?)
    }

    pub async fn memories(&self, project: &str, params: ListParams) -> Reply<Page> {
        Ok(self.pool.memories().list(project, params.into_query()?).await?)
    }

    /// Ranked hits, each a whole memory with its score.
    pub async fn search(&self, project: &str, params: SearchParams) -> Reply<SearchReply> {
        let request = params.into_request(project.to_owned())?;
        let results = self.pool.memories().search(request).await?;
        Ok(SearchReply { hits: results.hits, projects_searched: results.projects_searched })
    }

    /// Stores a memory as `store_memory` does (secrets redacted or refused per the project's
    /// policy; the reply lists what was redacted).
    pub async fn create_memory(&self, project: &str, draft: MemoryDraft) -> Reply<Stored> {
        let memories = self.pool.memories();
        Ok(memories
            .store_memory(project, draft.content, draft.tags, draft.source, draft.supersedes)
            .await?)
    }

    pub async fn edit_memory(&self, project: &str, id: &str, edit: MemoryEdit) -> Reply<Updated> {
        let memories = self.pool.memories();
        Ok(memories
            .update_memory(project, id, edit.content, edit.tags, edit.source, edit.supersedes)
            .await?)
    }

    /// The memory still holds after a file it names changed: clears its review mark.
    pub async fn confirm_memory(&self, project: &str, id: &str) -> Reply<Memory> {
        Ok(self.pool.memories().confirm(project, id).await?)
    }

    /// What needs a person in the project: changed files, conflicts, duplicates, redactions.
    pub async fn review_inbox(&self, project: &str) -> Reply<Inbox> {
        Ok(self.pool.memories().inbox(project).await?)
    }

    /// Confirms, supersedes, merges or deletes what an inbox item is about.
    pub async fn resolve_review(&self, project: &str, action: ReviewAction) -> Reply<Inbox> {
        Ok(self.pool.memories().resolve(project, action).await?)
    }

    pub async fn delete_memory(&self, project: &str, id: &str) -> Reply<()> {
        Ok(self.pool.memories().delete(project, id).await?)
    }

    /// The supersession chain through a memory, oldest first.
    pub async fn chain(&self, project: &str, id: &str) -> Reply<Vec<Memory>> {
        Ok(self.pool.memories().chain(project, id).await?)
    }

    /// Deletes the memories selected on the page.
    pub async fn delete_selected(&self, project: &str, selection: Selection) -> Reply<Deleted> {
        let deleted = self.pool.memories().delete_ids(project, selection.ids).await?;
        Ok(Deleted { deleted })
    }

    /// Deletes everything the filter selects, if that is still the count the person
    /// confirmed.
    pub async fn delete_matching(&self, project: &str, matching: Matching) -> Reply<Deleted> {
        let query = matching.filter.into_query()?;
        let memories = self.pool.memories();
        let deleted = memories.delete_matching(project, query, matching.expected).await?;
        Ok(Deleted { deleted })
    }

    /// Tags of live memories with their counts, most used first (none for a project nothing
    /// was stored in yet).
    pub async fn topics(&self, project: &str) -> Reply<Vec<TagCount>> {
        Ok(self.pool.memories().topics(project).await?)
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
    pub async fn watch_config(&self, project: &str) -> Reply<Option<WatchConfig>> {
        let config = self.pool.config().snapshot();
        let found = config.projects.iter().find(|(name, _)| name.as_str() == project.trim());
        Ok(found.map(|(_, settings)| WatchConfig {
            watch_paths: settings.watch_paths.iter().map(|p| p.display().to_string()).collect(),
            watch_patterns: settings.watch_patterns.clone(),
            watch_exclude: settings.watch_exclude.clone(),
            watch: settings.watch,
        }))
    }

    /// Registers a project or changes its watch settings (`init_project`'s merge rules); the
    /// reply says what changed, and a reconcile brings the index in line.
    pub async fn configure_project(&self, project: &str, edit: WatchEdit) -> Reply<InitReply> {
        Ok(self.pool.init_project(project, edit.into_init()?, None).await?)
    }

    /// The project's hook settings (its own, the defaults, the result) and the brief a session
    /// would start with now.
    pub async fn hook_settings(&self, project: &str) -> Reply<HookView> {
        let project = ProjectName::parse(project.trim()).map_err(HookError::from)?;
        Ok(self.pool.hooks().view(&project).await?)
    }

    /// Replaces the project's own hook settings; what it leaves out follows the defaults.
    pub async fn configure_hooks(&self, project: &str, edit: HookOverrides) -> Reply<HookView> {
        let project = ProjectName::parse(project.trim()).map_err(HookError::from)?;
        Ok(self.pool.hooks().configure(&project, edit).await?)
    }

    /// The persisted recent events, oldest first, for the activity feed.
    pub async fn recent_events(&self) -> Reply<Vec<Event>> {
        Ok(self.pool.events().recent())
    }

    /// All projects' indexing in one state, for the activity indicator.
    pub async fn activity(&self) -> Reply<Activity> {
        Ok(self.pool.activity())
    }

    /// Every agent client: detected, configured, what its entry runs, a snippet to copy.
    pub async fn clients(&self) -> Reply<Vec<ClientStatus>> {
        self.agents.clients().await
    }

    /// The changes connecting or disconnecting a client would make, each file's diff, and
    /// the fingerprint that confirms exactly these.
    pub async fn connect_plan(&self, params: ConnectParams) -> Reply<Plan> {
        self.agents.plan(params).await
    }

    /// Makes the changes shown by [`Self::connect_plan`], if the files still give them
    /// (otherwise a conflict: show the new plan).
    pub async fn connect_apply(&self, confirm: ConnectConfirm) -> Reply<Plan> {
        self.agents.apply(confirm).await
    }

    /// Whether the project's watcher is on, or `None` for an unknown project (the tray's
    /// pause switch; not a page query).
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
}
