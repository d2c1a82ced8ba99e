//! The pool: the one shared state of an owner process — config, store, embedder, event bus,
//! and each project's indexing state — and the engine functions that need all of them
//! (`init_project`, `index_files`, `index_status`).
//!
//! Synchronisation is expressed in types: per-project index state lives behind one `Mutex`
//! that is held only for in-memory updates, never across I/O or an `.await`; config saves go
//! through `ConfigFile`, outside that lock.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::FutureExt as _;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::code_links::{self, Scope};
use crate::config::{ConfigError, ConfigFile, ProjectChange, ProjectConfig, ProjectInit};
use crate::embed::{EmbedService, panic_text};
use crate::events::{EventBus, EventDetail, IndexCompleted};
use crate::hooks::{Hooks, SessionLog};
use crate::index::reconcile::Matcher;
use crate::index::watch::{DEBOUNCE, WatchSignal, Watcher};
use crate::index::{IndexError, ReconcileReport, index_file, reconcile};
use crate::memories::Memories;
use crate::owner_lock::OwnerLock;
use crate::project::{InvalidProjectName, ProjectName};
use crate::store::{Stats, Store, StoreError};

/// How often a long run reports progress at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// Memories not accessed for this long count as stale in `index_status`.
pub const STALE_AFTER_DAYS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ProjectName(#[from] InvalidProjectName),
    #[error(
        "project {project:?} is already being indexed (since {since}); try again when it is idle"
    )]
    AlreadyIndexing { project: String, since: DateTime<Utc> },
    #[error("unknown project {project:?}; call init_project first")]
    UnknownProject { project: String },
    #[error("the owner lock is on {}, not on the data dir {}", .locked.display(), .data_dir.display())]
    NotLocked { locked: PathBuf, data_dir: PathBuf },
    #[error("the owner is shutting down")]
    ShuttingDown,
}

/// Where a project's indexing stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IndexState {
    #[default]
    Idle,
    Indexing {
        started_at: DateTime<Utc>,
        files_done: usize,
    },
    Failed {
        at: DateTime<Utc>,
        error: String,
    },
}

/// What the indexing of all projects adds up to, for a status light (the tray icon). A
/// failure outranks work in progress: it must stay visible until it is retried.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Activity {
    Idle,
    Indexing { projects: Vec<String>, files_done: usize },
    Failed { project: String, error: String },
}

/// The last successful reconcile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LastReconcile {
    pub at: DateTime<Utc>,
    pub report: ReconcileReport,
}

#[derive(Debug, Default)]
struct ProjectIndex {
    state: IndexState,
    last: Option<LastReconcile>,
    running: bool,
    /// Another run was asked for while one ran (e.g. `init_project` changed the config).
    follow_up: bool,
}

/// `index_status`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct IndexStatus {
    pub project: String,
    pub index: IndexState,
    pub stats: Stats,
    pub last_reconcile: Option<LastReconcile>,
}

/// `init_project`'s answer: what changed, and whether indexing started.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct InitReply {
    pub project: String,
    pub changes: Vec<ProjectChange>,
    pub indexing: bool,
}

/// What a run does.
#[derive(Debug, Clone)]
enum RunKind {
    Reconcile,
    /// Paths a watcher reported.
    Paths(Vec<PathBuf>),
}

#[derive(Debug)]
pub struct Pool {
    /// Held for as long as the pool lives: what makes this process the data dir's owner.
    _lock: OwnerLock,
    config: ConfigFile,
    store: Store,
    memories: Memories,
    events: EventBus,
    indexing: Mutex<HashMap<String, ProjectIndex>>,
    runs: Mutex<JoinSet<()>>,
    watchers: Mutex<HashMap<String, Watcher>>,
    shutting_down: AtomicBool,
    /// What agent hooks injected per session (bounded; lost with the owner, harmlessly).
    hook_sessions: SessionLog,
}

