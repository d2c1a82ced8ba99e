//! The owner and the sidecar as real processes: the sidecar starts an owner, relays, never
//! opens the database or the model, survives the owner going away, and a second owner on the
//! same data dir is refused; an owner whose database file is deleted or replaced refuses writes
//! and exits.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{KillOnDrop, model_dir};

fn annal(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_annal"));
    command.env("ANNAL_HOME", home).env("ANNAL_MODEL_DIR", model_dir());
    command
}

/// A running sidecar with line-based access to its stdio.
struct Sidecar {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    next_id: u64,
}

impl Sidecar {
    fn start(home: &Path) -> Self {
        let mut child =
            annal(home).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("sidecar");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut sidecar = Self { child, stdin, lines, next_id: 1 };
        let init = sidecar.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "annal");
        sidecar.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        sidecar
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("write");
        self.stdin.flush().expect("flush");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).expect("an answer before the deadline");
            let message: Value = serde_json::from_str(&line).expect("json line");
            if message["id"] == id {
                return message;
            }
        }
    }

    fn call(&mut self, tool: &str, arguments: Value) -> String {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let result = &answer["result"];
        assert_ne!(result["isError"], true, "{tool}: {answer}");
        result["content"][0]["text"].as_str().expect("text").to_owned()
    }

    fn open_files(&self) -> Vec<PathBuf> {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).expect("proc fds");
        fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok()).collect()
    }

    /// Closes stdin and waits for the sidecar to exit.
    fn finish(mut self) {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "sidecar exit: {status}");
                return;
            }
            assert!(Instant::now() < deadline, "sidecar did not exit after stdin closed");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn owner_pid(home: &Path) -> Option<u32> {
    annal::owner::current_owner(&home.join("data")).map(|(pid, _)| pid)
}

fn stop_owner(home: &Path) {
    let Some(pid) = owner_pid(home) else { return };
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

#[test]
fn the_sidecar_starts_an_owner_relays_and_never_opens_the_store() {
    let home = tempfile::tempdir().expect("home");
    let mut sidecar = Sidecar::start(home.path());
    let stored = sidecar.call(
        "store_memory",
        json!({"project": "app", "content": "The sidecar relays.", "tags": ["t"]}),
    );
    assert!(stored.starts_with("Stored memory"), "{stored}");
    let open = sidecar.open_files();
    for forbidden in ["annal.db", "model.safetensors"] {
        assert!(
            !open.iter().any(|p| p.to_string_lossy().contains(forbidden)),
            "sidecar holds {forbidden}: {open:?}"
        );
    }
    let owner = owner_pid(home.path()).expect("an owner runs");
    assert_ne!(owner, sidecar.child.id());
    sidecar.finish();
    assert!(is_alive(owner), "the owner outlives the sidecar (idle exit comes later)");

    // A second owner on the same data dir is refused, naming the first.
    let second = annal(home.path()).arg("serve").output().expect("second owner");
    assert_eq!(second.status.code(), Some(1));
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains(&format!("another Annal owner (pid {owner})")), "{message}");
    stop_owner(home.path());
}

#[test]
fn the_sidecar_survives_the_owner_going_away() {
    let home = tempfile::tempdir().expect("home");
    let mut sidecar = Sidecar::start(home.path());
    let stored = sidecar.call("store_memory", json!({"project": "app", "content": "Acknowledged writes survive restarts.", "tags": ["t"]}));
    assert!(stored.starts_with("Stored memory"), "{stored}");
    let first = owner_pid(home.path()).expect("owner");
    stop_owner(home.path());
    assert!(!is_alive(first));

    // The next call reconnects (starting a new owner), replays the handshake, and succeeds.
    let found = sidecar
        .call("search_memories", json!({"project": "app", "query": "writes survive restarts"}));
    assert!(found.contains("Acknowledged writes survive restarts."), "{found}");
    let second = owner_pid(home.path()).expect("new owner");
    assert_ne!(first, second);
    sidecar.finish();
    stop_owner(home.path());
}

/// The official Python MCP SDK (installed into .venv by the README's test command) drives
/// every tool through the sidecar: an independent client reading our schemas and output.
#[test]
fn the_python_sdk_drives_every_tool_over_stdio() {
    let home = tempfile::tempdir().expect("home");
    let python = crate::util::workspace_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test, which installs it",
        python.display()
    );
    let script = crate::util::workspace_dir().join("tests/mcp_client.py");
    let output = Command::new(python)
        .arg(script)
        .arg("stdio")
        .arg(env!("CARGO_BIN_EXE_annal"))
        .env("ANNAL_HOME", home.path())
        .env("ANNAL_MODEL_DIR", model_dir())
        .output()
        .expect("python client");
    stop_owner(home.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stdout.contains("ok"), "stdout: {stdout}\nstderr: {stderr}");
}

/// Sends one raw HTTP request and returns the status code.
fn http_status(address: &str, request: &str) -> u16 {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("status line")
}

