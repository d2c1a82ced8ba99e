//! The event bus: typed events with sequence numbers, fanned out without ever blocking a
//! producer, and the recent ones kept (in memory and in the database) for the activity feed.
//!
//! Fan-out is a tokio broadcast channel: a subscriber that falls behind receives
//! `Lagged(n)` — it learns how many events it missed — and the producer never waits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::code_links::ReviewReason;
use crate::config::ProjectChange;
use crate::index::ReconcileReport;
use crate::store::Store;

/// Events kept in memory and in the database for the activity feed.
pub const RECENT_EVENTS: usize = 500;
const CHANNEL_CAPACITY: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    MemoryStored,
    MemoryUpdated,
    MemoryDeleted,
    ReviewMarked,
    IndexStarted,
    IndexProgress,
    IndexComplete,
    IndexFailed,
    ProjectUpdated,
    WatcherError,
    /// The database file was deleted or replaced under the owner; writes are refused.
    DatabaseLost,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemoryStored => "memory_stored",
            Self::MemoryUpdated => "memory_updated",
            Self::MemoryDeleted => "memory_deleted",
            Self::ReviewMarked => "review_marked",
            Self::IndexStarted => "index_started",
            Self::IndexProgress => "index_progress",
            Self::IndexComplete => "index_complete",
            Self::IndexFailed => "index_failed",
            Self::ProjectUpdated => "project_updated",
            Self::WatcherError => "watcher_error",
            Self::DatabaseLost => "database_lost",
        }
    }

    /// Progress ticks are frequent and only matter live; everything else is worth keeping.
    fn persisted(self) -> bool {
        self != Self::IndexProgress
    }
}

/// An event on the wire: `{seq, type, project, detail, created_at}`, where `type` names the
/// kind and `detail` is that kind's own shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Event {
    #[ts(type = "number")]
    pub seq: u64,
    pub project: String,
    #[serde(flatten)]
    pub detail: EventDetail,
    pub created_at: DateTime<Utc>,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        self.detail.kind()
    }
}

/// What happened, one variant per [`EventKind`], each with the detail of its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "type", content = "detail", rename_all = "snake_case")]
pub enum EventDetail {
    MemoryStored {
        id: String,
    },
    MemoryUpdated {
        id: String,
        tags: Vec<String>,
    },
    MemoryDeleted {
        ids: Vec<String>,
    },
    /// Memories marked for review because a file they name changed, went or moved.
    ReviewMarked {
        ids: Vec<String>,
        path: String,
        reason: ReviewReason,
    },
    IndexStarted {},
    IndexProgress {
        files_done: usize,
    },
    IndexComplete(IndexCompleted),
    IndexFailed {
        error: String,
    },
    ProjectUpdated {
        changes: Vec<ProjectChange>,
    },
    WatcherError {
        error: String,
    },
    DatabaseLost {
        path: String,
        error: String,
    },
}

/// How an indexing run ended: a reconcile's report, or nothing when the run only re-read the
/// files that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(untagged)]
pub enum IndexCompleted {
    Reconciled(ReconcileReport),
    ChangedFiles {},
}

impl EventDetail {
    pub fn kind(&self) -> EventKind {
        match self {
            Self::MemoryStored { .. } => EventKind::MemoryStored,
            Self::MemoryUpdated { .. } => EventKind::MemoryUpdated,
            Self::MemoryDeleted { .. } => EventKind::MemoryDeleted,
            Self::ReviewMarked { .. } => EventKind::ReviewMarked,
            Self::IndexStarted {} => EventKind::IndexStarted,
            Self::IndexProgress { .. } => EventKind::IndexProgress,
            Self::IndexComplete(_) => EventKind::IndexComplete,
            Self::IndexFailed { .. } => EventKind::IndexFailed,
            Self::ProjectUpdated { .. } => EventKind::ProjectUpdated,
            Self::WatcherError { .. } => EventKind::WatcherError,
            Self::DatabaseLost { .. } => EventKind::DatabaseLost,
        }
    }

    /// The error an event reports, for the kinds that report one.
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::IndexFailed { error }
            | Self::WatcherError { error }
            | Self::DatabaseLost { error, .. } => Some(error),
            _ => None,
        }
    }
}

struct State {
    next_seq: u64,
    recent: VecDeque<Event>,
}

/// Cheap to clone; all clones publish to the same subscribers.
#[derive(Clone)]
pub struct EventBus {
    state: Arc<Mutex<State>>,
    sender: broadcast::Sender<Event>,
    persist: mpsc::UnboundedSender<Event>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").finish_non_exhaustive()
    }
}

impl EventBus {
    /// A bus that continues the sequence and the feed stored in `store`, and keeps storing
    /// new events there from a background task (so publishing never waits for the disk).
    pub async fn open(store: Store) -> Result<Self, crate::store::StoreError> {
        let recent: VecDeque<Event> = store.recent_events(RECENT_EVENTS).await?.into();
        let next_seq = store.last_event_seq().await? + 1;
        let (persist, mut queue) = mpsc::unbounded_channel::<Event>();
        tokio::spawn(async move {
            while let Some(event) = queue.recv().await {
                let mut batch = vec![event];
                while let Ok(more) = queue.try_recv() {
                    batch.push(more);
                }
                if let Err(err) = store.append_events(batch, RECENT_EVENTS).await {
                    tracing::warn!(%err, "events not persisted");
                }
            }
        });
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Ok(Self { state: Arc::new(Mutex::new(State { next_seq, recent })), sender, persist })
    }

    /// Publishes an event to every subscriber; never blocks.
    pub fn publish(&self, project: &str, detail: EventDetail) -> Event {
        let kind = detail.kind();
        let event = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let event = Event {
                seq: state.next_seq,
                project: project.to_owned(),
                detail,
                created_at: Utc::now(),
            };
            state.next_seq += 1;
            if kind.persisted() {
                state.recent.push_back(event.clone());
                while state.recent.len() > RECENT_EVENTS {
                    state.recent.pop_front();
                }
            }
            // Sent under the lock so subscribers see events in sequence order.
            let _ = self.sender.send(event.clone());
            event
        };
        if kind.persisted() {
            let _ = self.persist.send(event.clone());
        }
        event
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// The activity feed: recent events, oldest first.
    pub fn recent(&self) -> Vec<Event> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).recent.iter().cloned().collect()
    }
}
