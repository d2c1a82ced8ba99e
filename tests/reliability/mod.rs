//! Reliability under faults, with the real binary as sidecar and owner: owners killed mid-write,
//! many sidecars at once during indexing, sidecars coming and going, a full disk. Bounded in
//! count and time. The normal run has all but the indexing case (the slowest by far);
//! `scripts/reliability` runs all four one after another and prints the rows they report as a
//! table.

mod concurrent;
mod disk_full;
mod kill;
mod lifecycle;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use annal::store::DATABASE_FILE;
use serde_json::{Value, json};
use tokio_rusqlite::rusqlite::{Connection, OpenFlags};

use crate::util::model_dir;

/// How long any one call may take before the test calls it a hang.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// An `ANNAL_HOME` with `HOME` and the XDG dirs inside it, so nothing reaches the real home.
/// The HTTP endpoint takes a free port: suites run in parallel must not share 9200.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp home");
        std::fs::write(dir.path().join("config.yaml"), "port: 0\n").expect("config");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    /// The `annal` binary with this home's environment.
    pub fn annal(&self) -> Command {
        let home = self.path();
        let mut command = Command::new(env!("CARGO_BIN_EXE_annal"));
        command
            .env("ANNAL_HOME", home)
            .env("ANNAL_MODEL_DIR", model_dir())
            .env("HOME", home.join("user"))
            .env("XDG_CONFIG_HOME", home.join("user/.config"))
            .env("XDG_DATA_HOME", home.join("user/.local/share"))
            .env("XDG_CACHE_HOME", home.join("user/.cache"))
            .env("HF_HOME", home.join("user/.cache/huggingface"))
            .env_remove("ANNAL_CONFIG");
        command
    }

    /// The pid in the owner's lock file (it stays there after the owner died).
    pub fn owner_pid(&self) -> Option<u32> {
        annal::owner::current_owner(&self.data_dir()).map(|(pid, _)| pid)
    }

    /// Where [`Home::serve`] sends the owner's log.
    fn owner_log(&self) -> PathBuf {
        self.path().join("owner.log")
    }

    /// Starts `annal serve` as a child (logging to `owner.log`) and waits for its socket.
    pub fn serve(&self) -> Child {
        let log = std::fs::File::create(self.owner_log()).expect("owner log");
        let child = self
            .annal()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("owner");
        let socket = annal::owner::socket_path(&self.data_dir());
        let pid = child.id();
        wait_until("the owner listens", Duration::from_secs(60), || {
            socket.exists() && self.owner_pid() == Some(pid)
        });
        child
    }

    /// Processes (other than zombies) started with this home: every sidecar and owner must be
    /// gone once a test is over.
    pub fn processes(&self) -> Vec<u32> {
        let marker = format!("ANNAL_HOME={}\0", self.path().display());
        let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| {
                let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                is_alive(pid)
                    && environ.windows(marker.len()).any(|window| window == marker.as_bytes())
            })
            .collect()
    }

    /// Asserts that no owner of this home logged a panic: `owner.log` (owners the tests
    /// start) and `annal.log` in the data dir (owners the sidecars start).
    pub fn assert_no_panic_logged(&self) {
        for log in [self.owner_log(), self.data_dir().join(annal::sidecar::LOG_FILE)] {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(!text.contains("panicked"), "{}:\n{text}", log.display());
        }
    }

    /// The database, read-only; call it only once the owner has stopped.
    pub fn database(&self) -> Connection {
        Connection::open_with_flags(
            self.data_dir().join(DATABASE_FILE),
            OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the database read-only")
    }
}

impl Drop for Home {
    /// Owners the sidecars started are nobody's children here: a failed assertion must not
    /// leave them running for their idle timeout.
    fn drop(&mut self) {
        for pid in self.processes() {
            signal(pid, rustix::process::Signal::KILL);
        }
    }
}

pub fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

pub fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).expect("pid")).expect("pid");
    // A process that is already gone is fine: the callers then wait for it to be gone.
    let _ = rustix::process::kill_process(pid, signal);
}

pub use crate::util::wait_until;

/// SIGTERM, then waits until the process is gone; returns how long the shutdown took.
pub fn stop(pid: u32) -> Duration {
    let started = Instant::now();
    signal(pid, rustix::process::Signal::TERM);
    wait_until("the owner stopped", Duration::from_secs(30), || !is_alive(pid));
    started.elapsed()
}

/// `PRAGMA integrity_check` of a database nobody has open.
pub fn integrity(db: &Connection) -> String {
    db.query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("integrity_check")
}

