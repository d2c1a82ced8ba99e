//! Memory operations as agents and the dashboard use them: validate, embed, persist.
//!
//! This is the one code path behind every adapter (MCP tools, HTTP routes, CLI, Tauri
//! commands); adapters parse their input, call one function here and render the result.

use chrono::{Duration, Utc};
use serde::Serialize;

use crate::embed::{EmbedError, EmbedService, Priority};
use crate::memory::{
    ChunkType, Content, InvalidMemory, Memory, MemoryId, NewMemory, Source, TagEdit, Tags,
};
use crate::project::{InvalidProjectName, ProjectName};
use crate::store::{MemoryUpdate, Store, StoreError, StoreItem};

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

/// The memory operations over one store and one embedding service.
#[derive(Debug, Clone)]
pub struct Memories {
    store: Store,
    embedder: EmbedService,
}

impl Memories {
    pub fn new(store: Store, embedder: EmbedService) -> Self {
        Self { store, embedder }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores an agent memory, registering the project if it is new.
    pub async fn remember(
        &self,
        project: &str,
        content: String,
        tags: Vec<String>,
        source: Option<String>,
        supersedes: Option<String>,
    ) -> Result<String, MemoryError> {
        let project = ProjectName::parse(project)?;
        let memory = NewMemory::agent(content, tags, source.unwrap_or_default())?;
        let supersedes = supersedes.as_deref().map(MemoryId::parse).transpose()?;
        let vector = self
            .embedder
            .embed_one(memory.content.as_str().to_owned())
            .await?;
        let mut ids = self
            .store
            .insert(
                &project,
                vec![StoreItem {
                    memory,
                    vector,
                    supersedes,
                }],
            )
            .await?;
        ids.pop().ok_or_else(|| StoreError::Closed.into())
    }

    /// Full memories by id; counts as an access for the agent memories among them.
    pub async fn expand(&self, project: &str, ids: Vec<String>) -> Result<Expanded, MemoryError> {
        let project = ProjectName::parse(project)?;
        let ids = ids
            .iter()
            .map(|id| MemoryId::parse(id))
            .collect::<Result<Vec<_>, _>>()?;
        let memories = self.store.get(&project, ids.clone()).await?;
        let missing = ids
            .iter()
            .filter(|id| !memories.iter().any(|m| m.id == id.as_str()))
            .map(|id| id.as_str().to_owned())
            .collect();
        let found = memories.iter().map(|m| m.id.clone()).collect();
        self.store
            .record_access(&project, found, Utc::now())
            .await?;
        Ok(Expanded { memories, missing })
    }

    /// Edits a memory in place, re-embedding when the content changes.
    pub async fn update(
        &self,
        project: &str,
        id: &str,
        content: Option<String>,
        tags: Option<Vec<String>>,
        source: Option<String>,
    ) -> Result<Memory, MemoryError> {
        let project = ProjectName::parse(project)?;
        let id = MemoryId::parse(id)?;
        let tags = tags.map(Tags::new).transpose()?;
        let source = source.map(Source::new).transpose()?;
        let content = match content {
            Some(text) => {
                let content = Content::new(text, ChunkType::AgentMemory)?;
                let vector = self
                    .embedder
                    .embed(vec![content.as_str().to_owned()], Priority::Interactive)
                    .await?;
                let vector = vector.into_iter().next().ok_or(EmbedError::Stopped)?;
                Some((content, vector))
            }
            None => None,
        };
        if content.is_none() && tags.is_none() && source.is_none() {
            return Err(StoreError::NothingToUpdate.into());
        }
        Ok(self
            .store
            .update(
                &project,
                &id,
                MemoryUpdate {
                    content,
                    tags,
                    source,
                },
            )
            .await?)
    }

    /// `retag_memory`: returns the final tags.
    pub async fn retag(
        &self,
        project: &str,
        id: &str,
        add: Option<Vec<String>>,
        remove: Option<Vec<String>>,
        set: Option<Vec<String>>,
    ) -> Result<Vec<String>, MemoryError> {
        let project = ProjectName::parse(project)?;
        let id = MemoryId::parse(id)?;
        let edit = TagEdit::from_parts(add, remove, set)?;
        Ok(self.store.retag(&project, &id, edit).await?)
    }

    pub async fn delete(&self, project: &str, id: &str) -> Result<(), MemoryError> {
        let project = ProjectName::parse(project)?;
        Ok(self.store.delete(&project, &MemoryId::parse(id)?).await?)
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
        let stale = self
            .store
            .find_stale(&project, cutoff, include_never_accessed)
            .await?;
        let deleted = if dry_run {
            0
        } else {
            let ids = stale
                .iter()
                .map(|m| MemoryId::parse(&m.id))
                .collect::<Result<_, _>>()?;
            self.store.delete_many(&project, ids).await?
        };
        Ok(PruneReport {
            stale,
            deleted,
            dry_run,
        })
    }
}