impl Pool {
    /// Opens the store in the config's data dir and schedules a reconcile of every
    /// configured project. Only the owner can: it takes the data dir's [`OwnerLock`], which
    /// the pool keeps while it lives, so a second pool over one data dir does not compile
    /// without a second lock, and the OS refuses that. The owner opens it so:
    ///
    /// ```no_run
    /// # async fn owner(config: annal_engine::config::ConfigFile, embedder: annal_engine::embed::EmbedService) -> Result<(), Box<dyn std::error::Error>> {
    /// use annal_engine::owner_lock::{OwnerLock, Role};
    /// let lock = OwnerLock::acquire(&config.snapshot().data_dir(config.paths()), Role::Headless)?;
    /// let pool = annal_engine::pool::Pool::open(config, embedder, lock).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// and this does not compile:
    ///
    /// ```compile_fail
    /// # async fn second_pool(config: annal_engine::config::ConfigFile, embedder: annal_engine::embed::EmbedService) {
    /// // No lock, no pool.
    /// let pool = annal_engine::pool::Pool::open(config, embedder).await;
    /// # }
    /// ```
    pub async fn open(
        config: ConfigFile,
        embedder: EmbedService,
        lock: OwnerLock,
    ) -> Result<Arc<Self>, PoolError> {
        let snapshot = config.snapshot();
        let data_dir = snapshot.data_dir(config.paths());
        if lock.data_dir() != data_dir {
            return Err(PoolError::NotLocked { locked: lock.data_dir().to_path_buf(), data_dir });
        }
        let store = Store::open(&data_dir).await?;
        let events = EventBus::open(store.clone()).await?;
        let memories =
            Memories::new(store.clone(), embedder, events.clone()).with_config(config.view());
        let pool = Arc::new(Self {
            _lock: lock,
            config,
            store,
            memories,
            events,
            indexing: Mutex::default(),
            runs: Mutex::new(JoinSet::new()),
            watchers: Mutex::default(),
            shutting_down: AtomicBool::new(false),
            hook_sessions: SessionLog::default(),
        });
        pool.announce_database_loss();
        for name in snapshot.projects.keys() {
            pool.schedule(name.clone(), RunKind::Reconcile)?;
            pool.sync_watcher(name).await;
        }
        pool.start_scrub();
        Ok(pool)
    }

