//! The owner: holds the data-dir lock and the one pool, and serves MCP on the local socket to
//! every sidecar and on HTTP. Exactly one owner per data dir: the lock makes a second one exit
//! with a message naming the first. The owner is the headless `annal serve` or the desktop app;
//! the desktop app takes over from a headless owner by asking it to drain and exit.

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, ConfigFile};
use crate::embed::{EmbedService, ModelSearch};
use crate::http;
use crate::owner_lock::{Handover, LockError, process};
use crate::pool::{Pool, PoolError};

pub use crate::owner_lock::{OwnerLock, Role, current_owner};

mod session;

pub use session::hello_line;

const SOCKET_FILE: &str = "annal.sock";
/// Unix socket paths are limited to 108 bytes; stay clear of it.
const MAX_SOCKET_PATH: usize = 100;
/// How long in-flight sessions get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("the Annal owner (pid {pid}) on {} did not exit within {waited:?} of being asked to", .data_dir.display())]
    DidNotExit { pid: u32, data_dir: PathBuf, waited: Duration },
    #[error("{what} {}: {source}", .path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Pool(#[from] PoolError),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OwnerError + use<> {
    let path = path.to_path_buf();
    move |source| OwnerError::Io { what, path, source }
}

/// The `annal` binary agents start, which Connect writes into their configs: this process
/// when it is `annal`, else (the desktop app) the sidecar installed beside it.
pub fn sidecar_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("annal"));
    let name = if cfg!(windows) { "annal.exe" } else { "annal" };
    if exe.file_name().is_some_and(|n| n == name) { exe } else { exe.with_file_name(name) }
}

/// Where the owner of `data_dir` listens: `<data_dir>/run/annal.sock`, or — when that path is
/// too long for a Unix socket — a per-data-dir folder under the temp dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    let preferred = data_dir.join("run").join(SOCKET_FILE);
    if preferred.as_os_str().len() <= MAX_SOCKET_PATH {
        return preferred;
    }
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    std::env::temp_dir().join(format!("annal-{:016x}", hasher.finish())).join(SOCKET_FILE)
}

/// Takes the lock for the desktop app. A headless owner holding it is asked to drain and exit
/// (SIGTERM, which it handles by finishing in-flight calls); another desktop app is not.
pub async fn take_over(data_dir: &Path, wait: Duration) -> Result<OwnerLock, OwnerError> {
    let busy = match OwnerLock::acquire(data_dir, Role::Desktop) {
        Err(busy @ LockError::Busy { .. }) => busy,
        other => return Ok(other?),
    };
    let Some((pid, Role::Headless)) = current_owner(data_dir) else { return Err(busy.into()) };
    let Some(headless) = process(pid) else { return Err(busy.into()) };
    let _handover = Handover::mark(data_dir)?;
    tracing::info!(pid, "asking the headless owner to hand over");
    if rustix::process::kill_process(headless, rustix::process::Signal::TERM).is_err() {
        return Err(busy.into());
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match OwnerLock::acquire(data_dir, Role::Desktop) {
            Err(LockError::Busy { .. }) if tokio::time::Instant::now() < deadline => {
                // Its sidecars reconnect meanwhile; owners they start see the marker and
                // step aside, so the lock comes to us.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(LockError::Busy { .. }) => {
                return Err(OwnerError::DidNotExit {
                    pid,
                    data_dir: data_dir.to_path_buf(),
                    waited: wait,
                });
            }
            other => return Ok(other?),
        }
    }
}

fn bind(socket: &Path) -> Result<UnixListener, OwnerError> {
    let dir = socket.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("cannot create socket dir", dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io("cannot secure socket dir", dir))?;
    // We hold the lock, so a socket file left here belongs to a dead owner.
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io("cannot remove stale socket", socket)(err)),
    }
    let listener = UnixListener::bind(socket).map_err(io("cannot listen on", socket))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io("cannot secure socket", socket))?;
    Ok(listener)
}

/// Starts MCP over HTTP on the loopback port. A port already in use is logged, not fatal:
/// agents reach the owner through the socket either way.
async fn start_http(
    pool: &Arc<Pool>,
    data_dir: &Path,
    port: u16,
    activity: Arc<http::Activity>,
    owner: Arc<http::OwnerInfo>,
    cancel: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>, OwnerError> {
    let listener = match http::bind(port).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(port, %err, "HTTP endpoint not started");
            return Ok(None);
        }
    };
    // The token exists before the address is written: clients take the address as the sign
    // that the endpoint is ready, and must not race the owner to create the token.
    let token_path = data_dir.join(http::TOKEN_FILE);
    let token = http::token(data_dir).map_err(io("cannot create the token", &token_path))?;
    let address = data_dir.join(http::ADDRESS_FILE);
    let bound = listener.local_addr().map_err(io("cannot read the address of", &address))?;
    crate::private_files::write(&address, bound.to_string().as_bytes())
        .map_err(io("cannot write", &address))?;
    tracing::info!(%bound, "MCP over HTTP at /mcp");
    let pool = Arc::clone(pool);
    Ok(Some(tokio::spawn(async move {
        if let Err(err) = http::serve(pool, listener, token, activity, owner, cancel).await {
            tracing::warn!(%err, "HTTP endpoint stopped");
        }
    })))
}

/// The idle check's shortest interval, so a zero timeout with a client present does not spin.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// How an owner serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Exit after this long without any connected client (socket sessions, HTTP requests in
    /// flight or recently ended).
    pub idle_exit: Option<Duration>,
}

