//! Malformed input on every transport — the stdio sidecar, the owner's socket, HTTP `/mcp` —
//! gets exactly one JSON-RPC error with the right code and id, and the session carries on.
//! Also: relative watch paths resolve in each agent's own directory (refused where it is
//! unknown), and rejected values come back quoted short.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::model_dir;

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;

fn annal(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_annal"));
    command
        .env("ANNAL_HOME", home)
        .env("ANNAL_MODEL_DIR", model_dir())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("xdg-config"))
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("XDG_CACHE_HOME", home.join("xdg-cache"))
        .env("HF_HOME", home.join("hf"));
    command
}

/// A temp `ANNAL_HOME` whose owner listens on a free HTTP port; the owner (whoever started it)
/// is stopped on drop.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("home");
        std::fs::write(dir.path().join("config.yaml"), "port: 0\n").expect("config");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.path().join("data")
    }

    /// Waits for a file the owner writes.
    fn wait_for(&self, name: &str) -> String {
        let path = self.data().join(name);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&path)
                && !text.is_empty()
            {
                return text.trim().to_owned();
            }
            assert!(Instant::now() < deadline, "the owner did not write {name}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop_owner(&self) {
        let Some((pid, _)) = annal::owner::current_owner(&self.data()) else { return };
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        self.stop_owner();
    }
}

/// A JSON-RPC peer speaking lines: the sidecar's stdio or the owner's socket.
struct Peer {
    writer: Box<dyn std::io::Write + Send>,
    lines: mpsc::Receiver<String>,
    child: Option<Child>,
    next_id: u64,
}

impl Peer {
    fn reading(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        lines
    }

    /// A sidecar started in `cwd`, initialized.
    fn sidecar(home: &Home, cwd: &Path) -> Self {
        let mut child = annal(home.path())
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sidecar");
        let writer = Box::new(child.stdin.take().expect("stdin"));
        let lines = Self::reading(child.stdout.take().expect("stdout"));
        let mut peer = Self { writer, lines, child: Some(child), next_id: 1 };
        peer.initialize();
        peer
    }

    /// A raw client on the owner's socket (no hello), initialized.
    fn socket(home: &Home) -> Self {
        let socket = annal::owner::socket_path(&home.data());
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match std::os::unix::net::UnixStream::connect(&socket) {
                Ok(stream) => break stream,
                Err(err) => assert!(Instant::now() < deadline, "no owner socket: {err}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let lines = Self::reading(stream.try_clone().expect("clone"));
        let mut peer = Self { writer: Box::new(stream), lines, child: None, next_id: 1 };
        peer.initialize();
        peer
    }

    fn initialize(&mut self) {
        let init = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "annal", "{init}");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string());
    }

    fn send(&mut self, line: impl AsRef<[u8]>) {
        self.writer.write_all(line.as_ref()).expect("write");
        self.writer.write_all(b"\n").expect("write");
        self.writer.flush().expect("flush");
    }

    /// The next line, raw.
    fn next_line(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(60)).expect("a reply before the deadline")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        loop {
            let message: Value = serde_json::from_str(&self.next_line()).expect("json");
            if message["id"] == id {
                return message;
            }
        }
    }

    /// A tool's answer text, and whether it is an error.
    fn call(&mut self, tool: &str, arguments: Value) -> (String, bool) {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let text = answer["result"]["content"][0]["text"].as_str().unwrap_or_default();
        (text.to_owned(), answer["result"]["isError"] == true)
    }

    /// Sends `case` and then a ping: the replies are exactly the case's error (if any) and the
    /// ping's answer.
    fn expect(&mut self, case: &Case) {
        self.send(&case.bytes);
        let ping = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": ping, "method": "ping"}).to_string());
        let expected = if case.code.is_some() { 2 } else { 1 };
        let replies: Vec<Value> = (0..expected)
            .map(|_| serde_json::from_str(&self.next_line()).expect("json reply"))
            .collect();
        let (pongs, errors): (Vec<&Value>, Vec<&Value>) =
            replies.iter().partition(|reply| reply["id"] == ping);
        assert_eq!(pongs.len(), 1, "{}: {replies:?}", case.name);
        assert!(pongs[0]["result"].is_object(), "{}: {replies:?}", case.name);
        if let Some(code) = case.code {
            let error = errors.first().unwrap_or_else(|| panic!("{}: {replies:?}", case.name));
            assert_eq!(error["error"]["code"], code, "{}: {error}", case.name);
            assert_eq!(error["id"], case.id, "{}: {error}", case.name);
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One malformed message and what it must get: an error with this code and id, or (`None`) no
/// reply at all.
struct Case {
    name: String,
    bytes: Vec<u8>,
    code: Option<i64>,
    id: Value,
}

fn tool_call(id: u64, name: &str, arguments: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{arguments}}}}}"#
    )
}

