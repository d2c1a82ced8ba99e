//! The embedding threads: queues by urgency, two lanes over one model, and the gate that
//! makes a long pass pause for an urgent one.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::{EmbedError, Embedder, MAX_TOKENS, MiniLm, ModelSearch, Priority, SLICE_TOKENS};

/// Most texts in one pass, however short.
const MAX_SLICE: usize = 64;

type Reply = oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>;

struct Job {
    /// Texts in the order they are embedded (shortest first, so slices pad little).
    texts: Vec<(usize, String)>,
    done: Vec<(usize, Vec<f32>)>,
    reply: Reply,
}

#[derive(Default)]
struct Queues {
    /// Interactive jobs of at most one text's worth of tokens: a query, a single store.
    urgent: VecDeque<Job>,
    /// Other interactive jobs (a `store_batch`), served a slice at a time in turn.
    interactive: VecDeque<Job>,
    bulk: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    gate: Gate,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // Jobs are plain data; a panic elsewhere cannot leave them half-updated.
        self.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How many urgent passes are running. Both lanes share the cores (candle's thread pool), so a
/// query running beside a long pass would get half of them and queue behind its work at every
/// op; instead the long pass waits at its next step until no urgent pass runs.
#[derive(Default)]
struct Gate {
    urgent: Mutex<usize>,
    clear: Condvar,
}

impl Gate {
    fn count(&self) -> MutexGuard<'_, usize> {
        self.urgent.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn enter(&self) -> Urgent<'_> {
        *self.count() += 1;
        Urgent(self)
    }

    /// Returns once no urgent pass runs.
    fn wait_clear(&self) {
        let mut urgent = self.count();
        while *urgent > 0 {
            urgent = self.clear.wait(urgent).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// An urgent pass in flight; dropping it (also when the pass panicked) lets long passes go on.
struct Urgent<'a>(&'a Gate);

impl Drop for Urgent<'_> {
    fn drop(&mut self) {
        *self.0.count() -= 1;
        self.0.clear.notify_all();
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
        let shared = Arc::new(Shared {
            queues: Mutex::default(),
            ready: Condvar::new(),
            gate: Gate::default(),
        });
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
        let tokens: usize = ordered.iter().map(|(_, text)| expected_tokens(text)).sum();
        let job = Job { done: Vec::with_capacity(ordered.len()), texts: ordered, reply };
        {
            let mut queues = self.handle.shared.lock();
            if queues.closed {
                return Err(EmbedError::Stopped);
            }
            match priority {
                Priority::Interactive if tokens <= MAX_TOKENS => queues.urgent.push_back(job),
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
    /// Urgent jobs first, then other interactive ones, then bulk ones.
    All,
    /// Urgent jobs only: while the other lane runs a long pass, a query does not wait for it.
    Urgent,
}

/// Where a job came from, so a partly done one goes back to its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    Urgent,
    Interactive,
    Bulk,
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
        .name("annal-embed-urgent".into())
        .spawn(move || serve(&lane_shared, &lane_slot, slice_tokens, Lane::Urgent));
    if let Err(err) = spawned {
        // One lane still serves everything, only slower to answer behind long passes.
        tracing::warn!("cannot start the urgent embedding lane: {err}");
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
        let (mut job, from) = {
            let mut queues = shared.lock();
            loop {
                if let Some(job) = queues.urgent.pop_front() {
                    break (job, From::Urgent);
                }
                if lane == Lane::All {
                    if let Some(job) = queues.interactive.pop_front() {
                        break (job, From::Interactive);
                    }
                    if let Some(job) = queues.bulk.pop_front() {
                        break (job, From::Bulk);
                    }
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
        // Jobs run one slice at a time, so interactive jobs take turns and go before the next
        // slice of a bulk job. An urgent pass holds the gate; any other pauses at it.
        let rest = job.texts.split_off(slice_len(&job.texts, slice_tokens));
        let slice = std::mem::replace(&mut job.texts, rest);
        let refs: Vec<&str> = slice.iter().map(|(_, t)| t.as_str()).collect();
        let urgent = (from == From::Urgent).then(|| shared.gate.enter());
        let pause = || {
            if urgent.is_none() {
                shared.gate.wait_clear();
            }
        };
        let embedded = catch_unwind(AssertUnwindSafe(|| model.embed_pausing(&refs, &pause)));
        drop(urgent);
        match embedded {
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
        } else {
            match from {
                // An urgent job is one slice (one text's worth fits any budget); should a tiny
                // budget split it, the rest stays urgent.
                From::Urgent => shared.lock().urgent.push_front(job),
                From::Interactive => shared.lock().interactive.push_back(job),
                From::Bulk => shared.lock().bulk.push_front(job),
            }
            shared.ready.notify_all();
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