/// `(id, content)` of every agent memory of `project`.
pub fn stored_memories(db: &Connection, project: &str) -> Vec<(String, String)> {
    let mut statement = db
        .prepare(
            "SELECT id, content FROM memories WHERE project = ?1 AND chunk_type = 'agent-memory'",
        )
        .expect("prepare");
    statement
        .query_map([project], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// A distinct sentence for note `n`: eight words drawn from a vocabulary of unrelated fields,
/// so no two notes come near the near-duplicate threshold (which would skip one of them).
pub fn note(n: usize) -> String {
    const WORDS: [&str; 96] = [
        "kernel",
        "invoice",
        "glacier",
        "violin",
        "compiler",
        "harvest",
        "satellite",
        "mortgage",
        "pollen",
        "firmware",
        "lantern",
        "tariff",
        "enzyme",
        "ballot",
        "turbine",
        "sonnet",
        "ledger",
        "volcano",
        "protocol",
        "orchard",
        "cathedral",
        "vaccine",
        "monsoon",
        "cipher",
        "saddle",
        "quartz",
        "referee",
        "bakery",
        "plankton",
        "mortar",
        "telescope",
        "pension",
        "jasmine",
        "cobalt",
        "lighthouse",
        "sermon",
        "tornado",
        "lobster",
        "pigment",
        "freight",
        "falcon",
        "scaffold",
        "hymn",
        "reactor",
        "marathon",
        "pottery",
        "meadow",
        "subpoena",
        "archive",
        "compass",
        "dolphin",
        "furnace",
        "gravel",
        "harbor",
        "igloo",
        "jukebox",
        "kayak",
        "lagoon",
        "magnet",
        "nectar",
        "oyster",
        "parsley",
        "quiver",
        "rhubarb",
        "sawmill",
        "thimble",
        "umpire",
        "vinegar",
        "walrus",
        "yogurt",
        "zeppelin",
        "abacus",
        "blizzard",
        "canyon",
        "dynamo",
        "easel",
        "fjord",
        "goblet",
        "hammock",
        "inkwell",
        "javelin",
        "kiln",
        "lullaby",
        "mosaic",
        "nebula",
        "obelisk",
        "pretzel",
        "quarry",
        "riddle",
        "scarab",
        "trellis",
        "ukulele",
        "velvet",
        "windmill",
        "xylophone",
        "yacht",
    ];
    // SplitMix64 of n: well-mixed picks, the same on every run.
    let mut state = n as u64;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut picked: Vec<&str> = Vec::new();
    while picked.len() < 8 {
        let word = WORDS[(next() % WORDS.len() as u64) as usize];
        if !picked.contains(&word) {
            picked.push(word);
        }
    }
    format!("Note {n}: {}.", picked.join(" "))
}

/// The id in `Stored memory <id>` or in a skip naming an existing copy
/// (`... already exists: <id>. ...`).
pub fn acknowledged_id(text: &str) -> Option<String> {
    let id = match text.strip_prefix("Stored memory ") {
        Some(rest) => rest,
        None => text.split_once("already exists: ")?.1,
    };
    let id = id.split(|c: char| c == '.' || c.is_whitespace()).next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// One row of the table `scripts/reliability` prints: appended to the file named by
/// `ANNAL_RELIABILITY_REPORT`, and printed to stderr either way.
pub fn report(case: &str, counts: &str, timings: &str) {
    eprintln!("reliability | {case} | {counts} | {timings}");
    let Some(file) = std::env::var_os("ANNAL_RELIABILITY_REPORT") else { return };
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(file).expect("report file");
    writeln!(file, "{case}\t{counts}\t{timings}").expect("report");
}

/// A sidecar as an agent runs it: JSON lines on its stdin and stdout.
pub struct Agent {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    next_id: u64,
}

impl Agent {
    /// Starts a sidecar and completes the MCP handshake.
    pub fn start(home: &Home) -> Self {
        let mut child = home
            .annal()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sidecar");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let message = serde_json::from_str(&line)
                    .unwrap_or_else(|err| panic!("not JSON from the sidecar ({err}): {line}"));
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let mut agent = Self { child, stdin, lines, next_id: 1 };
        let params = json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "reliability", "version": "1"}});
        let id = agent.send_request("initialize", params);
        let answer = agent.answer(id);
        assert_eq!(answer["result"]["serverInfo"]["name"], "annal", "{answer}");
        agent.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        agent
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{message}").expect("write to the sidecar");
        stdin.flush().expect("flush");
    }

    fn send_request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Sends a `tools/call` without waiting; returns its id.
    pub fn send_call(&mut self, tool: &str, arguments: Value) -> u64 {
        self.send_request("tools/call", json!({"name": tool, "arguments": arguments}))
    }

    /// The next message from the sidecar (an answer, in whatever order they come).
    pub fn next_message(&self) -> Value {
        self.lines.recv_timeout(CALL_DEADLINE).expect("an answer before the deadline")
    }

    fn answer(&self, id: u64) -> Value {
        loop {
            let message = self.next_message();
            if message["id"] == id {
                return message;
            }
        }
    }

    /// Calls a tool: `Ok(text)`, or `Err(text)` for a tool error or a JSON-RPC error.
    pub fn call(&mut self, tool: &str, arguments: Value) -> Result<String, String> {
        let id = self.send_call(tool, arguments);
        tool_text(&self.answer(id))
    }

    /// Closes stdin (the agent going away) and waits for the sidecar to exit.
    pub fn finish(mut self) -> ExitStatus {
        drop(self.stdin.take());
        let mut status = None;
        wait_until("the sidecar exited after stdin closed", Duration::from_secs(10), || {
            status = self.child.try_wait().expect("wait");
            status.is_some()
        });
        status.expect("exit status")
    }
}

impl Drop for Agent {
    /// A failed assertion must not leave a sidecar behind.
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The text of a `tools/call` answer: `Err` for `isError` and for JSON-RPC errors.
pub fn tool_text(answer: &Value) -> Result<String, String> {
    if let Some(error) = answer.get("error") {
        return Err(format!("JSON-RPC error {error}"));
    }
    let text = answer["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned();
    if answer["result"]["isError"] == true { Err(text) } else { Ok(text) }
}

/// Kills a child on drop, so a failed assertion leaves no owner behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