/// Every tool with every string parameter given.
fn tools() -> Vec<(&'static str, Value)> {
    vec![
        (
            "store_memory",
            json!({"project": "app", "content": "c", "tags": "t", "source": "s", "supersedes": "x"}),
        ),
        (
            "store_batch",
            json!({"project": "app", "memories": [{"content": "c", "tags": ["t"], "source": "s", "supersedes": "x"}]}),
        ),
        (
            "search_memories",
            json!({"project": "app", "query": "q", "tags": ["t"], "mode": "probe", "after": "2020-01-01",
                "before": "2030-01-01", "output": "json", "projects": ["b"], "source": "s"}),
        ),
        ("expand_memories", json!({"project": "app", "memory_ids": ["x"], "output": "text"})),
        (
            "update_memory",
            json!({"project": "app", "memory_id": "x", "content": "c", "tags": "t", "source": "s"}),
        ),
        (
            "retag_memory",
            json!({"project": "app", "memory_id": "x", "add_tags": "a", "remove_tags": ["r"], "set_tags": "s"}),
        ),
        ("delete_memory", json!({"project": "app", "memory_id": "x"})),
        ("list_topics", json!({"project": "app"})),
        ("prune_stale", json!({"project": "app"})),
        (
            "init_project",
            json!({"project_name": "app", "watch_paths": ["/tmp"], "watch_patterns": ["*.md"], "watch_exclude": ["x"]}),
        ),
        ("index_files", json!({"project": "app"})),
        ("index_status", json!({"project": "app"})),
    ]
}

