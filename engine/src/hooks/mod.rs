//! What agent hooks inject (`annal hook <event>`): at session start a brief of the project —
//! pinned, decision and preference memories, then the most used and the newest — and on each
//! prompt the few memories that clear the confidence bar, none twice in one session, each
//! within a token budget. No LLM: search and the store's indexes only.
//!
//! Content tagged `secret` never leaves through a hook, and what does leave passes through the
//! secret filter (`secrets::redact`) first, whatever the project's policy let the store keep.

mod compose;
mod sessions;
mod settings;
pub mod tokens;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::{ConfigError, ConfigFile, ProjectConfig};
use crate::memories::Memories;
use crate::memory::ChunkType;
use crate::project::{InvalidProjectName, ProjectName};
use crate::search::{MAX_QUERY_CHARS, SearchError, SearchRequest};
use crate::store::StoreError;

pub use compose::{brief, recall};
pub use sessions::SessionLog;
pub use settings::{DEFAULT_MIN_SCORE, HookOverrides, HookSettings};

/// Memories with this tag are never injected.
pub const SECRET_TAG: &str = "secret";
/// The tags whose memories lead the brief, in its order.
pub const BRIEF_TAGS: [&str; 3] = ["pinned", "decision", "preference"];
/// Candidates read per list of the brief: more than fit any sensible budget.
const BRIEF_CANDIDATES: usize = 12;
/// Prompts shorter than this ("ok", "y") say nothing to search for.
const MIN_PROMPT_CHARS: usize = 3;
/// Results asked of search per memory that may be injected: the session may have seen some.
const CANDIDATES_PER_SLOT: u64 = 4;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    Project(#[from] InvalidProjectName),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A project's hook settings as the dashboard shows them, with the brief a session would start
/// with now.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HookView {
    /// The `hooks:` section every project starts from.
    pub defaults: HookSettings,
    /// What the project sets itself.
    pub project: HookOverrides,
    /// What its hooks run with.
    pub effective: HookSettings,
    pub preview: Injection,
}

/// What a client's hook tells us, as the hook command passes it on.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct HookRequest {
    /// The basename of the agent's working directory.
    pub project: String,
    /// The client's session id; empty when the client sent none (no dedup then).
    #[serde(default)]
    pub session_id: String,
    /// The user's prompt (prompt submit only).
    #[serde(default)]
    pub prompt: String,
}

/// What a hook injects: `text` is empty when there is nothing worth saying.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct Injection {
    pub text: String,
    /// The memories in it, in its order.
    pub memories: Vec<String>,
    /// `text`'s estimated tokens.
    #[ts(type = "number")]
    pub tokens: u64,
}

/// The hooks over the owner's memories, config and session log.
#[derive(Debug, Clone, Copy)]
pub struct Hooks<'a> {
    pub memories: &'a Memories,
    pub config: &'a ConfigFile,
    pub sessions: &'a SessionLog,
}

