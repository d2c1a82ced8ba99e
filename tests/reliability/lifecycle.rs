//! Twenty sidecars opened and closed one after another, then twenty at once: each one exits
//! when its agent goes, the owner keeps no connection of theirs, no second owner is started,
//! and once the owner is stopped no process of this data dir is left.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Agent, Guard, Home, note, report, stop, wait_until};

const SIDECARS: usize = 20;

/// The owner's open sockets (listeners and sessions).
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the owner's fds")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// One agent session: connect, store a memory, list topics, go away.
fn session(home: &Home, n: usize, at_peak: Option<&Barrier>) {
    let mut agent = Agent::start(home);
    let arguments = json!({"project": "app", "content": note(n), "tags": ["lifecycle"]});
    let stored = agent.call("store_memory", arguments).expect("store");
    assert!(stored.starts_with("Stored memory"), "{stored}");
    agent.call("list_topics", json!({"project": "app"})).expect("topics");
    if let Some(barrier) = at_peak {
        // Twice: once to hold all sessions open while they are counted, once to let go.
        barrier.wait();
        barrier.wait();
    }
    let status = agent.finish();
    assert!(status.success(), "sidecar {n} exit: {status}");
}

#[test]
fn twenty_sidecars_come_and_go_and_leave_no_process_behind() {
    let home = Home::new();
    let owner = Guard(home.serve());
    let pid = owner.0.id();
    let idle = sockets(pid);
    let closed = || sockets(pid) == idle;
    // The first session loads the model; the counts and timings start after it.
    session(&home, 0, None);
    wait_until("the owner closed the first session", Duration::from_secs(10), closed);

    let started = Instant::now();
    for n in 1..=SIDECARS {
        session(&home, n, None);
    }
    let sequential = started.elapsed();

    let started = Instant::now();
    let barrier = Barrier::new(SIDECARS + 1);
    let peak = std::thread::scope(|scope| {
        let sessions: Vec<_> = (1..=SIDECARS)
            .map(|k| {
                let (home, barrier) = (&home, &barrier);
                scope.spawn(move || session(home, SIDECARS + k, Some(barrier)))
            })
            .collect();
        barrier.wait();
        let peak = sockets(pid);
        barrier.wait();
        for session in sessions {
            session.join().expect("a parallel session");
        }
        peak
    });
    let parallel = started.elapsed();
    assert_eq!(peak, idle + SIDECARS, "one connection per open sidecar");
    wait_until("the owner closed every session", Duration::from_secs(10), closed);
    assert_eq!(home.owner_pid(), Some(pid), "no sidecar started an owner of its own");

    let mut owner = owner;
    let shutdown = stop(pid);
    let status = owner.0.wait().expect("owner exit");
    assert!(status.success(), "owner exit: {status}");
    let leftovers = home.processes();
    assert!(leftovers.is_empty(), "leftover processes: {leftovers:?}");
    home.assert_no_panic_logged();
    report(
        &format!("{SIDECARS} sidecars open/close, sequential + parallel"),
        &format!(
            "{} sessions, {peak} sockets at peak, {idle} after, 1 owner, 0 left",
            2 * SIDECARS
        ),
        &format!(
            "{} ms/session in turn, {} ms for {SIDECARS} at once; stop {} ms",
            sequential.as_millis() / SIDECARS as u128,
            parallel.as_millis(),
            shutdown.as_millis()
        ),
    );
}
