//! The review inbox: one list of what needs a person — memories whose files changed, decisions
//! that may reverse older ones, near-duplicate pairs and redactions — and what can be done
//! about each: confirm (it is fine), supersede (pick which wins), merge duplicates, delete.
//! Editing is the ordinary edit, which also clears a file mark.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Memories, MemoryError};
use crate::memory::{MAX_TAGS, Memory, MemoryId};
use crate::project::ProjectName;
use crate::store::{RecordedItem, ReviewKind, StoreError};

/// One thing in the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct InboxItem {
    /// `memory:<id>` for a memory a changed file marked, `item:<n>` for a pair or redaction a
    /// write recorded: what an action names.
    pub key: String,
    pub kind: ReviewKind,
    pub memory: Memory,
    /// The older memory of a pair.
    pub other: Option<Memory>,
    pub score: Option<f32>,
    /// Why it is here, in a sentence.
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// A project's inbox, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Inbox {
    pub project: String,
    pub items: Vec<InboxItem>,
}

/// What a person decided about an inbox item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ts_rs::TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ReviewAction {
    /// It is fine as it is: clears a file mark, dismisses a pair or a redaction.
    Confirm { key: String },
    /// Of a pair, `winner` stays and supersedes the other.
    Supersede { key: String, winner: String },
    /// A pair becomes one memory: `winner` keeps its text and takes the other's tags; the other
    /// is deleted.
    Merge { key: String, winner: String },
    /// Deletes a memory, and every item about it.
    Delete { id: String },
}

/// An inbox key, parsed.
enum Key {
    Marked(MemoryId),
    Recorded(i64),
}

fn parse_key(key: &str) -> Result<Key, MemoryError> {
    let bad = || MemoryError::ReviewKey { key: key.to_owned(), problem: "is not an inbox key" };
    match key.split_once(':') {
        Some(("memory", id)) => Ok(Key::Marked(MemoryId::parse(id)?)),
        Some(("item", n)) => n.parse().map(Key::Recorded).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn reason_of(item: &RecordedItem) -> String {
    let score = item.score.unwrap_or_default();
    match item.kind {
        ReviewKind::Duplicate => format!("nearly repeats an older memory ({score:.2})"),
        ReviewKind::Conflict => format!("may reverse an older decision ({score:.2})"),
        ReviewKind::Redaction => format!("secrets were taken out: {}", item.detail),
        ReviewKind::CodeChange => String::new(),
    }
}

impl Memories {
    /// The project's inbox. A project nothing was stored in has an empty one.
    pub async fn inbox(&self, project: &str) -> Result<Inbox, MemoryError> {
        let name = ProjectName::parse(project)?;
        let (recorded, marked) = match self.store().review_queue(&name).await {
            Err(StoreError::UnknownProject { .. }) => (Vec::new(), Vec::new()),
            other => other?,
        };
        let mut items: Vec<InboxItem> = marked
            .into_iter()
            .filter_map(|memory| {
                let review = memory.review.clone()?;
                Some(InboxItem {
                    key: format!("memory:{}", memory.id),
                    kind: ReviewKind::CodeChange,
                    reason: review.to_string(),
                    since: review.since,
                    memory,
                    other: None,
                    score: None,
                })
            })
            .collect();
        let ids: Vec<MemoryId> = recorded
            .iter()
            .flat_map(|item| std::iter::once(&item.memory_id).chain(&item.other_id))
            .filter_map(|id| MemoryId::parse(id).ok())
            .collect();
        let memories =
            if ids.is_empty() { Vec::new() } else { self.store().get(&name, ids).await? };
        let find = |id: &str| memories.iter().find(|m| m.id == id).cloned();
        for item in recorded {
            let Some(memory) = find(&item.memory_id) else { continue };
            items.push(InboxItem {
                key: format!("item:{}", item.id),
                kind: item.kind,
                reason: reason_of(&item),
                since: item.created_at,
                other: item.other_id.as_deref().and_then(find),
                score: item.score,
                memory,
            });
        }
        items.sort_by_key(|item| item.since);
        Ok(Inbox { project: name.to_string(), items })
    }

    /// How many items all projects' inboxes hold.
    pub async fn to_review(&self) -> Result<u64, MemoryError> {
        Ok(self.store().review_total().await?)
    }

    /// Carries out a person's decision about an inbox item and returns the inbox after it.
    pub async fn resolve(&self, project: &str, action: ReviewAction) -> Result<Inbox, MemoryError> {
        match action {
            ReviewAction::Confirm { key } => match parse_key(&key)? {
                Key::Marked(id) => {
                    self.confirm(project, id.as_str()).await?;
                }
                Key::Recorded(item) => {
                    self.store().dismiss_review_item(&ProjectName::parse(project)?, item).await?;
                }
            },
            ReviewAction::Supersede { key, winner } => {
                // Superseding settles the pair's item.
                let (winner, loser) = self.pair(project, &key, &winner).await?;
                self.update_memory(project, &winner, None, None, None, Some(loser)).await?;
            }
            ReviewAction::Merge { key, winner } => {
                let (winner, loser) = self.pair(project, &key, &winner).await?;
                let name = ProjectName::parse(project)?;
                let both = [MemoryId::parse(&winner)?, MemoryId::parse(&loser)?];
                let found = self.store().get(&name, both.to_vec()).await?;
                let mut tags: Vec<String> = Vec::new();
                for id in [&winner, &loser] {
                    for tag in found.iter().filter(|m| &m.id == id).flat_map(|m| &m.tags) {
                        if !tags.contains(tag) {
                            tags.push(tag.clone());
                        }
                    }
                }
                tags.truncate(MAX_TAGS);
                self.update_memory(project, &winner, None, Some(tags), None, None).await?;
                // Deleting the loser takes the pair's item with it.
                self.delete(project, &loser).await?;
            }
            ReviewAction::Delete { id } => self.delete(project, &id).await?,
        }
        self.inbox(project).await
    }

    /// The recorded pair `key` names, as (winner, loser); `winner` must be one of its two
    /// memories.
    async fn pair(
        &self,
        project: &str,
        key: &str,
        winner: &str,
    ) -> Result<(String, String), MemoryError> {
        let not_a_pair =
            || MemoryError::ReviewKey { key: key.to_owned(), problem: "is not a pair of memories" };
        let Key::Recorded(_) = parse_key(key)? else { return Err(not_a_pair()) };
        let inbox = self.inbox(project).await?;
        let item = inbox.items.into_iter().find(|i| i.key == key).ok_or_else(|| {
            MemoryError::ReviewKey { key: key.to_owned(), problem: "is not in the inbox" }
        })?;
        let other = item.other.ok_or_else(not_a_pair)?;
        let (new, old) = (item.memory.id, other.id);
        if winner == new {
            Ok((new, old))
        } else if winner == old {
            Ok((old, new))
        } else {
            Err(MemoryError::NotInPair { key: key.to_owned(), winner: winner.to_owned() })
        }
    }
}
