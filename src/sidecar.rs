//! The stdio sidecar (`annal` with no arguments): what agents spawn. It relays bytes between
//! the agent's stdio and the owner's socket, starting an owner when none runs. It opens
//! neither the database nor the model, so it answers at once.
//!
//! If the owner goes away mid-session (crash, restart, the desktop app taking over), the
//! sidecar reconnects, replays the agent's `initialize` handshake (dropping the replayed
//! answer), resends requests that had no answer yet, and carries on.
//!
//! Whatever the agent sends, the sidecar keeps the session: stdin is read as bytes, and a
//! line the owner could not serve (undecodable, oversized, malformed) is answered here with a
//! JSON-RPC error ([`crate::jsonrpc`]). Each connection starts with a hello that tells the
//! owner the agent's working directory, which relative watch paths are taken from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::jsonrpc::{self, Collected, LineReader, Verdict};
use crate::owner::{hello_line, socket_path};

/// How long to wait for an owner to come up.
const OWNER_START: Duration = Duration::from_secs(30);
/// Connections lost in a row with no answer in between before the requests in flight are
/// answered with an error instead of being resent: a request that brings every owner down must
/// not bring them down forever.
const MAX_LOSSES: u32 = 3;
/// Minutes a sidecar-started owner lingers without clients.
pub const IDLE_EXIT_MINUTES: u64 = 10;
pub const LOG_FILE: &str = "annal.log";

#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    #[error("no Annal owner answered on {} within {}s; see {}", .socket.display(), OWNER_START.as_secs(), .log.display())]
    NoOwner { socket: PathBuf, log: PathBuf },
    #[error("cannot start an owner: {0}")]
    Spawn(std::io::Error),
    #[error("stdio failed: {0}")]
    Stdio(std::io::Error),
    #[error("the Annal owner stopped {MAX_LOSSES} times in a row while starting a session; see {}", .log.display())]
    OwnerKeepsFailing { log: PathBuf },
}

/// How to start an owner when none runs.
#[derive(Debug, Clone)]
pub struct Launch {
    pub data_dir: PathBuf,
    /// Extra arguments for `annal serve` (e.g. `--config <file>`).
    pub serve_args: Vec<String>,
}

struct Connection {
    lines: Lines<BufReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
}

/// Connects and says hello (`hello` is [`hello_line`]'s).
async fn connect(socket: &Path, hello: &str) -> Option<Connection> {
    let stream = UnixStream::connect(socket).await.ok()?;
    let (reader, mut writer) = stream.into_split();
    send(&mut writer, hello).await.ok()?;
    Some(Connection { lines: BufReader::new(reader).lines(), writer })
}

