//! A cold owner over a 100,000-memory store answers `initialize` before its vector index has
//! loaded, and a search right after waits for the load and finds what is stored.
//!
//! The order is read from the owner's log, not from a clock: the owner writes its log lines as
//! things happen (unbuffered stderr into `annal.log`), so a log read right after the answer
//! that already says "owner listening" but not yet "vector index loaded" shows the answer came
//! first.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use annal::events::EventBus;
use annal::memories::Memories;
use annal::store::Store;
use serde_json::{Value, json};

#[path = "../engine/tests/common/filler.rs"]
mod filler;

use crate::util::{KillOnDrop, Stored as _, embedder, isolate, model_dir, tags, unit_vector};

const MEMORIES: u64 = 100_000;
const KNOWN: &str = "Payment webhooks are retried three times with exponential backoff.";

/// A store in `data_dir` holding [`KNOWN`] (embedded by the model) and filler memories with
/// pseudo-random unit vectors, `MEMORIES` in all, closed. The fillers go in by SQL in one
/// transaction, which a debug build does ten times faster than the store's own inserts.
fn big_store(data_dir: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = Store::open(data_dir).await.expect("open");
        let events = EventBus::open(store.clone()).await.expect("events");
        let memories = Memories::new(store.clone(), embedder(), events);
        let stored = memories.remember("app", KNOWN.into(), tags(&["payments"]), None, None);
        stored.await.stored("the known memory");
        store.close().await.expect("close");
    });
    filler::insert(data_dir, 1..MEMORIES, unit_vector);
}

/// Stops the owner of `data_dir` (SIGTERM) when dropped, even after a failed assertion.
struct StopOwner(PathBuf);

impl Drop for StopOwner {
    fn drop(&mut self) {
        let Some((pid, _)) = annal::owner::current_owner(&self.0) else { return };
        let _ = Command::new("kill").arg(pid.to_string()).status();
        crate::util::wait_until("the owner has exited", Duration::from_secs(30), || {
            !Path::new(&format!("/proc/{pid}")).exists()
        });
    }
}

/// The answer to request `id` among the sidecar's lines.
fn answer(lines: &mpsc::Receiver<String>, id: u64) -> Value {
    loop {
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("an answer in time");
        let message: Value = serde_json::from_str(&line).expect("a JSON line");
        if message["id"] == id {
            return message;
        }
    }
}

#[test]
fn initialize_is_answered_while_a_big_store_is_still_loading() {
    let home = tempfile::tempdir().expect("home");
    let data = home.path().join("data");
    big_store(&data);
    let log = data.join(annal::sidecar::LOG_FILE);

    let mut command = Command::new(env!("CARGO_BIN_EXE_annal"));
    isolate(&mut command, home.path()).env("ANNAL_MODEL_DIR", model_dir()).env_remove("ANNAL_LOG");
    let mut sidecar =
        KillOnDrop(command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("sidecar"));
    let _owner = StopOwner(data.clone());
    let mut stdin = sidecar.0.stdin.take().expect("stdin");
    let stdout = sidecar.0.stdout.take().expect("stdout");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut send = |message: Value| {
        writeln!(stdin, "{message}").expect("write");
        stdin.flush().expect("flush");
    };

    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}}));
    let initialized = answer(&lines, 1);
    let at_answer = std::fs::read_to_string(&log).expect("the owner's log");
    assert_eq!(initialized["result"]["serverInfo"]["name"], "annal", "{initialized}");
    for (line, expected) in [
        ("loading the vector index", true),
        ("owner listening", true),
        ("vector index loaded", false),
    ] {
        assert_eq!(
            at_answer.contains(line),
            expected,
            "{line:?} when initialize was answered:\n{at_answer}"
        );
    }

    // The first search waits for the load and sees all of it.
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "search_memories",
        "arguments": {"project": "app", "query": "how often are payment webhooks retried"}}}));
    let found = answer(&lines, 2);
    let text = found["result"]["content"][0]["text"].as_str().expect("text");
    assert!(text.contains(KNOWN), "{found}");
    let after = std::fs::read_to_string(&log).expect("the owner's log");
    let position = |line: &str| after.find(line).unwrap_or_else(|| panic!("{line:?} in\n{after}"));
    assert!(position("owner listening") < position("vector index loaded"), "{after}");
    assert!(after.contains(&format!("memories={MEMORIES}")), "{after}");
}
