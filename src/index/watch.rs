//! Watching: notify with debouncing. The watcher only watches — it turns file-system events
//! into de-duplicated path batches (or a rescan request) on a channel; the pool decides what
//! to do with them, through the same per-file routine reconcile uses.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use notify::RecursiveMode;
use notify::event::EventKind;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

/// How long a file must be quiet before its change is handled.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchSignal {
    /// These paths changed (created, modified, renamed from or to, removed).
    Changed(Vec<PathBuf>),
    /// Events were lost (queue overflow) or the watcher failed: only a reconcile is exact.
    Rescan { reason: String },
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

fn signal_of(result: DebounceEventResult) -> Option<WatchSignal> {
    match result {
        Ok(events) => {
            if events.iter().any(|e| e.event.need_rescan()) {
                return Some(WatchSignal::Rescan {
                    reason: "file-system event queue overflowed".into(),
                });
            }
            let paths: BTreeSet<PathBuf> = events
                .iter()
                .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
                .flat_map(|e| e.event.paths.iter().cloned())
                .collect();
            (!paths.is_empty()).then(|| WatchSignal::Changed(paths.into_iter().collect()))
        }
        Err(errors) => {
            let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            Some(WatchSignal::Rescan { reason: format!("watcher error: {reason}") })
        }
    }
}

impl Watcher {
    /// Watches `paths` recursively (blocking: adding watches walks the tree).
    pub fn start(
        paths: &[PathBuf],
        debounce: Duration,
        signals: mpsc::UnboundedSender<WatchSignal>,
    ) -> Result<Self, notify::Error> {
        let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
            if let Some(signal) = signal_of(result) {
                let _ = signals.send(signal);
            }
        })?;
        for path in paths {
            debouncer.watch(path, RecursiveMode::Recursive)?;
        }
        Ok(Self { _debouncer: debouncer })
    }
}
