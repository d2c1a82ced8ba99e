//! Memory operations as agents and the dashboard use them: validate, embed, persist.
//!
//! This is the one code path behind every adapter (MCP tools, HTTP routes, CLI, Tauri
//! commands); adapters parse their input, call one function here and render the result.
//!
//! Every write screens its text for secrets under its project's policy (`secrets:` in the
//! config) while it validates, before anything is embedded: the replies list what was
//! redacted, a refusal is a validation error, and nothing but screened text is embedded,
//! stored, indexed for keywords or published.

mod backfill;
mod curate;
mod inbox;
mod scrub;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::code_links::{self, CodeLink};
use crate::config::ConfigView;
use crate::embed::{EmbedError, EmbedService, Priority};
use crate::events::{EventBus, EventDetail};
use crate::memory::{
    ChunkType, Content, InvalidMemory, Memory, MemoryId, NewMemory, Redaction, Screen, Source,
    TagEdit, Tags,
};
use crate::project::{InvalidProjectName, ProjectName};
use crate::secrets::Policy;
use crate::store::{MemoryUpdate, Store, StoreError, StoreItem, StoreOutcome};
pub use backfill::{BACKFILL_JOB, BackfillReport};
pub use inbox::{Inbox, InboxItem, ReviewAction};
pub use scrub::{SCRUB_JOB, ScrubReport};

/// Most memories one dashboard page may hold.
pub const MAX_PAGE: usize = 200;

/// Most memories one `store_batch` call may carry.
pub const MAX_BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error(transparent)]
    Invalid(#[from] InvalidMemory),
    #[error(transparent)]
    ProjectName(#[from] InvalidProjectName),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("max_age_days must be between 1 and 36500, got {0}")]
    MaxAge(i64),
    #[error("limit must be between 1 and {MAX_PAGE}, got {0}")]
    PageSize(usize),
    #[error("memories is empty; give at least one memory")]
    EmptyBatch,
    #[error("memories has {count} items; at most {MAX_BATCH} are allowed per call")]
    BatchTooLarge { count: usize },
    #[error("memories[{index}]: {problem}")]
    BatchItem { index: usize, problem: InvalidMemory },
    #[error("memories[{index}]: {field} is missing")]
    BatchItemMissing { index: usize, field: &'static str },
    #[error("ids is empty; give at least one memory id")]
    NoIds,
    #[error("review item {key:?} {problem}")]
    ReviewKey { key: String, problem: &'static str },
    #[error("winner {winner:?} is not one of the two memories of review item {key:?}")]
    NotInPair { key: String, winner: String },
    #[error("{now} memories match now, not the {expected} confirmed; nothing was deleted")]
    CountChanged { expected: usize, now: usize },
}

/// One item of `store_batch`, as received: missing fields are reported with the item index.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BatchItem {
    pub content: Option<String>,
    pub tags: Option<Vec<String>>,
    pub source: Option<String>,
    pub supersedes: Option<String>,
}

/// What storing one memory did, and the secrets taken out of it first. On the wire the
/// outcome's fields with `redactions` beside them.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Stored {
    #[serde(flatten)]
    pub outcome: StoreOutcome,
    pub redactions: Vec<Redaction>,
}

/// A memory after an edit, and the secrets taken out of the edit first. On the wire the
/// memory's fields with `redactions` beside them.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Updated {
    #[serde(flatten)]
    pub memory: Memory,
    pub redactions: Vec<Redaction>,
}

/// A memory's tags after `retag_memory`, and the secrets taken out of the added ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retagged {
    pub tags: Vec<String>,
    pub redactions: Vec<Redaction>,
}

/// The result of `expand_memories`: what was found, and which ids were not.
#[derive(Debug, Clone, Serialize)]
pub struct Expanded {
    pub memories: Vec<Memory>,
    pub missing: Vec<String>,
}

/// What `prune_stale` found, and whether it deleted it.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub stale: Vec<Memory>,
    pub deleted: usize,
    pub dry_run: bool,
}