/// Paths (JSON pointers) of every string in `value`.
fn strings(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::String(_) => out.push(at),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| strings(v, format!("{at}/{i}"), out));
        }
        Value::Object(map) => map.iter().for_each(|(k, v)| strings(v, format!("{at}/{k}"), out)),
        _ => {}
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut id = 1000;
    let mut add = |name: String, bytes: Vec<u8>, code: i64, with_id: bool| {
        id += 1;
        let bytes = String::from_utf8_lossy(&bytes).replace("@ID@", &id.to_string());
        let mut bytes = bytes.into_bytes();
        // Invalid UTF-8 is spelled as a marker until here.
        while let Some(at) = bytes.windows(4).position(|w| w == b"@FF@") {
            bytes.splice(at..at + 4, [0xff, 0xfe]);
        }
        let id = if with_id { json!(id) } else { Value::Null };
        cases.push(Case { name, bytes, code: Some(code), id });
    };
    let call = |name: &str, arguments: &str| tool_call(0, name, arguments).replace(":0,", ":@ID@,");

    add(
        "invalid UTF-8".into(),
        call("search_memories", r#"{"project":"app","query":"@FF@"}"#).into(),
        PARSE_ERROR,
        true,
    );
    add("invalid UTF-8, no id".into(), b"@FF@ not json".to_vec(), PARSE_ERROR, false);
    for (tool, arguments) in tools() {
        let mut paths = Vec::new();
        strings(&arguments, String::new(), &mut paths);
        for path in paths {
            let mut arguments = arguments.clone();
            *arguments.pointer_mut(&path).expect("path") = json!("@SURROGATE@");
            let text = arguments.to_string().replace("\"@SURROGATE@\"", r#""\ud800""#);
            add(
                format!("lone surrogate in {tool} {path}"),
                call(tool, &text).into(),
                PARSE_ERROR,
                true,
            );
        }
    }
    add("lone surrogate as the tool".into(), call(r"\udc00", "{}").into(), PARSE_ERROR, true);
    for depth in [200, 5_000] {
        let deep = format!(
            r#"{{"project":"app","query":"q","tags":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        add(
            format!("nested {depth} deep"),
            call("search_memories", &deep).into(),
            PARSE_ERROR,
            true,
        );
    }
    let huge = format!(r#"{{"project":"app","content":"{}","tags":"t"}}"#, "x".repeat(10_000_000));
    add("a 10 MB line".into(), call("store_memory", &huge).into(), PARSE_ERROR, true);
    for arguments in [r#""{}""#, "[1]", "5", "true"] {
        add(
            format!("arguments {arguments}"),
            call("list_topics", arguments).into(),
            INVALID_PARAMS,
            true,
        );
    }
    let request = |rest: &str| format!(r#"{{"jsonrpc":"2.0","id":@ID@,{rest}}}"#).into_bytes();
    add(
        "a number as the name".into(),
        request(r#""method":"tools/call","params":{"name":5}"#),
        INVALID_PARAMS,
        true,
    );
    add(
        "params an array".into(),
        request(r#""method":"tools/list","params":[1]"#),
        INVALID_PARAMS,
        true,
    );
    add("no jsonrpc".into(), br#"{"id":@ID@,"method":"ping"}"#.to_vec(), INVALID_REQUEST, true);
    add(
        "a batch".into(),
        br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#.to_vec(),
        INVALID_REQUEST,
        false,
    );
    add("not an object".into(), b"42".to_vec(), INVALID_REQUEST, false);
    cases.push(Case {
        name: "a bad notification".into(),
        bytes: br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1]}"#.to_vec(),
        code: None,
        id: Value::Null,
    });
    cases
}

/// Every case on a line peer, then a real call in the same session.
fn run_cases(peer: &mut Peer) {
    let cases = cases();
    assert!(cases.len() > 50, "{}", cases.len());
    for case in &cases {
        peer.expect(case);
    }
    let (stored, failed) = peer.call(
        "store_memory",
        json!({"project": "app", "content": "Malformed input leaves the session usable.", "tags": ["t"]}),
    );
    assert!(!failed && stored.starts_with("Stored memory"), "{stored}");
}

#[test]
fn malformed_lines_at_the_sidecar_get_one_error_each_and_the_session_carries_on() {
    let home = Home::new();
    let mut sidecar = Peer::sidecar(&home, home.path());
    run_cases(&mut sidecar);
    let child = sidecar.child.as_mut().expect("child");
    assert!(child.try_wait().expect("wait").is_none(), "the sidecar is still running");
}

#[test]
fn malformed_lines_on_the_owner_socket_get_one_error_each_and_the_session_carries_on() {
    let home = Home::new();
    // The sidecar starts the owner; the raw client bypasses the sidecar's own check.
    let _sidecar = Peer::sidecar(&home, home.path());
    let mut raw = Peer::socket(&home);
    run_cases(&mut raw);
}

/// One POST to `/mcp` with any bytes: (status, session header, body).
fn post(address: &str, token: &str, session: Option<&str>, body: &[u8]) -> (u16, String, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let session = session.map(|s| format!("Mcp-Session-Id: {s}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n{session}\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    // The server may answer (and close) before taking all of a body it refuses.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let session = head
        .lines()
        .find_map(|line| line.strip_prefix("mcp-session-id: "))
        .unwrap_or_default()
        .to_owned();
    (status, session, body.to_owned())
}

/// The JSON-RPC message in a response body, plain or as server-sent events.
fn message(body: &str) -> Value {
    if let Ok(message) = serde_json::from_str(body) {
        return message;
    }
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {body:?}"))
}

struct Http {
    address: String,
    token: String,
    session: String,
}

impl Http {
    fn connect(home: &Home) -> Self {
        let address = home.wait_for(annal::http::ADDRESS_FILE);
        let token = home.wait_for(annal::http::TOKEN_FILE);
        let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        let (status, session, body) =
            post(&address, &token, None, initialize.to_string().as_bytes());
        assert_eq!(status, 200, "{body}");
        assert!(!session.is_empty(), "a session id");
        let http = Self { address, token, session };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(http.post(initialized.to_string().as_bytes()).0, 202);
        http
    }

    fn post(&self, body: &[u8]) -> (u16, String) {
        let (status, _, body) = post(&self.address, &self.token, Some(&self.session), body);
        (status, body)
    }

    fn call(&self, tool: &str, arguments: Value) -> (String, bool) {
        let request = json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}});
        let (status, body) = self.post(request.to_string().as_bytes());
        assert_eq!(status, 200, "{body}");
        let answer = message(&body);
        let text = answer["result"]["content"][0]["text"].as_str().unwrap_or_default();
        (text.to_owned(), answer["result"]["isError"] == true)
    }
}

#[test]
fn malformed_bodies_over_http_get_one_json_rpc_error_each_and_the_session_carries_on() {
    let home = Home::new();
    let _sidecar = Peer::sidecar(&home, home.path());
    let http = Http::connect(&home);
    for case in cases() {
        let (status, body) = http.post(&case.bytes);
        let Some(code) = case.code else {
            // HTTP answers every POST; a notification it cannot take is a 400.
            assert_eq!(status, 400, "{}: {body}", case.name);
            continue;
        };
        let expected_status = if case.name == "a 10 MB line" { 413 } else { 400 };
        assert_eq!(status, expected_status, "{}: {body}", case.name);
        let error = message(&body);
        assert_eq!(error["error"]["code"], code, "{}: {error}", case.name);
        assert_eq!(error["id"], case.id, "{}: {error}", case.name);
    }
    let (stored, failed) = http.call(
        "store_memory",
        json!({"project": "app", "content": "HTTP sessions survive malformed bodies.", "tags": ["t"]}),
    );
    assert!(!failed && stored.starts_with("Stored memory"), "{stored}");
}

/// The issue's case: the first sidecar's directory became the owner's, so every agent's
/// relative paths landed there.
#[test]
fn relative_watch_paths_resolve_in_each_agents_own_directory() {
    let home = Home::new();
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    for dir in &dirs {
        std::fs::create_dir(dir.path().join("docs")).expect("docs");
    }
    let docs = |i: usize| dirs[i].path().join("docs").canonicalize().expect("canonical");
    let mut agents: Vec<Peer> = dirs.iter().map(|dir| Peer::sidecar(&home, dir.path())).collect();
    let init = |agent: &mut Peer, project: &str| {
        let (text, failed) =
            agent.call("init_project", json!({"project_name": project, "watch_paths": "docs"}));
        assert!(!failed, "{text}");
        text
    };
    for round in 0..2 {
        if round == 1 {
            // The next owner is started by whichever sidecar reconnects first; each sidecar's
            // hello tells it that sidecar's directory again.
            home.stop_owner();
        }
        for (i, agent) in agents.iter_mut().enumerate() {
            let text = init(agent, &format!("p{i}-{round}"));
            assert!(text.contains(&format!("[{}]", docs(i).display())), "agent {i}: {text}");
        }
    }
    let config = std::fs::read_to_string(home.path().join("config.yaml")).expect("config");
    let config = annal::config::Config::parse(&config, Path::new("config.yaml")).expect("parse");
    for (name, project) in &config.projects {
        let i: usize = name.as_str()[1..2].parse().expect("index");
        assert_eq!(project.watch_paths, [docs(i)], "{name}");
    }
    assert_eq!(config.projects.len(), 4);

    // Where the working directory is unknown, relative paths are refused, naming the path.
    let refused = |(text, failed): (String, bool)| {
        assert!(failed && text.contains("watch path docs is relative"), "{text}");
    };
    let mut raw = Peer::socket(&home);
    refused(raw.call("init_project", json!({"project_name": "raw", "watch_paths": ["docs"]})));
    let http = Http::connect(&home);
    refused(http.call("init_project", json!({"project_name": "web", "watch_paths": ["docs"]})));
    let (text, failed) = http.call(
        "init_project",
        json!({"project_name": "web", "watch_paths": [dirs[0].path().join("docs")]}),
    );
    assert!(!failed, "absolute paths still work over HTTP: {text}");
}

#[test]
fn rejected_values_are_quoted_short() {
    let home = Home::new();
    let mut agent = Peer::sidecar(&home, home.path());
    let big = "x".repeat(2 * 1024 * 1024);
    let calls = [
        ("store_memory", json!({"project": big, "content": "c", "tags": "t"})),
        ("store_memory", json!({"project": "app", "content": "c", "tags": [big]})),
        ("store_memory", json!({"project": "app", "content": "c", "tags": "t", "supersedes": big})),
        ("delete_memory", json!({"project": "app", "memory_id": big})),
        ("search_memories", json!({"project": "app", "query": "q", "limit": big})),
        ("search_memories", json!({"project": "app", "query": "q", "mode": big})),
        ("expand_memories", json!({"project": "app", "memory_ids": [big], "output": big})),
    ];
    for (tool, arguments) in calls {
        let id = agent.next_id;
        agent.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}});
        agent.send(request.to_string());
        let line = agent.next_line();
        let reply: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(reply["id"], id);
        let refused = reply["result"]["isError"] == true || reply["error"].is_object();
        assert!(refused, "{tool}: {}", &line[..line.len().min(500)]);
        assert!(line.len() < 1024, "{tool}: a {} byte reply: {}", line.len(), &line[..500]);
        assert!(line.contains("2097152 bytes"), "{tool}: the size is stated: {line}");
    }
}
