//! Curation from the dashboard: bulk deletes a person confirmed, supersession chains, and
//! how a project's memories grew.

use super::{Memories, MemoryError};
use crate::events::EventDetail;
use crate::memory::{Memory, MemoryId};
use crate::project::ProjectName;
use crate::store::{DayCount, ListQuery};

/// Supersession chains are short; the bound only guards against a corrupt cycle.
const MAX_CHAIN: usize = 1000;

impl Memories {
    /// Deletes the given memories (a selection); returns how many existed. Memories they had
    /// superseded come back into search, as with a single delete.
    pub async fn delete_ids(&self, project: &str, ids: Vec<String>) -> Result<usize, MemoryError> {
        let project = ProjectName::parse(project)?;
        if ids.is_empty() {
            return Err(MemoryError::NoIds);
        }
        let ids = ids.iter().map(|id| MemoryId::parse(id)).collect::<Result<Vec<_>, _>>()?;
        self.delete_and_publish(&project, ids).await
    }

    /// Deletes every memory `query` selects (paging ignored) — but only if that is still the
    /// `expected` number the person confirmed, so nothing beyond what they saw is lost.
    pub async fn delete_matching(
        &self,
        project: &str,
        query: ListQuery,
        expected: usize,
    ) -> Result<usize, MemoryError> {
        let project = ProjectName::parse(project)?;
        let ids = self.store.list_ids(&project, query).await?;
        if ids.len() != expected {
            return Err(MemoryError::CountChanged { expected, now: ids.len() });
        }
        if ids.is_empty() {
            return Ok(0);
        }
        let ids = ids.iter().map(|id| MemoryId::parse(id)).collect::<Result<Vec<_>, _>>()?;
        self.delete_and_publish(&project, ids).await
    }

    async fn delete_and_publish(
        &self,
        project: &ProjectName,
        ids: Vec<MemoryId>,
    ) -> Result<usize, MemoryError> {
        let names = ids.iter().map(|id| id.as_str().to_owned()).collect();
        let deleted = self.store.delete_many(project, ids).await?;
        self.events.publish(project.as_str(), EventDetail::MemoryDeleted { ids: names });
        Ok(deleted)
    }

    /// The supersession chain through `id`, oldest first: what it replaced (and what that
    /// replaced), the memory itself, and what replaced it. Reading a chain is not an access.
    pub async fn chain(&self, project: &str, id: &str) -> Result<Vec<Memory>, MemoryError> {
        let project = ProjectName::parse(project)?;
        let id = MemoryId::parse(id)?;
        let Some(start) = self.store.get(&project, vec![id.clone()]).await?.pop() else {
            return Err(crate::store::StoreError::NotFound {
                project: project.to_string(),
                id: id.as_str().to_owned(),
            }
            .into());
        };
        let mut older = Vec::new();
        let mut frontier = vec![id];
        while let Some(next) = frontier.pop() {
            for replaced in self.store.superseded_by(&project, &next).await? {
                frontier.push(MemoryId::parse(&replaced.id)?);
                older.push(replaced);
            }
            if older.len() > MAX_CHAIN {
                break;
            }
        }
        older.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut chain = older;
        let mut next = start.superseded_by.clone();
        chain.push(start);
        while let Some(newer) = next.filter(|_| chain.len() <= MAX_CHAIN) {
            let Some(memory) =
                self.store.get(&project, vec![MemoryId::parse(&newer)?]).await?.pop()
            else {
                break;
            };
            next = memory.superseded_by.clone();
            chain.push(memory);
        }
        Ok(chain)
    }

    /// Agent memories created per day, for the dashboard's chart.
    pub async fn timeline(&self, project: &str) -> Result<Vec<DayCount>, MemoryError> {
        let project = ProjectName::parse(project)?;
        Ok(self.store.timeline(&project).await?)
    }
}
