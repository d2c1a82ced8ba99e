//! `kill -9` of the owner again and again while one sidecar keeps writing: the sidecar starts a
//! new owner and resends what had no answer, so every write is answered once, every
//! acknowledged memory is on disk exactly once, and the database is intact.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde_json::json;

use super::{
    Agent, Home, acknowledged_id, integrity, is_alive, note, report, signal, stop, stored_memories,
    tool_text, wait_until,
};

const KILLS: usize = 10;
/// Writes the agent keeps in flight, so a kill always catches some mid-way.
const IN_FLIGHT: usize = 4;

/// One write and its answer.
struct Write {
    content: String,
    answer: Result<String, String>,
    at: Instant,
}

/// Stores notes through `agent` until `stop`, then waits for the answers still due.
fn write_until(mut agent: Agent, stop: &AtomicBool, acked: &AtomicUsize) -> (Agent, Vec<Write>) {
    let mut pending: HashMap<u64, String> = HashMap::new();
    let mut writes = Vec::new();
    let mut n = 0;
    loop {
        while !stop.load(Ordering::SeqCst) && pending.len() < IN_FLIGHT {
            let content = note(n);
            n += 1;
            let arguments = json!({"project": "app", "content": content, "tags": ["kill"]});
            pending.insert(agent.send_call("store_memory", arguments), content);
        }
        if pending.is_empty() {
            return (agent, writes);
        }
        let message = agent.next_message();
        let Some(id) = message["id"].as_u64() else { continue };
        let content = pending
            .remove(&id)
            .unwrap_or_else(|| panic!("an answer for no request in flight: {message}"));
        writes.push(Write { content, answer: tool_text(&message), at: Instant::now() });
        acked.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn kill_9_of_the_owner_during_writes_loses_no_acknowledged_write() {
    let home = Home::new();
    let started = Instant::now();
    let agent = Agent::start(&home);
    let stop_writing = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop_writing, acked) = (Arc::clone(&stop_writing), Arc::clone(&acked));
        std::thread::spawn(move || write_until(agent, &stop_writing, &acked))
    };
    let mut killed: Vec<u32> = Vec::new();
    let mut kills = Vec::new();
    for round in 0..KILLS {
        let mut owner = 0;
        wait_until("a new owner runs", Duration::from_secs(60), || {
            assert!(!writer.is_finished(), "the writer stopped early; its panic is above");
            match home.owner_pid() {
                Some(pid) if !killed.contains(&pid) && is_alive(pid) => {
                    owner = pid;
                    true
                }
                _ => false,
            }
        });
        // Each round kills at another point: after 1 to 12 answers from this owner.
        let base = acked.load(Ordering::SeqCst);
        wait_until("the new owner answers", Duration::from_secs(60), || {
            assert!(!writer.is_finished(), "the writer stopped early; its panic is above");
            acked.load(Ordering::SeqCst) > base + (round * 7) % 12
        });
        signal(owner, Signal::KILL);
        kills.push(Instant::now());
        wait_until("the killed owner is gone", Duration::from_secs(10), || !is_alive(owner));
        killed.push(owner);
    }
    let base = acked.load(Ordering::SeqCst);
    wait_until("writes go on after the last kill", Duration::from_secs(60), || {
        assert!(!writer.is_finished(), "the writer stopped early; its panic is above");
        acked.load(Ordering::SeqCst) >= base + 5
    });
    stop_writing.store(true, Ordering::SeqCst);
    let (agent, writes) = writer.join().expect("the writer");
    assert!(agent.finish().success(), "the sidecar exits cleanly");
    let last = home.owner_pid().expect("an owner");
    assert!(!killed.contains(&last) && is_alive(last), "the last owner runs");
    stop(last);
    let elapsed = started.elapsed();

    let errors: Vec<&str> =
        writes.iter().filter_map(|w| w.answer.as_ref().err()).map(String::as_str).collect();
    assert!(errors.is_empty(), "{} of {} writes failed: {errors:?}", errors.len(), writes.len());
    let db = home.database();
    assert_eq!(integrity(&db), "ok");
    let on_disk: HashMap<String, String> = stored_memories(&db, "app").into_iter().collect();
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for content in on_disk.values() {
        *copies.entry(content.as_str()).or_default() += 1;
    }
    let mut resent_after_commit = 0;
    for write in &writes {
        let text = write.answer.as_deref().unwrap_or_default();
        let id = acknowledged_id(text).unwrap_or_else(|| panic!("no id in {text:?}"));
        if text.starts_with("Skipped") {
            // The owner committed it, died before answering, and the resent copy was
            // recognised as the same memory.
            resent_after_commit += 1;
        }
        assert_eq!(on_disk.get(&id), Some(&write.content), "acknowledged {id} is on disk");
        assert_eq!(copies.get(write.content.as_str()), Some(&1), "{:?} once", write.content);
    }
    // Every answered write is exactly one row, whether it was stored or its resend found it
    // already committed: a row more would be one nobody was told of.
    assert_eq!(on_disk.len(), writes.len(), "no unacknowledged rows");
    assert!(home.processes().is_empty(), "leftover processes: {:?}", home.processes());
    home.assert_no_panic_logged();

    let mut recoveries: Vec<Duration> = kills
        .iter()
        .filter_map(|kill| writes.iter().map(|w| w.at).find(|at| at > kill).map(|at| at - *kill))
        .collect();
    recoveries.sort();
    report(
        &format!("kill -9 owner x{KILLS} during writes"),
        &format!(
            "{} writes, 0 errors, {} resent after commit, {} rows, integrity ok",
            writes.len(),
            resent_after_commit,
            on_disk.len()
        ),
        &format!(
            "recovery median {} ms, max {} ms; {:.1} s total",
            recoveries[recoveries.len() / 2].as_millis(),
            recoveries.last().map_or(0, Duration::as_millis),
            elapsed.as_secs_f64()
        ),
    );
}
