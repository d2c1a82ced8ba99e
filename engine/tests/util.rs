//! Shared helpers of the engine's tests and `annal`'s (which include this file): the model,
//! temp data dirs, a store and a pool over them, and the one deadline loop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use annal_engine::embed::{EmbedError, EmbedService, Embedder, MiniLm, ModelSearch};
use annal_engine::events::EventBus;
use annal_engine::memories::Memories;
use annal_engine::store::{Store, StoreOutcome};
use tempfile::TempDir;

#[path = "common/support.rs"]
mod support;

pub use support::{model_dir, unit_vector, workspace_dir};

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
pub async fn open_pool(home: &std::path::Path) -> Arc<annal_engine::pool::Pool> {
    open_pool_with(home, embedder()).await
}

/// [`open_pool`] with an embedding service of the test's own.
pub async fn open_pool_with(
    home: &std::path::Path,
    embedder: EmbedService,
) -> Arc<annal_engine::pool::Pool> {
    let paths = annal_engine::config::PathInputs {
        annal_home: Some(home.to_path_buf()),
        ..Default::default()
    }
    .resolve()
    .expect("paths");
    let config = annal_engine::config::ConfigFile::load(paths).expect("config");
    let data_dir = config.snapshot().data_dir(config.paths());
    let lock = annal_engine::owner_lock::OwnerLock::acquire(
        &data_dir,
        annal_engine::owner_lock::Role::Headless,
    )
    .expect("the owner lock");
    annal_engine::pool::Pool::open(config, embedder, lock).await.expect("pool")
}

/// Text that makes [`panicking_embedder`]'s model panic.
pub const PANIC_TRIGGER: &str = "PANIC-IN-THE-MODEL";

/// The real model, except that it panics on any batch holding [`PANIC_TRIGGER`].
struct Panicking(MiniLm);

impl Embedder for Panicking {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
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

/// Every memory of one type in a project, superseded ones too, oldest first.
pub async fn memories_of_type(
    store: &Store,
    project: &annal_engine::project::ProjectName,
    chunk_type: annal_engine::memory::ChunkType,
) -> Result<Vec<annal_engine::memory::Memory>, annal_engine::store::StoreError> {
    let query = annal_engine::store::ListQuery {
        chunk_type: Some(chunk_type),
        tag: None,
        source_prefix: None,
        include_superseded: true,
        stale_before: None,
        limit: 1_000_000,
        offset: 0,
    };
    let mut page = store.list(project, query).await?.items;
    page.reverse();
    Ok(page)
}
