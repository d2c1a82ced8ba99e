//! The sidecar against a misbehaving owner (a stand-in on the owner's socket): a request that
//! brings the owner down every time is answered with an error instead of being resent forever,
//! an `initialize` whose answer was lost is answered after the reconnect, and an owner that
//! cannot keep any session makes the sidecar exit with a clear error.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What the stand-in does with one message on its `connection`-th connection (from 0).
enum Act {
    Answer(Value),
    HangUp,
    Nothing,
}

/// Listens on the owner socket of `data_dir`; returns how many connections it accepted.
fn stand_in_owner(
    data_dir: &Path,
    act: impl Fn(usize, &Value) -> Act + Send + 'static,
) -> Arc<AtomicUsize> {
    let socket = annal::owner::socket_path(data_dir);
    std::fs::create_dir_all(socket.parent().expect("socket dir")).expect("socket dir");
    let listener = UnixListener::bind(&socket).expect("bind the owner socket");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let connection = counter.fetch_add(1, Ordering::SeqCst);
            let reader = BufReader::new(stream.try_clone().expect("clone"));
            for line in reader.lines().map_while(Result::ok) {
                let message: Value = serde_json::from_str(&line).expect("json from the sidecar");
                match act(connection, &message) {
                    Act::Answer(result) => {
                        let answer =
                            json!({"jsonrpc": "2.0", "id": message["id"], "result": result});
                        if writeln!(stream, "{answer}").is_err() {
                            break;
                        }
                    }
                    Act::HangUp => break,
                    Act::Nothing => {}
                }
            }
        }
    });
    accepted
}

fn initialize_result() -> Value {
    json!({"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "stand-in", "version": "0"}})
}

struct Agent {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
}

impl Agent {
    fn start(home: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_annal"))
            .env("ANNAL_HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sidecar");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let message = serde_json::from_str(&line).expect("json from the sidecar");
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        Self { child, stdin, lines }
    }

    fn send(&mut self, message: Value) {
        writeln!(self.stdin, "{message}").expect("write");
    }

    fn next(&self) -> Value {
        self.lines.recv_timeout(Duration::from_secs(30)).expect("a message before the deadline")
    }

    fn initialize(&mut self) {
        self.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}));
    }
}

#[test]
fn a_request_that_brings_the_owner_down_every_time_gets_an_error() {
    let home = tempfile::tempdir().expect("home");
    let accepted =
        stand_in_owner(&home.path().join("data"), |_, message| match message["method"].as_str() {
            Some("initialize") => Act::Answer(initialize_result()),
            Some("tools/call") => Act::HangUp,
            Some("ping") => Act::Answer(json!({})),
            _ => Act::Nothing,
        });
    let mut agent = Agent::start(home.path());
    agent.initialize();
    assert_eq!(agent.next()["id"], 1);
    agent.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    agent.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x"}}));
    let failed = agent.next();
    assert_eq!(failed["id"], 2, "{failed}");
    let message = failed["error"]["message"].as_str().expect("an error message");
    assert!(message.contains("stopped 3 times"), "{message}");

    // The session carries on, with no second `initialize` answer in between.
    agent.send(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}));
    assert_eq!(agent.next()["id"], 3);
    assert_eq!(accepted.load(Ordering::SeqCst), 4, "one connection and three reconnects");
    drop(agent.stdin);
    assert!(agent.child.wait().expect("exit").success());
}

#[test]
fn an_initialize_whose_answer_was_lost_is_answered_after_the_reconnect() {
    let home = tempfile::tempdir().expect("home");
    stand_in_owner(&home.path().join("data"), |connection, message| {
        match (connection, message["method"].as_str()) {
            (0, Some("initialize")) => Act::HangUp,
            (_, Some("initialize")) => Act::Answer(initialize_result()),
            _ => Act::Nothing,
        }
    });
    let mut agent = Agent::start(home.path());
    agent.initialize();
    let answer = agent.next();
    assert_eq!(answer["id"], 1, "{answer}");
    assert_eq!(answer["result"]["serverInfo"]["name"], "stand-in");
    drop(agent.stdin);
    assert!(agent.child.wait().expect("exit").success());
}

#[test]
fn an_owner_that_cannot_keep_a_session_makes_the_sidecar_exit_with_the_reason() {
    let home = tempfile::tempdir().expect("home");
    stand_in_owner(&home.path().join("data"), |_, _| Act::HangUp);
    let mut agent = Agent::start(home.path());
    agent.initialize();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = agent.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the sidecar kept retrying");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut agent.child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert!(stderr.contains("stopped 3 times in a row while starting a session"), "{stderr}");
    assert!(stderr.contains("annal.log"), "{stderr}");
}
