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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use notify::event::{AccessKind, CreateKind, Flag, ModifyKind, RenameMode};
    use notify::{Event, EventKind};
    use notify_debouncer_full::DebouncedEvent;

    use super::*;

    fn event(kind: EventKind, paths: &[&str]) -> DebouncedEvent {
        let event = paths.iter().fold(Event::new(kind), |e, p| e.add_path(PathBuf::from(p)));
        DebouncedEvent::new(event, Instant::now())
    }

    #[test]
    fn events_become_unique_paths_without_access_noise() {
        let events = vec![
            event(EventKind::Create(CreateKind::File), &["/d/a.md"]),
            event(EventKind::Modify(ModifyKind::Any), &["/d/a.md"]),
            event(EventKind::Access(AccessKind::Any), &["/d/noise.md"]),
            event(EventKind::Modify(ModifyKind::Name(RenameMode::Both)), &["/d/b.md", "/d/c.md"]),
        ];
        let expected = ["/d/a.md", "/d/b.md", "/d/c.md"].map(PathBuf::from).to_vec();
        assert_eq!(signal_of(Ok(events)), Some(WatchSignal::Changed(expected)));
        let only_access = vec![event(EventKind::Access(AccessKind::Any), &["/d/a.md"])];
        assert_eq!(signal_of(Ok(only_access)), None);
    }

    #[test]
    fn overflow_and_errors_ask_for_a_rescan() {
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        let rescan = signal_of(Ok(vec![DebouncedEvent::new(overflow, Instant::now())]));
        assert!(
            matches!(rescan, Some(WatchSignal::Rescan { reason }) if reason.contains("overflow"))
        );
        let failed = signal_of(Err(vec![notify::Error::generic("inotify limit reached")]));
        assert!(
            matches!(failed, Some(WatchSignal::Rescan { reason }) if reason.contains("inotify limit"))
        );
    }
}
