//! Which memories each agent session has already been given, so a prompt never brings back
//! what the brief or an earlier prompt injected. Kept in the owner's memory only and bounded:
//! the least recently active sessions are forgotten first, and a session past its cap forgets
//! its oldest injections (both only mean a memory may be injected a second time).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// Sessions remembered at once.
const MAX_SESSIONS: usize = 1024;
/// Injected memories remembered per session.
const MAX_PER_SESSION: usize = 2048;
/// Session ids longer than this are hashed into the table by their prefix and length.
const MAX_ID_BYTES: usize = 256;

#[derive(Debug, Default)]
pub struct SessionLog {
    inner: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    /// Logical clock: bumped on every touch, so the smallest value is the least recent.
    clock: u64,
    sessions: HashMap<String, Session>,
}

#[derive(Debug, Default)]
struct Session {
    touched: u64,
    seen: HashSet<String>,
    order: VecDeque<String>,
}

fn key(session_id: &str) -> String {
    if session_id.len() <= MAX_ID_BYTES {
        return session_id.to_owned();
    }
    let cut = session_id.floor_char_boundary(MAX_ID_BYTES);
    format!("{}…{}", &session_id[..cut], session_id.len())
}

impl SessionLog {
    fn with<R>(&self, f: impl FnOnce(&mut Log) -> R) -> R {
        // Poisoned only by a panic while holding it; the sets inside are whole either way.
        let mut log = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut log)
    }

    /// Starts `session_id` afresh (a new session, or one whose context was cleared or
    /// compacted): nothing counts as injected in it any more.
    pub fn restart(&self, session_id: &str) {
        self.with(|log| {
            log.sessions.remove(&key(session_id));
        });
    }

    /// Those of `ids` not yet injected in `session_id`, in their order.
    pub fn unseen(&self, session_id: &str, ids: Vec<String>) -> Vec<String> {
        self.with(|log| match log.sessions.get(&key(session_id)) {
            Some(session) => ids.into_iter().filter(|id| !session.seen.contains(id)).collect(),
            None => ids,
        })
    }

    /// Records `ids` as injected in `session_id`.
    pub fn record(&self, session_id: &str, ids: &[String]) {
        self.with(|log| {
            log.clock += 1;
            let clock = log.clock;
            if !log.sessions.contains_key(&key(session_id)) && log.sessions.len() >= MAX_SESSIONS {
                let oldest = log.sessions.iter().min_by_key(|(_, s)| s.touched).map(|(k, _)| k);
                if let Some(oldest) = oldest.cloned() {
                    log.sessions.remove(&oldest);
                }
            }
            let session = log.sessions.entry(key(session_id)).or_default();
            session.touched = clock;
            for id in ids {
                if session.seen.insert(id.clone()) {
                    session.order.push_back(id.clone());
                }
            }
            while session.order.len() > MAX_PER_SESSION {
                if let Some(old) = session.order.pop_front() {
                    session.seen.remove(&old);
                }
            }
        });
    }

    /// How many sessions are remembered (for tests and status).
    pub fn len(&self) -> usize {
        self.with(|log| log.sessions.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_memory_is_injected_once_per_session() {
        let log = SessionLog::default();
        log.record("s1", &ids(&["a", "b"]));
        assert_eq!(log.unseen("s1", ids(&["a", "c", "b"])), ids(&["c"]));
        assert_eq!(log.unseen("s2", ids(&["a"])), ids(&["a"]));
        log.restart("s1");
        assert_eq!(log.unseen("s1", ids(&["a"])), ids(&["a"]));
    }

    #[test]
    fn the_least_recent_session_is_forgotten_first() {
        let log = SessionLog::default();
        for n in 0..MAX_SESSIONS {
            log.record(&format!("s{n}"), &ids(&["a"]));
        }
        log.record("s0", &ids(&["b"]));
        log.record("new", &ids(&["a"]));
        assert_eq!(log.len(), MAX_SESSIONS);
        assert!(log.unseen("s0", ids(&["a"])).is_empty(), "touched recently, kept");
        assert_eq!(log.unseen("s1", ids(&["a"])), ids(&["a"]), "the oldest went");
    }

    #[test]
    fn a_session_keeps_its_newest_injections_and_huge_ids_are_bounded() {
        let log = SessionLog::default();
        let many: Vec<String> = (0..MAX_PER_SESSION + 10).map(|n| n.to_string()).collect();
        log.record("s", &many);
        assert_eq!(log.unseen("s", ids(&["0"])), ids(&["0"]));
        assert!(log.unseen("s", ids(&["2057"])).is_empty());
        let huge = "x".repeat(1 << 20);
        log.record(&huge, &ids(&["a"]));
        assert!(log.unseen(&huge, ids(&["a"])).is_empty());
    }
}
