//! Shared helpers: the model, temp data dirs, and a store over them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use annal::embed::{EmbedError, EmbedService, Embedder, MiniLm, ModelSearch};
use annal::events::EventBus;
use annal::memories::Memories;
use annal::store::{Store, StoreOutcome};
use tempfile::TempDir;

/// The model fetched by `scripts/fetch-model.sh` (or wherever ANNAL_MODEL_DIR points).
pub fn model_dir() -> PathBuf {
    std::env::var_os("ANNAL_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("models").join("all-MiniLM-L6-v2"))
}

pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One embedding service for the whole test binary: the model loads once.
pub fn embedder() -> EmbedService {
    static SERVICE: OnceLock<EmbedService> = OnceLock::new();
    SERVICE
        .get_or_init(|| {
            EmbedService::minilm(ModelSearch { env_dir: Some(model_dir()), ..Default::default() })
        })
        .clone()
}

/// A pool over a fresh `ANNAL_HOME` (config and data under `home`).
pub async fn open_pool(home: &std::path::Path) -> Arc<annal::pool::Pool> {
    open_pool_with(home, embedder()).await
}

/// [`open_pool`] with an embedding service of the test's own.
pub async fn open_pool_with(
    home: &std::path::Path,
    embedder: EmbedService,
) -> Arc<annal::pool::Pool> {
    let paths =
        annal::config::PathInputs { annal_home: Some(home.to_path_buf()), ..Default::default() }
            .resolve()
            .expect("paths");
    let config = annal::config::ConfigFile::load(paths).expect("config");
    let data_dir = config.snapshot().data_dir(config.paths());
    let lock = annal::owner_lock::OwnerLock::acquire(&data_dir, annal::owner_lock::Role::Headless)
        .expect("the owner lock");
    annal::pool::Pool::open(config, embedder, lock).await.expect("pool")
}

/// Text that makes [`panicking_embedder`]'s model panic.
pub const PANIC_TRIGGER: &str = "PANIC-IN-THE-MODEL";

/// The real model, except that it panics on any batch holding [`PANIC_TRIGGER`].
struct Panicking(MiniLm);

impl Embedder for Panicking {
    fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.iter().any(|t| t.contains(PANIC_TRIGGER)) {
            panic!("the test model met {PANIC_TRIGGER}");
        }
        self.0.embed(texts)
    }
}

/// A service over [`Panicking`], and how many times it has loaded the model.
pub fn panicking_embedder() -> (EmbedService, Arc<AtomicUsize>) {
    let loads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&loads);
    let service = EmbedService::start(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(Panicking(MiniLm::load(&model_dir())?))
    });
    (service, loads)
}

/// A fresh data dir with a store and the memory operations over it.
pub struct Fixture {
    pub dir: TempDir,
    pub store: Store,
    pub memories: Memories,
}

impl Fixture {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).await.expect("open store");
        let events = EventBus::open(store.clone()).await.expect("events");
        let memories = Memories::new(store.clone(), embedder(), events);
        Self { dir, store, memories }
    }
}

pub fn tags(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

pub fn assert_err_contains<T: std::fmt::Debug, E: std::fmt::Display>(
    result: Result<T, E>,
    needle: &str,
) {
    match result {
        Ok(value) => panic!("expected an error containing {needle:?}, got Ok({value:?})"),
        Err(err) => {
            let text = err.to_string();
            assert!(text.contains(needle), "error {text:?} does not contain {needle:?}");
        }
    }
}

/// Unwraps the id of a memory that `remember` stored (not skipped as a duplicate).
pub trait Stored {
    fn stored(self, what: &str) -> String;
}

impl<E: std::fmt::Debug> Stored for Result<StoreOutcome, E> {
    fn stored(self, what: &str) -> String {
        match self {
            Ok(StoreOutcome::Stored { id, .. }) => id,
            other => panic!("{what}: expected a stored memory, got {other:?}"),
        }
    }
}

/// One HTTP/1.1 request over a fresh connection: (status, body). Blocking; call it from
/// `spawn_blocking` in async tests.
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_response(address, method, path, headers, body);
    (status, body)
}

/// Like [`http`], with the response's header lines (lower-cased names) too.
pub fn http_response(
    address: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// Points every place a child program may take for a home (HOME, the XDG dirs, the model
/// caches, Annal's own) into `home`, so no test reads or writes the real one.
pub fn isolate<'a>(
    command: &'a mut std::process::Command,
    home: &std::path::Path,
) -> &'a mut std::process::Command {
    command
        .env("ANNAL_HOME", home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("HF_HOME", home.join(".cache/huggingface"))
        .env("HF_HUB_CACHE", home.join(".cache/huggingface/hub"))
        .env_remove("ANNAL_CONFIG")
}

/// Polls `condition` until it holds; panics naming `what` after `limit`. The one deadline loop
/// of the tests: never a fixed sleep.
pub fn wait_until(what: &str, limit: std::time::Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