/// What the inbox keeps of a write's redactions: kinds and positions, never the secrets.
fn summary(redactions: &[Redaction]) -> String {
    redactions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The memory operations over one store and one embedding service.
#[derive(Debug, Clone)]
pub struct Memories {
    store: Store,
    embedder: EmbedService,
    /// Every change is published here, whoever asked for it (MCP, dashboard, CLI).
    events: EventBus,
    /// Embeddings of tag names for fuzzy tag filters. Keyed by the tag text, whose embedding
    /// never changes, so entries never go stale; which tags exist comes from the index.
    tag_vectors: Arc<Mutex<HashMap<String, Vec<f32>>>>,
    /// Where each write looks up its project's secrets policy; without a config every write
    /// redacts (the default policy).
    config: Option<ConfigView>,
}

impl Memories {
    pub fn new(store: Store, embedder: EmbedService, events: EventBus) -> Self {
        Self { store, embedder, events, tag_vectors: Arc::default(), config: None }
    }

    /// Writes take their project's secrets policy from `config` as it is at each write.
    pub fn with_config(self, config: ConfigView) -> Self {
        Self { config: Some(config), ..self }
    }

    /// The secrets policy of a write to `project` now.
    pub fn secrets_for(&self, project: &ProjectName) -> Policy {
        self.config.as_ref().map_or_else(Policy::default, |c| c.snapshot().secrets_for(project))
    }

    fn screen(&self, project: &ProjectName) -> Screen {
        Screen::new(self.secrets_for(project))
    }

    /// The files a project's memories may link to; none without watch paths.
    fn link_roots(&self, project: &ProjectName) -> Option<code_links::Roots> {
        let config = self.config.as_ref()?.snapshot().projects.get(project).cloned()?;
        if config.watch_paths.is_empty() {
            return None;
        }
        code_links::Roots::of(&config)
            .inspect_err(|err| tracing::warn!(%project, %err, "memories not linked to files"))
            .ok()
    }

    /// The links of agent memories with these texts to their project's files (see
    /// [`code_links`]): none without watch paths. Only texts that name something path-like are
    /// looked up on disk, on a blocking thread.
    async fn links_for(&self, project: &ProjectName, texts: Vec<String>) -> Vec<Vec<CodeLink>> {
        let none = || texts.iter().map(|_| Vec::new()).collect();
        if texts.iter().all(|t| code_links::mentions(t).is_empty()) {
            return none();
        }
        let Some(roots) = self.link_roots(project) else { return none() };
        let count = texts.len();
        let found = tokio::task::spawn_blocking(move || {
            texts.iter().map(|text| code_links::find(text, &roots)).collect::<Vec<_>>()
        })
        .await;
        found.unwrap_or_else(|_| (0..count).map(|_| Vec::new()).collect())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn embedder(&self) -> &EmbedService {
        &self.embedder
    }

    fn publish_stored(&self, project: &ProjectName, outcomes: &[StoreOutcome]) {
        for outcome in outcomes {
            if let StoreOutcome::Stored { id, .. } = outcome {
                let detail = EventDetail::MemoryStored { id: id.clone() };
                self.events.publish(project.as_str(), detail);
            }
        }
    }

    /// Embeddings of `tags`, computing (in one batch) only those not seen before.
    pub(crate) async fn tag_vectors(
        &self,
        tags: Vec<String>,
    ) -> Result<HashMap<String, Vec<f32>>, EmbedError> {
        let missing: Vec<String> = {
            let known = self.tag_vectors.lock().unwrap_or_else(|p| p.into_inner());
            tags.iter().filter(|t| !known.contains_key(*t)).cloned().collect()
        };
        let computed = self.embedder.embed(missing.clone(), Priority::Interactive).await?;
        let mut known = self.tag_vectors.lock().unwrap_or_else(|p| p.into_inner());
        known.extend(missing.into_iter().zip(computed));
        Ok(tags.into_iter().filter_map(|t| known.get(&t).map(|v| (t, v.clone()))).collect())
    }

    /// `store_memory`: stores an agent memory unless it repeats a live one (SPEC §5),
    /// registering the project if it is new; its secrets are redacted or refused first, as
    /// the project's policy says.
    pub async fn store_memory(
        &self,
        project: &str,
        content: String,
        tags: Vec<String>,
        source: Option<String>,
        supersedes: Option<String>,
    ) -> Result<Stored, MemoryError> {
        let project = ProjectName::parse(project)?;
        let mut screen = self.screen(&project);
        let memory =
            NewMemory::screened_agent(content, tags, source.unwrap_or_default(), &mut screen)?;
        let mut memory = memory;
        memory.redacted = summary(screen.redactions());
        let supersedes = supersedes.as_deref().map(MemoryId::parse).transpose()?;
        let text = memory.content.as_str().to_owned();
        let vector = self.embedder.embed_windows(vec![text], Priority::Interactive).await?;
        let vector = vector.into_iter().next().ok_or(EmbedError::Stopped)?;
        let links = self.links_for(&project, vec![memory.content.as_str().to_owned()]).await;
        memory.links = links.into_iter().next().unwrap_or_default();
        let item = StoreItem { memory, vector, supersedes };
        let mut outcomes = self.store.insert_deduplicated(&project, vec![item]).await?;
        self.publish_stored(&project, &outcomes);
        let outcome = outcomes.pop().ok_or(StoreError::Closed)?;
        Ok(Stored { outcome, redactions: screen.into_redactions() })
    }

    /// [`Memories::store_memory`] for a caller that needs only the outcome.
    pub async fn remember(
        &self,
        project: &str,
        content: String,
        tags: Vec<String>,
        source: Option<String>,
        supersedes: Option<String>,
    ) -> Result<StoreOutcome, MemoryError> {
        let stored = self.store_memory(project, content, tags, source, supersedes).await?;
        Ok(stored.outcome)
    }

    /// `store_batch`: validates (and screens) every item first, so an invalid item or a
    /// refused secret stores none of them and the error names the item; embeds them in one
    /// batch, and reports per item.
    pub async fn store_batch(
        &self,
        project: &str,
        items: Vec<BatchItem>,
    ) -> Result<Vec<Stored>, MemoryError> {
        let project = ProjectName::parse(project)?;
        if items.is_empty() {
            return Err(MemoryError::EmptyBatch);
        }
        if items.len() > MAX_BATCH {
            return Err(MemoryError::BatchTooLarge { count: items.len() });
        }
        let policy = self.secrets_for(&project);
        let mut validated = Vec::with_capacity(items.len());
        let mut redactions = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let content =
                item.content.ok_or(MemoryError::BatchItemMissing { index, field: "content" })?;
            let tags = item.tags.ok_or(MemoryError::BatchItemMissing { index, field: "tags" })?;
            let at = |problem| MemoryError::BatchItem { index, problem };
            let mut screen = Screen::new(policy);
            let source = item.source.unwrap_or_default();
            let mut memory =
                NewMemory::screened_agent(content, tags, source, &mut screen).map_err(at)?;
            memory.redacted = summary(screen.redactions());
            let supersedes =
                item.supersedes.as_deref().map(MemoryId::parse).transpose().map_err(at)?;
            validated.push((memory, supersedes));
            redactions.push(screen.into_redactions());
        }
        let texts: Vec<String> =
            validated.iter().map(|(m, _)| m.content.as_str().to_owned()).collect();
        let vectors = self.embedder.embed_windows(texts.clone(), Priority::Interactive).await?;
        let links = self.links_for(&project, texts).await;
        let items = validated
            .into_iter()
            .zip(vectors)
            .zip(links)
            .map(|(((mut memory, supersedes), vector), links)| {
                memory.links = links;
                StoreItem { memory, vector, supersedes }
            })
            .collect();
        let outcomes = self.store.insert_deduplicated(&project, items).await?;
        self.publish_stored(&project, &outcomes);
        Ok(outcomes
            .into_iter()
            .zip(redactions)
            .map(|(outcome, redactions)| Stored { outcome, redactions })
            .collect())
    }

    /// [`Memories::store_batch`] for a caller that needs only the outcomes.
    pub async fn remember_batch(
        &self,
        project: &str,
        items: Vec<BatchItem>,
    ) -> Result<Vec<StoreOutcome>, MemoryError> {
        let stored = self.store_batch(project, items).await?;
        Ok(stored.into_iter().map(|s| s.outcome).collect())
    }

    /// Full memories by id; counts as an access for the agent memories among them.
    pub async fn expand(&self, project: &str, ids: Vec<String>) -> Result<Expanded, MemoryError> {
        let project = ProjectName::parse(project)?;
        let ids = ids.iter().map(|id| MemoryId::parse(id)).collect::<Result<Vec<_>, _>>()?;
        let memories = self.store.get(&project, ids.clone()).await?;
        let missing = ids
            .iter()
            .filter(|id| !memories.iter().any(|m| m.id == id.as_str()))
            .map(|id| id.as_str().to_owned())
            .collect();
        let found = memories.iter().map(|m| m.id.clone()).collect();
        self.store.record_access(&project, found, Utc::now()).await?;
        Ok(Expanded { memories, missing })
    }

    /// Edits a memory in place, re-embedding when the content changes; the new text is
    /// screened for secrets as a store's is. `supersedes` marks an older memory as replaced by
    /// this one (what a similar-memory or conflict hint after a store suggests).
    pub async fn update_memory(
        &self,
        project: &str,
        id: &str,
        content: Option<String>,
        tags: Option<Vec<String>>,
        source: Option<String>,
        supersedes: Option<String>,
    ) -> Result<Updated, MemoryError> {
        let project = ProjectName::parse(project)?;
        let id = MemoryId::parse(id)?;
        let supersedes = supersedes.as_deref().map(MemoryId::parse).transpose()?;
        let mut screen = self.screen(&project);
        let content = content
            .map(|text| Content::screened(text, ChunkType::AgentMemory, &mut screen))
            .transpose()?;
        let tags = tags.map(|tags| Tags::screened(tags, &mut screen)).transpose()?;
        let source = source.map(|source| Source::screened(source, &mut screen)).transpose()?;
        let (content, links) = match content {
            Some(content) => {
                let text = content.as_str().to_owned();
                let vector =
                    self.embedder.embed_windows(vec![text.clone()], Priority::Interactive).await?;
                let vector = vector.into_iter().next().ok_or(EmbedError::Stopped)?;
                let links = self.links_for(&project, vec![text]).await;
                (Some((content, vector)), links.into_iter().next())
            }
            None => (None, None),
        };
        let redacted = summary(screen.redactions());
        let update = MemoryUpdate { content, tags, source, links, supersedes, redacted };
        let memory = self.store.update(&project, &id, update).await?;
        let detail =
            EventDetail::MemoryUpdated { id: memory.id.clone(), tags: memory.tags.clone() };
        self.events.publish(project.as_str(), detail);
        Ok(Updated { memory, redactions: screen.into_redactions() })
    }

    /// [`Memories::update_memory`] for a caller that needs only the memory.
    pub async fn update(
        &self,
        project: &str,
        id: &str,
        content: Option<String>,
        tags: Option<Vec<String>>,
        source: Option<String>,
    ) -> Result<Memory, MemoryError> {
        Ok(self.update_memory(project, id, content, tags, source, None).await?.memory)
    }

    /// Confirms that a memory still holds after a file it names changed: clears its review
    /// mark and links it to its files as they are now.
    pub async fn confirm(&self, project: &str, id: &str) -> Result<Memory, MemoryError> {
        let project = ProjectName::parse(project)?;
        let id = MemoryId::parse(id)?;
        let current = self.store.get(&project, vec![id.clone()]).await?;
        let Some(current) = current.into_iter().next() else {
            let id = id.as_str().to_owned();
            return Err(StoreError::NotFound { project: project.to_string(), id }.into());
        };
        let kept = self.store.links_of(&project, &id).await?;
        let links = match (current.chunk_type, self.link_roots(&project)) {
            (ChunkType::AgentMemory, Some(roots)) => {
                let text = current.content;
                tokio::task::spawn_blocking(move || code_links::relink(&text, kept, &roots))
                    .await
                    .map_err(|_| StoreError::Closed)?
            }
            _ => Vec::new(),
        };
        let memory = self.store.confirm(&project, &id, links).await?;
        let detail =
            EventDetail::MemoryUpdated { id: memory.id.clone(), tags: memory.tags.clone() };
        self.events.publish(project.as_str(), detail);
        Ok(memory)
    }

    /// `retag_memory`: the final tags, and what was redacted from the added ones.
    pub async fn retag_memory(
        &self,
        project: &str,
        id: &str,
        add: Option<Vec<String>>,
        remove: Option<Vec<String>>,
        set: Option<Vec<String>>,
    ) -> Result<Retagged, MemoryError> {
        let project = ProjectName::parse(project)?;
        let id = MemoryId::parse(id)?;
        let mut screen = self.screen(&project);
        let edit = TagEdit::screened(add, remove, set, &mut screen)?;
        let redacted = summary(screen.redactions());
        let tags = self.store.retag(&project, &id, edit, redacted).await?;
        let detail = EventDetail::MemoryUpdated { id: id.as_str().to_owned(), tags: tags.clone() };
        self.events.publish(project.as_str(), detail);
        Ok(Retagged { tags, redactions: screen.into_redactions() })
    }

    /// [`Memories::retag_memory`] for a caller that needs only the tags.
    pub async fn retag(
        &self,
        project: &str,
        id: &str,
        add: Option<Vec<String>>,
        remove: Option<Vec<String>>,
        set: Option<Vec<String>>,
    ) -> Result<Vec<String>, MemoryError> {
        Ok(self.retag_memory(project, id, add, remove, set).await?.tags)
    }

    /// A page of a project's memories for the dashboard (1–200 per page).
    pub async fn list(
        &self,
        project: &str,
        query: crate::store::ListQuery,
    ) -> Result<crate::store::Page, MemoryError> {
        let project = ProjectName::parse(project)?;
        if !(1..=MAX_PAGE).contains(&query.limit) {
            return Err(MemoryError::PageSize(query.limit));
        }
        Ok(self.store.list(&project, query).await?)
    }

    /// `list_topics`: tags of live memories with counts, most used first.
    /// A project nothing was stored in yet has no topics; that is an answer, not an error
    /// (agents look before they first store).
    pub async fn topics(&self, project: &str) -> Result<Vec<crate::store::TagCount>, MemoryError> {
        match self.store.topics(&ProjectName::parse(project)?).await {
            Err(StoreError::UnknownProject { .. }) => Ok(Vec::new()),
            other => Ok(other?),
        }
    }

    pub async fn delete(&self, project: &str, id: &str) -> Result<(), MemoryError> {
        let project = ProjectName::parse(project)?;
        let id = MemoryId::parse(id)?;
        self.store.delete(&project, &id).await?;
        let detail = EventDetail::MemoryDeleted { ids: vec![id.as_str().to_owned()] };
        self.events.publish(project.as_str(), detail);
        Ok(())
    }

    /// Agent memories not accessed for `max_age_days` (and, if asked, never-accessed ones
    /// older than that); deleted unless `dry_run`.
    pub async fn prune_stale(
        &self,
        project: &str,
        max_age_days: i64,
        include_never_accessed: bool,
        dry_run: bool,
    ) -> Result<PruneReport, MemoryError> {
        let project = ProjectName::parse(project)?;
        if !(1..=36_500).contains(&max_age_days) {
            return Err(MemoryError::MaxAge(max_age_days));
        }
        let cutoff = Utc::now() - Duration::days(max_age_days);
        let stale = self.store.find_stale(&project, cutoff, include_never_accessed).await?;
        let deleted = if dry_run {
            0
        } else {
            let ids = stale.iter().map(|m| MemoryId::parse(&m.id)).collect::<Result<_, _>>()?;
            let deleted = self.store.delete_many(&project, ids).await?;
            let ids = stale.iter().map(|m| m.id.clone()).collect();
            self.events.publish(project.as_str(), EventDetail::MemoryDeleted { ids });
            deleted
        };
        Ok(PruneReport { stale, deleted, dry_run })
    }
}