/// Starts `annal serve --idle-exit N` detached, its output appended to the log file.
fn spawn_owner(launch: &Launch) -> Result<(), SidecarError> {
    use std::os::unix::process::CommandExt as _;
    crate::private_files::create_dir(&launch.data_dir).map_err(SidecarError::Spawn)?;
    let log = crate::private_files::append(&launch.data_dir.join(LOG_FILE))
        .map_err(SidecarError::Spawn)?;
    let exe = std::env::current_exe().map_err(SidecarError::Spawn)?;
    let mut child = std::process::Command::new(exe)
        .arg("serve")
        .arg("--idle-exit")
        .arg(IDLE_EXIT_MINUTES.to_string())
        .args(&launch.serve_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.try_clone().map_err(SidecarError::Spawn)?)
        // Its own process group: the agent's Ctrl-C must not kill the shared owner.
        .process_group(0)
        .spawn()
        .map_err(SidecarError::Spawn)?;
    // Reap it when it exits so it never lingers as a zombie of this process.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Connects to the owner, starting one if needed, within a deadline.
async fn connect_or_start(launch: &Launch, hello: &str) -> Result<Connection, SidecarError> {
    let socket = socket_path(&launch.data_dir);
    if let Some(connection) = connect(&socket, hello).await {
        return Ok(connection);
    }
    spawn_owner(launch)?;
    let deadline = tokio::time::Instant::now() + OWNER_START;
    // An owner binds its socket within tens of milliseconds (before its vectors load), and the
    // agent waits for `initialize` meanwhile: look often at first, then back off.
    let mut pause = Duration::from_millis(2);
    while tokio::time::Instant::now() < deadline {
        if let Some(connection) = connect(&socket, hello).await {
            return Ok(connection);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    Err(SidecarError::NoOwner { socket, log: launch.data_dir.join(LOG_FILE) })
}

/// Makes sure an owner runs on the data dir, starting one as an agent's sidecar would; for the
/// CLI commands that need one (`annal dashboard`).
pub async fn ensure_owner(launch: &Launch) -> Result<(), SidecarError> {
    connect_or_start(launch, &hello_line(None)).await.map(drop)
}

/// What the relay remembers of the agent's session to replay it on a new connection.
#[derive(Default)]
struct Session {
    initialize: Option<(Value, String)>,
    /// Whether the agent has its `initialize` answer; if not, a replayed one is passed on.
    initialize_answered: bool,
    initialized: Option<String>,
    /// Requests without an answer yet, by id, in the order sent.
    pending: BTreeMap<u64, (String, String)>,
    sent: u64,
}

impl Session {
    fn note_client_line(&mut self, line: &str) {
        let Ok(message) = serde_json::from_str::<Value>(line) else { return };
        let method = message.get("method").and_then(Value::as_str);
        match (method, message.get("id")) {
            (Some("initialize"), Some(id)) => self.initialize = Some((id.clone(), line.to_owned())),
            (Some("notifications/initialized"), None) => self.initialized = Some(line.to_owned()),
            (Some(_), Some(id)) => {
                self.sent += 1;
                self.pending.insert(self.sent, (id.to_string(), line.to_owned()));
            }
            _ => {}
        }
    }

    /// Whether the line answered a request in flight.
    fn note_owner_line(&mut self, line: &str) -> bool {
        let Ok(message) = serde_json::from_str::<Value>(line) else { return false };
        if message.get("method").is_some() {
            return false;
        }
        let Some(id) = message.get("id") else { return false };
        if self.initialize.as_ref().is_some_and(|(initialize, _)| initialize == id) {
            self.initialize_answered = true;
            return true;
        }
        let id = id.to_string();
        let before = self.pending.len();
        self.pending.retain(|_, (pending, _)| *pending != id);
        self.pending.len() < before
    }

    /// Error answers for every request in flight, which are then forgotten.
    fn fail_pending(&mut self, log: &Path) -> Vec<String> {
        let message = format!(
            "the Annal owner stopped {MAX_LOSSES} times in a row while this request was in \
             flight, so it was not sent again; see {}",
            log.display()
        );
        std::mem::take(&mut self.pending)
            .into_values()
            .map(|(id, _)| {
                let id: Value = serde_json::from_str(&id).unwrap_or(Value::Null);
                serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": id,
                    "error": { "code": -32603, "message": message },
                })
                .to_string()
            })
            .collect()
    }
}

/// The relay's state across connections.
struct Relay {
    launch: Launch,
    hello: String,
    session: Session,
    stdout: tokio::io::Stdout,
    /// Connections lost since the owner last answered a request.
    losses: u32,
}

impl Relay {
    async fn tell_agent(&mut self, line: &str) -> Result<(), SidecarError> {
        self.stdout.write_all(line.as_bytes()).await.map_err(SidecarError::Stdio)?;
        self.stdout.write_all(b"\n").await.map_err(SidecarError::Stdio)?;
        self.stdout.flush().await.map_err(SidecarError::Stdio)
    }

    /// Re-establishes the session on a fresh connection after one was lost. After
    /// [`MAX_LOSSES`] losses without an answer the requests in flight get an error instead of
    /// being resent; if the owner still cannot keep a session, the sidecar gives up.
    async fn reconnect(&mut self) -> Result<Connection, SidecarError> {
        let log = self.launch.data_dir.join(LOG_FILE);
        loop {
            self.losses += 1;
            if self.losses >= MAX_LOSSES {
                if self.session.pending.is_empty() {
                    return Err(SidecarError::OwnerKeepsFailing { log });
                }
                for answer in self.session.fail_pending(&log) {
                    self.tell_agent(&answer).await?;
                }
                self.losses = 0;
            }
            let mut connection = connect_or_start(&self.launch, &self.hello).await?;
            if let Some(unanswered) = replay(&mut connection, &self.session).await {
                if let Some(answer) = unanswered {
                    self.session.initialize_answered = true;
                    self.tell_agent(&answer).await?;
                }
                // Nothing left in flight: recovered. (Requests resent count until answered.)
                if self.session.pending.is_empty() {
                    self.losses = 0;
                }
                return Ok(connection);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Replays the handshake and resends the requests in flight. `None` if the connection failed
/// meanwhile; else the `initialize` answer when the agent never got the first one.
async fn replay(connection: &mut Connection, session: &Session) -> Option<Option<String>> {
    let mut unanswered = None;
    if let Some((id, line)) = &session.initialize {
        send(&mut connection.writer, line).await.ok()?;
        loop {
            let answer = connection.lines.next_line().await.ok()??;
            let message: Value = serde_json::from_str(&answer).ok()?;
            if message.get("id") == Some(id) && message.get("method").is_none() {
                // Dropped when the agent already has one: it must not see two.
                unanswered = (!session.initialize_answered).then_some(answer);
                break;
            }
        }
    }
    if let Some(line) = &session.initialized {
        send(&mut connection.writer, line).await.ok()?;
    }
    for (_, line) in session.pending.values() {
        send(&mut connection.writer, line).await.ok()?;
    }
    Some(unanswered)
}

async fn send(writer: &mut OwnedWriteHalf, line: &str) -> std::io::Result<()> {
    writer.write_all(line.as_bytes()).await?;
    writer.write_all(b"\n").await?;
    writer.flush().await
}

/// What becomes of a line from the agent.
enum FromAgent {
    Relay(String),
    /// Answered here: the owner could not have served it.
    Answer(String),
    Drop,
}

fn screen(line: Collected) -> FromAgent {
    let line = match line {
        Collected::Whole(line) => line,
        Collected::Oversized(refusal) => return FromAgent::Answer(refusal.to_json()),
    };
    if jsonrpc::is_blank(&line) {
        return FromAgent::Drop;
    }
    match jsonrpc::check(&line) {
        Verdict::Answer(refusal) => FromAgent::Answer(refusal.to_json()),
        Verdict::Ignore(_) => FromAgent::Drop,
        // It parsed as JSON, so it is UTF-8.
        Verdict::Serve => match String::from_utf8(jsonrpc::content(&line).to_vec()) {
            Ok(line) => FromAgent::Relay(line),
            Err(_) => FromAgent::Drop,
        },
    }
}

/// Relays the process's stdio to the owner until stdin closes.
pub async fn run(launch: Launch) -> Result<(), SidecarError> {
    let mut stdin = LineReader::new(tokio::io::stdin());
    let hello = hello_line(std::env::current_dir().ok().as_deref());
    let mut connection = connect_or_start(&launch, &hello).await?;
    let mut relay = Relay {
        launch,
        hello,
        session: Session::default(),
        stdout: tokio::io::stdout(),
        losses: 0,
    };
    loop {
        tokio::select! {
            line = stdin.next() => {
                let Some(line) = line.map_err(SidecarError::Stdio)? else { return Ok(()) };
                match screen(line) {
                    FromAgent::Relay(line) => {
                        relay.session.note_client_line(&line);
                        if send(&mut connection.writer, &line).await.is_err() {
                            // The request is pending, so the replay resends it.
                            connection = relay.reconnect().await?;
                        }
                    }
                    FromAgent::Answer(answer) => relay.tell_agent(&answer).await?,
                    FromAgent::Drop => {}
                }
            }
            line = connection.lines.next_line() => match line {
                Ok(Some(line)) => {
                    if relay.session.note_owner_line(&line) {
                        relay.losses = 0;
                    }
                    relay.tell_agent(&line).await?;
                }
                Ok(None) | Err(_) => {
                    tracing::info!("owner connection lost; reconnecting");
                    connection = relay.reconnect().await?;
                }
            }
        }
    }
}