#[test]
fn mcp_over_http_needs_the_token_and_a_loopback_host() {
    let home = tempfile::tempdir().expect("home");
    std::fs::write(home.path().join("config.yaml"), "port: 0\n").expect("config");
    let owner = annal(home.path())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("owner");
    // Killed on drop too, so a failed assertion leaves no owner behind.
    let mut owner = KillOnDrop(owner);
    let address_file = home.path().join("data").join(annal::http::ADDRESS_FILE);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !address_file.exists() {
        assert!(Instant::now() < deadline, "owner did not start HTTP");
        std::thread::sleep(Duration::from_millis(20));
    }
    let address = std::fs::read_to_string(&address_file).expect("address");
    let token_file = home.path().join("data").join(annal::http::TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).expect("token");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&token_file).expect("meta").permissions().mode() & 0o777, 0o600);

    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let request = |host: &str, extra: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let bearer = format!("Authorization: Bearer {token}\r\n");
    assert_eq!(http_status(&address, &request(&address, "")), 401, "no token");
    assert_eq!(
        http_status(&address, &request(&address, "Authorization: Bearer wrong\r\n")),
        401,
        "wrong token"
    );
    assert_ne!(
        http_status(&address, &request("evil.example.com", &bearer)),
        200,
        "a foreign Host is refused"
    );
    let origin = format!("{bearer}Origin: http://evil.example.com\r\n");
    assert_ne!(
        http_status(&address, &request(&address, &origin)),
        200,
        "a foreign Origin is refused"
    );
    assert_eq!(http_status(&address, &request(&address, &bearer)), 200, "token and loopback host");

    let python = crate::util::workspace_dir().join(".venv/bin/python");
    let output = Command::new(python)
        .arg(crate::util::workspace_dir().join("tests/mcp_client.py"))
        .arg("http")
        .arg(format!("http://{address}/mcp"))
        .arg(&token)
        .output()
        .expect("python client");
    let _ = Command::new("kill").arg(owner.0.id().to_string()).status();
    let status = owner.0.wait().expect("owner exit");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(status.success(), "graceful shutdown on SIGTERM: {status}");
}

#[test]
fn an_owner_without_clients_exits_after_its_idle_timeout() {
    let home = tempfile::tempdir().expect("home");
    std::fs::write(home.path().join("config.yaml"), "port: 0\n").expect("config");
    let mut owner = annal(home.path())
        .args(["serve", "--idle-exit", "0"])
        .stderr(Stdio::null())
        .spawn()
        .expect("owner");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = owner.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the idle owner did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    assert!(
        !annal::owner::socket_path(&home.path().join("data")).exists(),
        "the socket is removed"
    );
}

/// HTTP clients hold no socket connection: an open event stream (the dashboard, an MCP client's
/// stream) must keep an idle-exiting owner alive, and the owner exits once it closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_event_stream_keeps_an_idle_owner_alive() {
    use annal::owner::{Owner, OwnerLock, Role, ServeOptions};

    let home = tempfile::tempdir().expect("home");
    std::fs::write(home.path().join("config.yaml"), "port: 0\n").expect("config");
    let paths = annal::config::PathInputs {
        annal_home: Some(home.path().to_path_buf()),
        ..Default::default()
    }
    .resolve()
    .expect("paths");
    let config = annal::config::ConfigFile::load(paths).expect("config");
    let data_dir = config.snapshot().data_dir(config.paths());
    let lock = OwnerLock::acquire(&data_dir, Role::Headless).expect("lock");
    let owner = Owner::open(config, lock).await.expect("owner");
    let idle = Duration::from_millis(1500);
    let options = ServeOptions { idle_exit: Some(idle) };
    let mut serving = tokio::spawn(async move {
        let served = owner.serve(&options, tokio_util::sync::CancellationToken::new()).await;
        owner.shutdown().await;
        served
    });

    let address_file = data_dir.join(annal::http::ADDRESS_FILE);
    let address = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !address_file.exists() {
            assert!(Instant::now() < deadline, "the owner did not start HTTP");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::read_to_string(&address_file).expect("address")
    })
    .await
    .expect("join");
    let token = annal::http::token(&data_dir).expect("token");
    let stream = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        write!(
            stream,
            "GET /api/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .expect("request");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        assert!(status.contains(" 200 "), "{status}");
        stream
    })
    .await
    .expect("join");

    let waited = tokio::time::timeout(idle * 3, &mut serving).await;
    assert!(waited.is_err(), "the owner exited while an event stream was open");

    drop(stream);
    let served = tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("the owner exits once the stream closed and the idle time passed")
        .expect("join");
    served.expect("a clean exit");
}