impl Hooks<'_> {
    fn settings(&self, project: &ProjectName) -> HookSettings {
        self.config.snapshot().hooks_for(project)
    }

    /// The session-start brief. Starting a session (or clearing or compacting its context)
    /// forgets what it was given: the brief and later prompts may bring it again.
    pub async fn session_start(&self, request: &HookRequest) -> Result<Injection, HookError> {
        let project = ProjectName::parse(request.project.trim())?;
        if !request.session_id.is_empty() {
            self.sessions.restart(&request.session_id);
        }
        let settings = self.settings(&project);
        if !settings.enabled {
            return Ok(Injection::default());
        }
        let brief = self.brief(&project, &settings).await?;
        if !request.session_id.is_empty() {
            self.sessions.record(&request.session_id, &brief.memories);
        }
        Ok(brief)
    }

    /// The brief a session of `project` would start with, whether or not its hooks are on
    /// (the dashboard's preview). Nothing is recorded.
    pub async fn preview(&self, project: &ProjectName) -> Result<Injection, HookError> {
        let settings = self.settings(project);
        self.brief(project, &settings).await
    }

    /// The project's settings and its preview.
    pub async fn view(&self, project: &ProjectName) -> Result<HookView, HookError> {
        let config = self.config.snapshot();
        let overrides = config.projects.get(project).map(|p| p.hooks.clone()).unwrap_or_default();
        let effective = config.hooks_for(project);
        let preview = self.brief(project, &effective).await?;
        Ok(HookView { defaults: config.hooks.clone(), project: overrides, effective, preview })
    }

    /// Replaces the project's own hook settings (checked first) and saves the config.
    pub async fn configure(
        &self,
        project: &ProjectName,
        overrides: HookOverrides,
    ) -> Result<HookView, HookError> {
        overrides.validate("hooks").map_err(HookError::Invalid)?;
        self.config
            .update(|config| {
                let entry =
                    config.projects.entry(project.clone()).or_insert_with(ProjectConfig::default);
                // Keys a newer version wrote stay.
                let extra = std::mem::take(&mut entry.hooks.extra);
                entry.hooks = HookOverrides { extra, ..overrides };
                Ok(())
            })
            .await?;
        self.view(project).await
    }

    async fn brief(
        &self,
        project: &ProjectName,
        settings: &HookSettings,
    ) -> Result<Injection, HookError> {
        let tags = BRIEF_TAGS.iter().map(|t| t.to_string()).collect();
        let excluded = vec![SECRET_TAG.to_owned()];
        let store = self.memories.store();
        let candidates = store.brief_candidates(project, tags, excluded, BRIEF_CANDIDATES).await?;
        Ok(match candidates {
            Some(candidates) => brief(project, &candidates, settings.brief_tokens),
            None => Injection::default(),
        })
    }

    /// The memories worth injecting with this prompt: above the bar, agent memories first,
    /// none this session already has, at most `recall_max` within `recall_tokens`. Those
    /// injected count as hits.
    pub async fn prompt_submit(&self, request: &HookRequest) -> Result<Injection, HookError> {
        let project = ProjectName::parse(request.project.trim())?;
        let settings = self.settings(&project);
        let prompt = request.prompt.trim();
        if !settings.enabled || prompt.chars().count() < MIN_PROMPT_CHARS {
            return Ok(Injection::default());
        }
        // A pasted log can be megabytes: its start says what it is about.
        let query: String = prompt.chars().take(MAX_QUERY_CHARS).collect();
        let mut search = SearchRequest::new(project.as_str(), query);
        search.limit = (settings.recall_max * CANDIDATES_PER_SLOT).min(50) as i64;
        search.min_score = settings.min_score;
        search.exclude_tags = vec![SECRET_TAG.to_owned()];
        search.count_access = false;
        if !settings.include_files {
            search.chunk_type = Some(ChunkType::AgentMemory);
        }
        let found = self.memories.search(search).await?;
        let mut hits: Vec<_> =
            found.hits.into_iter().filter(|h| h.score >= settings.min_score).collect();
        // Stable: within each kind the fused order stays.
        hits.sort_by_key(|h| h.memory.chunk_type != ChunkType::AgentMemory);
        if !request.session_id.is_empty() {
            let ids = hits.iter().map(|h| h.memory.id.clone()).collect();
            let unseen = self.sessions.unseen(&request.session_id, ids);
            hits.retain(|h| unseen.contains(&h.memory.id));
        }
        let injection = recall(&project, &hits, &settings);
        if !request.session_id.is_empty() {
            self.sessions.record(&request.session_id, &injection.memories);
        }
        let injected: Vec<_> =
            hits.into_iter().filter(|h| injection.memories.contains(&h.memory.id)).collect();
        self.memories.count_hits(&injected);
        Ok(injection)
    }
}

/// The date a memory line shows.
fn day(at: chrono::DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}