/// The owner of a data dir: the one pool, which holds the lock (released when the pool goes).
#[derive(Debug)]
pub struct Owner {
    data_dir: PathBuf,
    pool: Arc<Pool>,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl Owner {
    /// Opens the pool under a lock already taken (by [`OwnerLock::acquire`] or [`take_over`]).
    pub async fn open(config: ConfigFile, lock: OwnerLock) -> Result<Self, OwnerError> {
        let data_dir = config.snapshot().data_dir(config.paths());
        let search = ModelSearch::from_env(config.snapshot().model_dir.clone(), &data_dir);
        let pool = Pool::open(config, EmbedService::minilm(search), lock).await?;
        Ok(Self { data_dir, pool, started_at: chrono::Utc::now() })
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Serves MCP on the socket and MCP + dashboard on HTTP until `stop` fires or, with
    /// `idle_exit`, no client has been connected for that long; then stops accepting and lets
    /// sessions finish. The pool stays open: [`Owner::shutdown`] closes it.
    pub async fn serve(
        &self,
        options: &ServeOptions,
        stop: CancellationToken,
    ) -> Result<(), OwnerError> {
        let socket = socket_path(&self.data_dir);
        let listener = bind(&socket)?;
        tracing::info!(socket = %socket.display(), pid = std::process::id(), "owner listening");
        let web_stop = CancellationToken::new();
        let port = self.pool.config().snapshot().port;
        let web_activity = Arc::new(http::Activity::default());
        let clients = Arc::new(AtomicUsize::new(0));
        let role = current_owner(&self.data_dir).map_or(Role::Headless, |(_, role)| role);
        let info = Arc::new(http::OwnerInfo {
            role,
            started_at: self.started_at,
            socket: socket.clone(),
            sessions: Arc::clone(&clients),
        });
        let web = start_http(
            &self.pool,
            &self.data_dir,
            port,
            Arc::clone(&web_activity),
            info,
            web_stop.clone(),
        )
        .await?;
        let mut sessions = JoinSet::new();
        // Ends every socket session when serving stops: rmcp then sends the answers of calls in
        // flight and closes, so idle sidecars do not hold the owner up (they reconnect to the
        // next owner).
        let end_sessions = CancellationToken::new();
        let mut idle_since = tokio::time::Instant::now();
        loop {
            let idle_deadline = options.idle_exit.map(|after| idle_since + after.max(IDLE_POLL));
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let pool = Arc::clone(&self.pool);
                    let clients = Arc::clone(&clients);
                    clients.fetch_add(1, Ordering::SeqCst);
                    let end = end_sessions.child_token();
                    sessions.spawn(async move {
                        session::serve(stream, pool, end).await;
                        clients.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {
                    if clients.load(Ordering::SeqCst) == 0 {
                        idle_since = tokio::time::Instant::now();
                    }
                }
                () = async {
                    match idle_deadline {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let now = tokio::time::Instant::now();
                    // HTTP clients hold no connection: count their requests instead.
                    let quiet_since = match web_activity.quiet_since() {
                        Some(ended) => idle_since.max(ended),
                        None => now,
                    };
                    let idle = options.idle_exit.is_some_and(|after| quiet_since + after <= now);
                    if clients.load(Ordering::SeqCst) == 0 && idle {
                        tracing::info!("no client for the idle timeout; exiting");
                        break;
                    }
                    idle_since = if clients.load(Ordering::SeqCst) == 0 { quiet_since } else { now };
                }
                () = stop.cancelled() => break,
            }
        }
        drop(listener);
        let _ = std::fs::remove_file(&socket);
        end_sessions.cancel();
        web_stop.cancel();
        if let Some(web) = web {
            let _ = tokio::time::timeout(DRAIN, web).await;
        }
        if tokio::time::timeout(DRAIN, async { while sessions.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            sessions.abort_all();
        }
        Ok(())
    }

    /// Stops watchers, waits for in-flight indexing (bounded), closes the stores; then the
    /// lock is released.
    pub async fn shutdown(self) {
        self.pool.shutdown(Duration::from_secs(10)).await;
        tracing::info!("owner stopped");
    }
}

/// How long a headless owner waits for the lock of one that is stopping; less than a
/// sidecar waits for an owner to come up.
const STOPPING_WAIT: Duration = Duration::from_secs(25);

/// Takes the lock for `annal serve`. A holder that listens on no socket is starting or
/// stopping: an owner exiting (idle, SIGTERM, a lost database) closes its sessions before its
/// pool, so the sidecars reconnecting start their next owner while it still holds the lock.
/// That one waits, bounded, instead of leaving them with no owner at all.
async fn acquire_headless(data_dir: &Path) -> Result<OwnerLock, OwnerError> {
    let deadline = tokio::time::Instant::now() + STOPPING_WAIT;
    loop {
        match OwnerLock::acquire(data_dir, Role::Headless) {
            Err(LockError::Busy { .. })
                if !socket_path(data_dir).exists() && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// `annal serve`: the headless owner, until SIGTERM/SIGINT, the idle timeout, or the loss of
/// its database file.
pub async fn serve(config: ConfigFile, options: ServeOptions) -> Result<(), OwnerError> {
    let data_dir = config.snapshot().data_dir(config.paths());
    let lock = acquire_headless(&data_dir).await?;
    let owner = Owner::open(config, lock).await?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(io("cannot handle signals in", &data_dir))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(io("cannot handle signals in", &data_dir))?;
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        on_signal.cancel();
    });
    // With its database file deleted or replaced, an owner can only refuse writes: exit, so
    // the next sidecar starts one that opens the file now at that path.
    let lost = owner.pool().database_lost();
    let on_loss = stop.clone();
    tokio::spawn(async move {
        let error = lost.await;
        tracing::error!(%error, "exiting");
        on_loss.cancel();
    });
    let served = owner.serve(&options, stop).await;
    let lost = owner.pool().database_lost_now();
    owner.shutdown().await;
    served?;
    lost.map_or(Ok(()), |error| Err(PoolError::Store(error).into()))
}
