//! The stdio sidecar (`annal` with no arguments): what agents spawn. It relays bytes between
//! the agent's stdio and the owner's socket, starting an owner when none runs. It opens
//! neither the database nor the model, so it answers at once.
//!
//! If the owner goes away mid-session (crash, restart, the desktop app taking over), the
//! sidecar reconnects, replays the agent's `initialize` handshake (dropping the replayed
//! answer), resends requests that had no answer yet, and carries on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::owner::socket_path;

/// How long to wait for an owner to come up.
const OWNER_START: Duration = Duration::from_secs(30);
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

async fn connect(socket: &Path) -> Option<Connection> {
    let stream = UnixStream::connect(socket).await.ok()?;
    let (reader, writer) = stream.into_split();
    Some(Connection { lines: BufReader::new(reader).lines(), writer })
}

/// Starts `annal serve --idle-exit N` detached, its output appended to the log file.
fn spawn_owner(launch: &Launch) -> Result<(), SidecarError> {
    use std::os::unix::process::CommandExt as _;
    std::fs::create_dir_all(&launch.data_dir).map_err(SidecarError::Spawn)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(launch.data_dir.join(LOG_FILE))
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
async fn connect_or_start(launch: &Launch) -> Result<Connection, SidecarError> {
    let socket = socket_path(&launch.data_dir);
    if let Some(connection) = connect(&socket).await {
        return Ok(connection);
    }
    spawn_owner(launch)?;
    let deadline = tokio::time::Instant::now() + OWNER_START;
    while tokio::time::Instant::now() < deadline {
        if let Some(connection) = connect(&socket).await {
            return Ok(connection);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(SidecarError::NoOwner { socket, log: launch.data_dir.join(LOG_FILE) })
}

/// What the relay remembers of the agent's session to replay it on a new connection.
#[derive(Default)]
struct Session {
    initialize: Option<(Value, String)>,
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

    fn note_owner_line(&mut self, line: &str) {
        let Ok(message) = serde_json::from_str::<Value>(line) else { return };
        if message.get("method").is_some() {
            return;
        }
        if let Some(id) = message.get("id").map(Value::to_string) {
            self.pending.retain(|_, (pending, _)| *pending != id);
        }
    }
}

/// Re-establishes the session on a fresh connection.
async fn reconnect(launch: &Launch, session: &Session) -> Result<Connection, SidecarError> {
    loop {
        let mut connection = connect_or_start(launch).await?;
        if replay(&mut connection, session).await.is_some() {
            return Ok(connection);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn replay(connection: &mut Connection, session: &Session) -> Option<()> {
    if let Some((id, line)) = &session.initialize {
        send(&mut connection.writer, line).await.ok()?;
        // Drop the replayed answer: the agent already has one.
        loop {
            let answer = connection.lines.next_line().await.ok()??;
            let message: Value = serde_json::from_str(&answer).ok()?;
            if message.get("id") == Some(id) && message.get("method").is_none() {
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
    Some(())
}

async fn send(writer: &mut OwnedWriteHalf, line: &str) -> std::io::Result<()> {
    writer.write_all(line.as_bytes()).await?;
    writer.write_all(b"\n").await?;
    writer.flush().await
}

/// Relays the process's stdio to the owner until stdin closes.
pub async fn run(launch: Launch) -> Result<(), SidecarError> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    let mut session = Session::default();
    let mut connection = connect_or_start(&launch).await?;
    loop {
        tokio::select! {
            line = stdin.next_line() => {
                let Some(line) = line.map_err(SidecarError::Stdio)? else { return Ok(()) };
                session.note_client_line(&line);
                if send(&mut connection.writer, &line).await.is_err() {
                    // The request is pending, so the replay resends it.
                    connection = reconnect(&launch, &session).await?;
                }
            }
            line = connection.lines.next_line() => match line {
                Ok(Some(line)) => {
                    session.note_owner_line(&line);
                    stdout.write_all(line.as_bytes()).await.map_err(SidecarError::Stdio)?;
                    stdout.write_all(b"\n").await.map_err(SidecarError::Stdio)?;
                    stdout.flush().await.map_err(SidecarError::Stdio)?;
                }
                Ok(None) | Err(_) => {
                    tracing::info!("owner connection lost; reconnecting");
                    connection = reconnect(&launch, &session).await?;
                }
            }
        }
    }
}