/// Stopping an owner mid-call: the batch sent just before SIGTERM is answered, as stored, and
/// stored once — whether the stopping owner finished it (its answer is sent before the session
/// closes) or the sidecar resent it to the next owner (which would report copies the first one
/// had committed as duplicates).
#[test]
fn a_call_in_flight_when_the_owner_stops_is_answered_once() {
    let home = tempfile::tempdir().expect("home");
    let mut sidecar = Sidecar::start(home.path());
    // The model is loaded once this answers, so the batch below is busy embedding when the
    // owner is told to stop.
    sidecar
        .call("store_memory", json!({"project": "app", "content": "Warm up.", "tags": ["warm"]}));
    let memories: Vec<Value> =
        (0..24).map(|i| json!({"content": crate::reliability::note(i), "tags": ["t"]})).collect();
    let id = sidecar.next_id;
    sidecar.next_id += 1;
    sidecar.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "store_batch", "arguments": {"project": "app", "memories": memories}}}));
    stop_owner(home.path());

    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = sidecar.lines.recv_timeout(left).expect("the batch is answered");
        let message: Value = serde_json::from_str(&line).expect("json");
        if message["id"] == id {
            break message;
        }
    };
    let text = answer["result"]["content"][0]["text"].as_str().expect("text").to_owned();
    assert!(!text.contains("already exists"), "the batch ran twice: {text}");
    let stored: usize = text
        .strip_prefix("Stored ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("Stored N of 24: {text}"));
    assert_eq!(stored, 24, "{text}");
    let topics = sidecar.call("list_topics", json!({"project": "app"}));
    assert!(topics.contains(&format!("t ({stored})")), "{topics} after {text}");
    sidecar.finish();
    stop_owner(home.path());
}

/// An Annal database of its own holding one memory, closed (checkpointed), in a temp dir.
fn another_database(content: &str) -> tempfile::TempDir {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let other = crate::util::Fixture::new().await;
        let stored = other.memories.remember("app", content.into(), vec!["t".into()], None, None);
        stored.await.expect("store in the other database");
        other.store.close().await.expect("close the other database");
        other.dir
    })
}

/// Every memory's content in the database, read directly (no owner running).
fn contents_on_disk(db: &Path) -> Vec<String> {
    let conn = tokio_rusqlite::rusqlite::Connection::open(db).expect("open");
    let check: String =
        conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("integrity");
    assert_eq!(check, "ok");
    let mut query = conn.prepare("SELECT content FROM memories ORDER BY content").expect("query");
    let rows = query.query_map([], |row| row.get(0)).expect("rows");
    rows.collect::<Result<_, _>>().expect("contents")
}

/// `annal.db` deleted, or replaced by another database, under a running `annal serve`: the next
/// store is an error naming the file, the owner says so in its log and exits, the sidecar's
/// next call gets a fresh owner over the file now at that path, and after a restart every
/// memory reported stored since the change is on disk.
fn a_lost_database_makes_the_owner_refuse_and_exit(replaced: bool) {
    let home = tempfile::tempdir().expect("home");
    let data = home.path().join("data");
    let db = data.join("annal.db");
    let mut sidecar = Sidecar::start(home.path());
    let stored = sidecar.call(
        "store_memory",
        json!({"project": "app", "content": "Stored in the first file.", "tags": ["t"]}),
    );
    assert!(stored.starts_with("Stored memory"), "{stored}");
    let first = owner_pid(home.path()).expect("an owner runs");
    let mut on_disk: Vec<String> = Vec::new();
    let replacement = another_database("Kept in the replacement database.");
    if replaced {
        std::fs::rename(replacement.path().join("annal.db"), &db).expect("replace");
        on_disk.push("Kept in the replacement database.".into());
    } else {
        std::fs::remove_file(&db).expect("delete");
    }

    let refused = sidecar.request(
        "tools/call",
        json!({"name": "store_memory", "arguments": {"project": "app", "content": "Refused: the file is gone.", "tags": ["t"]}}),
    );
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    let message = refused["result"]["content"][0]["text"].as_str().expect("text");
    let change = if replaced { "replaced by another file" } else { "deleted" };
    assert!(message.contains(&db.display().to_string()) && message.contains(change), "{message}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while is_alive(first) {
        assert!(Instant::now() < deadline, "the owner kept running on a lost database");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(data.join(annal::sidecar::LOG_FILE)).expect("log");
    assert!(log.contains(change) && log.contains("exiting"), "{log}");

    let stored = sidecar.call(
        "store_memory",
        json!({"project": "app", "content": "Stored by the fresh owner.", "tags": ["t"]}),
    );
    assert!(stored.starts_with("Stored memory"), "{stored}");
    on_disk.push("Stored by the fresh owner.".into());
    assert_ne!(owner_pid(home.path()), Some(first));
    sidecar.finish();
    stop_owner(home.path());

    let mut restarted = Sidecar::start(home.path());
    let found = restarted
        .call("search_memories", json!({"project": "app", "query": "stored by the fresh owner"}));
    assert!(found.contains("Stored by the fresh owner."), "{found}");
    restarted.finish();
    stop_owner(home.path());
    on_disk.sort();
    assert_eq!(contents_on_disk(&db), on_disk);
}

#[test]
fn a_database_deleted_under_a_running_owner_is_refused_and_the_owner_exits() {
    a_lost_database_makes_the_owner_refuse_and_exit(false);
}

#[test]
fn a_database_replaced_under_a_running_owner_is_refused_and_the_owner_exits() {
    a_lost_database_makes_the_owner_refuse_and_exit(true);
}