    /// Takes out, once per database and in the background, the secrets stored before the
    /// secret filter existed, then embeds in windows the long memories stored before windows
    /// existed. It runs among the index runs, so shutdown stops it like them; cut short, each
    /// runs again at the next start.
    fn start_scrub(&self) {
        let memories = self.memories.clone();
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.spawn(async move {
            match memories.scrub_secrets().await {
                Ok(report) if report.memories_scrubbed > 0 => tracing::warn!(
                    scrubbed = report.memories_scrubbed,
                    seen = report.memories_seen,
                    "secrets stored before the secret filter were taken out; the review inbox \
                     lists the memories"
                ),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(%err, "the secret scrub stopped; it runs again next start")
                }
            }
            // After the scrub, which re-embeds what it redacts with windows already.
            match memories.backfill_windows().await {
                Ok(report) if report.memories_windowed > 0 => tracing::info!(
                    windowed = report.memories_windowed,
                    read = report.memories_read,
                    "long memories stored before windows existed were embedded in windows"
                ),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(%err, "the window backfill stopped; it runs again next start")
                }
            }
        });
    }

    /// Publishes `database_lost` when a write finds the database file deleted or replaced (the
    /// store logs it and refuses that write and every later one).
    fn announce_database_loss(&self) {
        let (lost, events) = (self.database_lost(), self.events.clone());
        let path = self.store.path().display().to_string();
        tokio::spawn(async move {
            let error = lost.await.to_string();
            events.publish("", EventDetail::DatabaseLost { path, error });
        });
    }

    /// Resolves once the database file is found deleted or replaced under the store: nothing
    /// can be written from then on, and only a restart (which opens the file now at that path)
    /// helps. Holds no reference to the pool.
    pub fn database_lost(&self) -> impl Future<Output = StoreError> + Send + 'static {
        let store = self.store.clone();
        async move { store.file_lost().await }
    }

    /// The database loss, if a write has seen one.
    pub fn database_lost_now(&self) -> Option<StoreError> {
        self.store.file_lost_now()
    }

    pub fn memories(&self) -> &Memories {
        &self.memories
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    pub fn config(&self) -> &ConfigFile {
        &self.config
    }

    /// What agent hooks inject (`annal hook`).
    pub fn hooks(&self) -> Hooks<'_> {
        Hooks { memories: &self.memories, config: &self.config, sessions: &self.hook_sessions }
    }

    fn indexing(&self) -> MutexGuard<'_, HashMap<String, ProjectIndex>> {
        // Plain data updated in single assignments: a panic elsewhere leaves it consistent.
        self.indexing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers or updates a project (SPEC §8 merge rules), saves the config, and starts a
    /// reconcile in the background. Relative watch paths are taken from `base`, the caller's
    /// working directory; without one they are refused.
    pub async fn init_project(
        self: &Arc<Self>,
        name: &str,
        init: ProjectInit,
        base: Option<&Path>,
    ) -> Result<InitReply, PoolError> {
        let project = ProjectName::parse(name.trim())?;
        let base = base.map(Path::to_path_buf);
        let resolved =
            tokio::task::spawn_blocking(move || init.resolve(base.as_deref())).await.map_err(
                |e| ConfigError::Invalid { path: "watch paths".into(), message: e.to_string() },
            )??;
        let outcome = self.config.init_project(&project, resolved).await?;
        self.store.register_project(&project).await?;
        if !outcome.changes.is_empty() {
            let detail = EventDetail::ProjectUpdated { changes: outcome.changes.clone() };
            self.events.publish(project.as_str(), detail);
        }
        let indexing = self.schedule(project.clone(), RunKind::Reconcile)?;
        if !outcome.changes.is_empty() {
            self.sync_watcher(&project).await;
        }
        Ok(InitReply { project: project.to_string(), changes: outcome.changes, indexing })
    }

    /// Re-indexes a project from scratch in the background; refused while a run is going.
    pub async fn index_files(self: &Arc<Self>, name: &str) -> Result<(), PoolError> {
        let project = ProjectName::parse(name.trim())?;
        if !self.config.snapshot().projects.contains_key(&project) {
            return Err(PoolError::UnknownProject { project: project.to_string() });
        }
        if let Some(since) = self.running_since(&project) {
            return Err(PoolError::AlreadyIndexing { project: project.to_string(), since });
        }
        let known = self.store.indexed_files(&project).await?;
        self.store.remove_files(&project, known.into_keys().collect()).await?;
        self.schedule(project, RunKind::Reconcile)?;
        Ok(())
    }

    pub async fn index_status(&self, name: &str) -> Result<IndexStatus, PoolError> {
        let project = ProjectName::parse(name.trim())?;
        let cutoff = Utc::now() - chrono::Duration::days(STALE_AFTER_DAYS);
        // A project nothing was stored in yet reads as empty, not as an error.
        let stats = match self.store.stats(&project, cutoff).await {
            Err(StoreError::UnknownProject { .. }) => Stats::default(),
            other => other?,
        };
        let (index, last_reconcile) = match self.indexing().get(project.as_str()) {
            Some(p) => (p.state.clone(), p.last.clone()),
            None => (IndexState::Idle, None),
        };
        Ok(IndexStatus { project: project.to_string(), index, stats, last_reconcile })
    }

    /// The indexing state of all projects in one value; cheap (no database access).
    pub fn activity(&self) -> Activity {
        let indexing = self.indexing();
        let mut projects: Vec<(&String, &ProjectIndex)> = indexing.iter().collect();
        projects.sort_by_key(|(name, _)| name.as_str());
        if let Some((name, error)) = projects.iter().find_map(|(name, p)| match &p.state {
            IndexState::Failed { error, .. } => Some((name, error)),
            _ => None,
        }) {
            return Activity::Failed { project: (*name).clone(), error: error.clone() };
        }
        let busy: Vec<(String, usize)> = projects
            .iter()
            .filter_map(|(name, p)| match p.state {
                IndexState::Indexing { files_done, .. } => Some(((*name).clone(), files_done)),
                _ => None,
            })
            .collect();
        if busy.is_empty() {
            return Activity::Idle;
        }
        let files_done = busy.iter().map(|(_, done)| done).sum();
        Activity::Indexing {
            projects: busy.into_iter().map(|(name, _)| name).collect(),
            files_done,
        }
    }

    /// Whether each configured project's watcher is on (its `watch` setting), by name.
    pub fn watching(&self) -> Vec<(String, bool)> {
        let config = self.config.snapshot();
        config.projects.iter().map(|(name, p)| (name.to_string(), p.watch)).collect()
    }

    fn running_since(&self, project: &ProjectName) -> Option<DateTime<Utc>> {
        let indexing = self.indexing();
        let entry = indexing.get(project.as_str()).filter(|p| p.running)?;
        match entry.state {
            IndexState::Indexing { started_at, .. } => Some(started_at),
            _ => Some(Utc::now()),
        }
    }

    /// Every project with its counts and indexing state, for the dashboard overview.
    pub async fn overview(&self) -> Result<Vec<IndexStatus>, PoolError> {
        let mut projects = Vec::new();
        for name in self.store.projects().await? {
            projects.push(self.index_status(&name).await?);
        }
        Ok(projects)
    }

    /// Starts a run, or asks the running one for a follow-up; returns whether a run is going.
    fn schedule(self: &Arc<Self>, project: ProjectName, kind: RunKind) -> Result<bool, PoolError> {
        // Checked under the lock `shutdown` sets it under, so no run can be spawned into a set
        // that shutdown has already taken.
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(PoolError::ShuttingDown);
        }
        {
            let mut indexing = self.indexing();
            let entry = indexing.entry(project.to_string()).or_default();
            if entry.running {
                entry.follow_up = true;
                return Ok(true);
            }
            entry.running = true;
            entry.state = IndexState::Indexing { started_at: Utc::now(), files_done: 0 };
        }
        let pool = Arc::clone(self);
        runs.spawn(async move {
            pool.run(project, kind).await;
        });
        Ok(true)
    }

    /// Runs for a project until no follow-up is asked for (follow-ups are full reconciles).
    /// Every run ends in exactly one of `index_complete` or `index_failed`, and the matching
    /// state.
    async fn run(self: Arc<Self>, project: ProjectName, mut kind: RunKind) {
        loop {
            let started_at = Utc::now();
            self.set_state(&project, IndexState::Indexing { started_at, files_done: 0 });
            self.events.publish(project.as_str(), EventDetail::IndexStarted {});
            let outcome = self.run_once(&project, started_at, kind).await;
            let mut indexing = self.indexing();
            let entry = indexing.entry(project.to_string()).or_default();
            match outcome {
                Ok(Some(report)) => {
                    let detail =
                        EventDetail::IndexComplete(IndexCompleted::Reconciled(report.clone()));
                    entry.state = IndexState::Idle;
                    entry.last = Some(LastReconcile { at: Utc::now(), report });
                    self.events.publish(project.as_str(), detail);
                }
                Ok(None) => {
                    entry.state = IndexState::Idle;
                    let detail = EventDetail::IndexComplete(IndexCompleted::ChangedFiles {});
                    self.events.publish(project.as_str(), detail);
                }
                Err(error) => {
                    tracing::warn!(%project, %error, "indexing failed");
                    entry.state = IndexState::Failed { at: Utc::now(), error: error.clone() };
                    let detail = EventDetail::IndexFailed { error };
                    self.events.publish(project.as_str(), detail);
                }
            }
            if entry.follow_up && !self.shutting_down.load(Ordering::SeqCst) {
                entry.follow_up = false;
                kind = RunKind::Reconcile;
                continue;
            }
            entry.running = false;
            return;
        }
    }

    /// One run with the project's current config: a full reconcile, or the changed paths a
    /// watcher reported (a full reconcile when those include a directory). A panic is caught
    /// and becomes a failed run instead of a state stuck on "indexing". It is caught in this
    /// task rather than by running the work in a task of its own, so that aborting the run at
    /// shutdown stops all of it.
    async fn run_once(
        &self,
        project: &ProjectName,
        started_at: DateTime<Utc>,
        kind: RunKind,
    ) -> Result<Option<ReconcileReport>, String> {
        let Some(config) = self.config.snapshot().projects.get(project).cloned() else {
            return Err(format!("project {project} is not in the config"));
        };
        let work = async {
            let last_report = Mutex::new(Instant::now());
            let progress = |files_done: usize| {
                self.set_state(project, IndexState::Indexing { started_at, files_done });
                let mut last = last_report.lock().unwrap_or_else(|p| p.into_inner());
                if last.elapsed() >= PROGRESS_EVERY {
                    *last = Instant::now();
                    let detail = EventDetail::IndexProgress { files_done };
                    self.events.publish(project.as_str(), detail);
                }
            };
            let embedder = self.memories.embedder();
            if let RunKind::Paths(paths) = kind {
                let needs_reconcile = self.index_paths(project, &config, paths.clone()).await?;
                if !needs_reconcile {
                    code_links::review(&self.store, &self.events, project, Scope::Paths(paths))
                        .await?;
                    return Ok(None);
                }
            }
            let report = reconcile(&self.store, embedder, project, &config, &progress).await?;
            // A reconcile may follow events the watcher missed: every linked file is looked at.
            code_links::review(&self.store, &self.events, project, Scope::All).await?;
            Ok(Some(report))
        };
        match AssertUnwindSafe(work).catch_unwind().await {
            Ok(result) => result.map_err(|error: IndexError| error.to_string()),
            Err(panic) => Err(format!("indexing stopped unexpectedly: {}", panic_text(&*panic))),
        }
    }

    /// Handles paths a watcher reported with the per-file routine; returns whether a full
    /// reconcile is needed instead (a directory appeared or went).
    async fn index_paths(
        &self,
        project: &ProjectName,
        config: &ProjectConfig,
        paths: Vec<PathBuf>,
    ) -> Result<bool, IndexError> {
        let matcher = Matcher::new(config)?;
        let known = self.store.indexed_files(project).await?;
        for path in paths {
            let text = path.display().to_string();
            let probe = path.clone();
            let kind =
                tokio::task::spawn_blocking(move || std::fs::metadata(probe).map(|m| m.is_dir()))
                    .await
                    .map_err(|e| IndexError::Worker(e.to_string()))?;
            let indexed = known.contains_key(&text);
            match kind {
                Ok(true) => return Ok(true),
                Ok(false) if indexed || matcher.wants(&config.watch_paths, &path) => {
                    index_file(&self.store, self.memories.embedder(), project, config, &path)
                        .await?;
                }
                Err(_) if indexed => {
                    index_file(&self.store, self.memories.embedder(), project, config, &path)
                        .await?;
                }
                Err(_) if known.keys().any(|k| Path::new(k).starts_with(&path)) => return Ok(true),
                _ => {}
            }
        }
        Ok(false)
    }

    /// Starts (or restarts, or stops) the project's watcher to match its config.
    async fn sync_watcher(self: &Arc<Self>, project: &ProjectName) {
        let config = self.config.snapshot().projects.get(project).cloned();
        let Some(config) = config.filter(|c| c.watch && !c.watch_paths.is_empty()) else {
            self.watchers().remove(project.as_str());
            return;
        };
        let (sender, mut signals) = mpsc::unbounded_channel();
        let paths = config.watch_paths.clone();
        let started =
            tokio::task::spawn_blocking(move || Watcher::start(&paths, DEBOUNCE, sender)).await;
        let watcher = match started {
            Ok(Ok(watcher)) => watcher,
            Ok(Err(err)) => {
                let detail = EventDetail::WatcherError { error: err.to_string() };
                self.events.publish(project.as_str(), detail);
                return;
            }
            Err(join) => {
                tracing::error!(%project, %join, "watcher start failed");
                return;
            }
        };
        self.watchers().insert(project.to_string(), watcher);
        // The task holds only a weak reference: a pool that is dropped is not kept alive by
        // its own watchers, and the task ends when the watcher (the sender) goes.
        let pool = Arc::downgrade(self);
        let project = project.clone();
        tokio::spawn(async move {
            while let Some(signal) = signals.recv().await {
                let Some(pool) = pool.upgrade() else { return };
                let kind = match signal {
                    WatchSignal::Changed(paths) => RunKind::Paths(paths),
                    WatchSignal::Rescan { reason } => {
                        let detail = EventDetail::WatcherError { error: reason };
                        pool.events.publish(project.as_str(), detail);
                        RunKind::Reconcile
                    }
                };
                if pool.schedule(project.clone(), kind).is_err() {
                    return;
                }
            }
        });
    }

    fn watchers(&self) -> MutexGuard<'_, HashMap<String, Watcher>> {
        self.watchers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, project: &ProjectName, state: IndexState) {
        self.indexing().entry(project.to_string()).or_default().state = state;
    }

    /// Stops scheduling new runs and waits up to `timeout` for the running ones. Runs still
    /// going then are aborted and awaited, so no indexing code runs once this returns (the
    /// owner releases its lock right after); they end in `index_failed`. Then the store is
    /// closed, which also waits for any write an aborted run had already handed to it.
    pub async fn shutdown(&self, timeout: Duration) {
        let mut runs = {
            let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
            self.shutting_down.store(true, Ordering::SeqCst);
            std::mem::take(&mut *runs)
        };
        self.watchers().clear();
        let drained =
            tokio::time::timeout(timeout, async { while runs.join_next().await.is_some() {} })
                .await;
        if drained.is_err() {
            tracing::warn!("indexing runs still going at shutdown; aborting them");
            runs.abort_all();
            while runs.join_next().await.is_some() {}
            self.fail_aborted_runs();
        }
        if let Err(err) = self.store.close().await {
            tracing::warn!(%err, "the database did not close cleanly");
        }
    }

    fn fail_aborted_runs(&self) {
        let error = "stopped: the owner shut down during the run".to_string();
        for (project, entry) in self.indexing().iter_mut().filter(|(_, p)| p.running) {
            entry.running = false;
            entry.follow_up = false;
            entry.state = IndexState::Failed { at: Utc::now(), error: error.clone() };
            self.events.publish(project, EventDetail::IndexFailed { error: error.clone() });
        }
    }
}
