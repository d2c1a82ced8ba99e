//! The owner process (`annal serve`): holds the data-dir lock and the one pool, and serves MCP
//! on the local socket to every sidecar. Exactly one owner per data dir: the lock makes a
//! second one exit with a message naming the first.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rmcp::ServiceExt as _;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, ConfigFile};
use crate::embed::{EmbedService, ModelSearch};
use crate::http;
use crate::mcp::AnnalServer;
use crate::pool::{Pool, PoolError};

const LOCK_FILE: &str = "owner.lock";
const SOCKET_FILE: &str = "annal.sock";
/// Unix socket paths are limited to 108 bytes; stay clear of it.
const MAX_SOCKET_PATH: usize = 100;
/// How long in-flight sessions get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error("another Annal owner (pid {pid}) is running on {}; stop it first", .data_dir.display())]
    Busy { pid: String, data_dir: PathBuf },
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

/// The exclusive lock on a data dir, held for the owner's lifetime (released on exit, even a
/// crash: it is an OS file lock). The file holds the owner's pid for the error message.
#[derive(Debug)]
pub struct OwnerLock {
    _file: File,
}

impl OwnerLock {
    pub fn acquire(data_dir: &Path) -> Result<Self, OwnerError> {
        std::fs::create_dir_all(data_dir).map_err(io("cannot create data dir", data_dir))?;
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("cannot open lock file", &path))?;
        if file.try_lock().is_err() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return Err(OwnerError::Busy {
                pid: pid.trim().to_owned(),
                data_dir: data_dir.to_path_buf(),
            });
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .map_err(io("cannot write lock file", &path))?;
        write!(file, "{}", std::process::id()).map_err(io("cannot write lock file", &path))?;
        file.sync_all().map_err(io("cannot write lock file", &path))?;
        Ok(Self { _file: file })
    }
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

/// The owner's pid as written in the lock file, if any.
pub fn owner_pid(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(data_dir.join(LOCK_FILE)).ok()?.trim().parse().ok()
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
    options: &ServeOptions,
    data_dir: &Path,
    port: u16,
    cancel: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>, OwnerError> {
    let listener = match http::bind(port).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(port, %err, "HTTP endpoint not started");
            return Ok(None);
        }
    };
    let address = data_dir.join(http::ADDRESS_FILE);
    let bound = listener.local_addr().map_err(io("cannot read the address of", &address))?;
    std::fs::write(&address, bound.to_string()).map_err(io("cannot write", &address))?;
    let token_path = data_dir.join(http::TOKEN_FILE);
    let token = http::token(data_dir).map_err(io("cannot create the token", &token_path))?;
    tracing::info!(%bound, "MCP over HTTP at /mcp");
    let (pool, base_dir) = (Arc::clone(pool), options.base_dir.clone());
    Ok(Some(tokio::spawn(async move {
        if let Err(err) = http::serve(pool, base_dir, listener, token, cancel).await {
            tracing::warn!(%err, "HTTP endpoint stopped");
        }
    })))
}

/// How `annal serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Exit after this long without any connected client.
    pub idle_exit: Option<Duration>,
    /// Relative watch paths in `init_project` resolve against this.
    pub base_dir: PathBuf,
}

/// Runs the owner until SIGTERM/SIGINT or the idle timeout: takes the lock, opens the pool,
/// serves MCP on the socket; then stops accepting, lets sessions finish, shuts the pool down.
pub async fn serve(config: ConfigFile, options: ServeOptions) -> Result<(), OwnerError> {
    let data_dir = config.snapshot().data_dir(config.paths());
    let _lock = OwnerLock::acquire(&data_dir)?;
    let search = ModelSearch::from_env(config.snapshot().model_dir.clone(), None, &data_dir);
    let port = config.snapshot().port;
    let pool = Pool::open(config, EmbedService::minilm(search)).await?;
    let socket = socket_path(&data_dir);
    let listener = bind(&socket)?;
    tracing::info!(socket = %socket.display(), pid = std::process::id(), "owner listening");
    let cancel = CancellationToken::new();
    let web = start_http(&pool, &options, &data_dir, port, cancel.clone()).await?;

    let mut terminate =
        signal(SignalKind::terminate()).map_err(io("cannot handle signals for", &socket))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(io("cannot handle signals for", &socket))?;
    let clients = Arc::new(AtomicUsize::new(0));
    let mut sessions = JoinSet::new();
    let mut idle_since = tokio::time::Instant::now();
    loop {
        let idle_deadline = options.idle_exit.map(|after| idle_since + after);
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let server = AnnalServer::new(Arc::clone(&pool), options.base_dir.clone());
                let clients = Arc::clone(&clients);
                clients.fetch_add(1, Ordering::SeqCst);
                sessions.spawn(async move {
                    match server.serve(stream).await {
                        Ok(running) => { let _ = running.waiting().await; }
                        Err(err) => tracing::warn!(%err, "MCP session failed to start"),
                    }
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
                if clients.load(Ordering::SeqCst) == 0 {
                    tracing::info!("no client for the idle timeout; exiting");
                    break;
                }
                idle_since = tokio::time::Instant::now();
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(&socket);
    cancel.cancel();
    if let Some(web) = web {
        let _ = tokio::time::timeout(DRAIN, web).await;
    }
    if tokio::time::timeout(DRAIN, async { while sessions.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        sessions.abort_all();
    }
    pool.shutdown(Duration::from_secs(10)).await;
    tracing::info!("owner stopped");
    Ok(())
}
