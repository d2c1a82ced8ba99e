//! The embedding threads: queues by urgency, a general lane per core and an urgent lane over
//! one model, and the gate that makes one general lane pause for an urgent pass.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::{
    EmbedError, Embedder, MAX_TOKENS, MAX_WINDOWS, MiniLm, ModelSearch, Priority, SLICE_TOKENS,
    WINDOW_TOKENS,
};

/// Most texts in one pass, however short.
const MAX_SLICE: usize = 64;
/// Most general lanes, whatever the core count: each holds a pass's working memory.
const MAX_LANES: usize = 8;

type Reply = oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>;

/// A job's texts not yet handed to a pass. Its slices may run on several lanes at once; what
/// they have in common is its [`Outcome`].
struct Job {
    /// Shortest first, so a slice's texts pack tightly into the encoder's groups.
    texts: Vec<(usize, String)>,
    /// Most windows per text (1 for queries and tags, [`MAX_WINDOWS`] for stored text).
    windows: usize,
    outcome: Arc<Mutex<Outcome>>,
}

/// The vectors a job's finished slices gave, and its caller's reply until it is sent.
struct Outcome {
    total: usize,
    done: Vec<(usize, Vec<f32>)>,
    reply: Option<Reply>,
}

impl Outcome {
    /// Whether the job still needs its passes: not answered (failed), caller still waiting.
    fn wanted(&self) -> bool {
        self.reply.as_ref().is_some_and(|reply| !reply.is_closed())
    }

    /// Records one slice's result; the last slice (or the first failure) answers the caller.
    fn settle(&mut self, indices: &[usize], result: Result<Vec<Vec<f32>>, EmbedError>) {
        let Some(reply) = self.reply.take() else { return };
        let vectors = match result {
            Ok(vectors) if vectors.len() == indices.len() => vectors,
            Ok(vectors) => {
                let message = format!("{} vectors for {} texts", vectors.len(), indices.len());
                let _ = reply.send(Err(EmbedError::Inference(message)));
                return;
            }
            Err(err) => {
                let _ = reply.send(Err(err));
                return;
            }
        };
        self.done.extend(indices.iter().copied().zip(vectors));
        if self.done.len() < self.total {
            self.reply = Some(reply);
            return;
        }
        let mut done = std::mem::take(&mut self.done);
        done.sort_by_key(|(i, _)| *i);
        let _ = reply.send(Ok(done.into_iter().map(|(_, v)| v).collect()));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // What these mutexes guard is plain data that a panic elsewhere cannot leave half-updated.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
        lock(&self.queues)
    }
}

/// How many urgent passes (and held cores, see [`CoreHold`]) are running. There is a general lane per core, so beside an urgent
/// pass one general lane too many would run and the query would share a core with it; that
/// lane (the yielding one) waits at its next step until no urgent pass runs.
#[derive(Default)]
struct Gate {
    urgent: Mutex<usize>,
    clear: Condvar,
}

impl Gate {
    fn raise(&self) {
        *lock(&self.urgent) += 1;
    }

    fn enter(&self) -> Urgent<'_> {
        self.raise();
        Urgent(self)
    }

    /// Returns once no urgent pass runs.
    fn wait_clear(&self) {
        let mut urgent = lock(&self.urgent);
        while *urgent > 0 {
            urgent = self.clear.wait(urgent).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl Gate {
    fn leave(&self) {
        *lock(&self.urgent) -= 1;
        self.clear.notify_all();
    }
}

/// An urgent pass in flight; dropping it (also when the pass panicked) lets long passes go on.
struct Urgent<'a>(&'a Gate);

impl Drop for Urgent<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// A core held for interactive work beside the embedding (a search's ranking and reads): while
/// it lives, the yielding lane pauses as it does for an urgent pass.
#[must_use = "the core is free again once this is dropped"]
pub struct CoreHold(Arc<Shared>);

impl Drop for CoreHold {
    fn drop(&mut self) {
        self.0.gate.leave();
    }
}

impl std::fmt::Debug for CoreHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreHold").finish_non_exhaustive()
    }
}

/// Handle to the embedding threads. Cheap to clone; they stop when the last handle is dropped.
#[derive(Clone)]
pub struct EmbedService {
    handle: Arc<ServiceHandle>,
}

struct ServiceHandle {
    shared: Arc<Shared>,
    lanes: usize,
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
    /// Starts the embedding threads; `load` runs on the first, so callers never wait for the model
    /// unless they ask for an embedding. A load failure is returned to every request; after a
    /// panic in the model, `load` runs again for a fresh one.
    pub fn start<E, F>(load: F) -> Self
    where
        E: Embedder + 'static,
        F: FnMut() -> Result<E, EmbedError> + Send + 'static,
    {
        Self::start_sliced(load, SLICE_TOKENS)
    }

    /// [`EmbedService::start`] with passes of at most `slice_tokens` tokens (the embedding
    /// bench compares budgets).
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
        let lanes = general_lanes();
        let spawned = std::thread::Builder::new()
            .name("annal-embed".into())
            .spawn(move || run_worker(worker, load, slice_tokens.max(1), lanes));
        if let Err(err) = spawned {
            // Without a thread nothing can embed; every request gets this error.
            let mut queues = shared.lock();
            queues.closed = true;
            tracing::error!("cannot start the embedding thread: {err}");
        }
        Self { handle: Arc::new(ServiceHandle { shared, lanes }) }
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

    /// One vector per text, of its first window: for queries, tag names, anything compared
    /// as a whole.
    pub async fn embed(
        &self,
        texts: Vec<String>,
        priority: Priority,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.submit(texts, priority, 1).await
    }

    /// Each text's vectors end to end, one per window of up to [`MAX_WINDOWS`] (its first
    /// window's first): for what is stored, so text past the model's window is findable.
    pub async fn embed_windows(
        &self,
        texts: Vec<String>,
        priority: Priority,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.submit(texts, priority, MAX_WINDOWS).await
    }

    async fn submit(
        &self,
        texts: Vec<String>,
        priority: Priority,
        windows: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let mut ordered: Vec<(usize, String)> = texts.into_iter().enumerate().collect();
        ordered.sort_by_key(|(_, text)| text.len());
        let tokens: usize = ordered.iter().map(|(_, text)| expected_tokens(text, windows)).sum();
        let outcome = Outcome { total: ordered.len(), done: Vec::new(), reply: Some(reply) };
        let job = Job { texts: ordered, windows, outcome: Arc::new(Mutex::new(outcome)) };
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
        // Any lane may be the one free to take it.
        self.handle.shared.ready.notify_all();
        answer.await.unwrap_or(Err(EmbedError::Stopped))
    }

    /// Holds a core for an interactive operation until the hold is dropped: bulk work runs on
    /// the other cores meanwhile, so a search is not slowed by an index run beside it.
    pub fn hold_core(&self) -> CoreHold {
        self.handle.shared.gate.raise();
        CoreHold(Arc::clone(&self.handle.shared))
    }

    /// How many passes of non-urgent work run at once: callers with many jobs (indexing) keep
    /// this many in flight.
    pub fn lanes(&self) -> usize {
        self.handle.lanes
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

/// Tokens `text` is expected to take in at most `windows` windows: about four bytes a token for
/// prose (identifiers and code run denser, which only makes a slice a little longer).
fn expected_tokens(text: &str, windows: usize) -> usize {
    (text.len() / 4 + 2).min(MAX_TOKENS + (windows.max(1) - 1) * WINDOW_TOKENS)
}

/// How many of `texts` go in the next pass: as many as keep their tokens within `budget`, and
/// at least one. Nothing is padded, so a pass costs what its tokens cost.
fn slice_len(texts: &[(usize, String)], budget: usize, windows: usize) -> usize {
    let mut count = 0;
    let mut tokens = 0;
    for (_, text) in texts.iter().take(MAX_SLICE) {
        tokens += expected_tokens(text, windows);
        if count > 0 && tokens > budget {
            break;
        }
        count += 1;
    }
    count.max(1).min(texts.len())
}

/// Which jobs a worker thread takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Urgent jobs first, then other interactive ones, then bulk ones. `yields`: this one waits
    /// at its next step while an urgent pass runs, leaving the urgent lane its core.
    General { yields: bool },
    /// Urgent jobs only: while every general lane runs a long pass, a query does not wait.
    Urgent,
}

/// The queue a job came from, so what remains of it goes back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Urgent,
    Interactive,
    Bulk,
}

/// The model every lane uses, and what loads a fresh one.
struct ModelSlot<E, F> {
    current: Mutex<Result<Arc<E>, EmbedError>>,
    load: Mutex<F>,
}

impl<E, F: FnMut() -> Result<E, EmbedError>> ModelSlot<E, F> {
    /// The model to use; while another lane loads a fresh one, that one, once loaded.
    fn current(&self) -> Result<Arc<E>, EmbedError> {
        let now = lock(&self.current).clone();
        if !matches!(now, Err(EmbedError::Stopped)) {
            return now;
        }
        // A reload holds `load` until the fresh model is in place.
        drop(lock(&self.load));
        lock(&self.current).clone()
    }

    /// After `broken` panicked: retires it, then `answer`s the request that met the panic, then
    /// loads a fresh model — unless another lane already did (then its fresh model stays).
    /// Retiring before answering matters: a caller that sends its next request on seeing the
    /// error must get the fresh model, never the one that panicked.
    fn replace(&self, broken: &Arc<E>, answer: impl FnOnce()) {
        let mut load = lock(&self.load);
        {
            let mut current = lock(&self.current);
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
        *lock(&self.current) = fresh;
    }
}

/// General lanes for this machine: one per core (a pass runs on one thread), at most
/// [`MAX_LANES`].
fn general_lanes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_LANES)
}

// A panic in the model is caught around the call rather than by letting the thread die and
// restarting it. A dying thread takes the slice it holds with it, so its caller would only
// learn that the service stopped, and handing the queues to a new thread needs a supervisor.
// Caught here, the job is still ours: its caller gets a clear error and the queued requests are
// untouched. What a panic may have left half-updated is the model's own state, so that model
// is dropped and a fresh one loaded; the threads themselves hold nothing else that could be.
fn run_worker<E, F>(shared: Arc<Shared>, mut load: F, slice_tokens: usize, lanes: usize)
where
    E: Embedder + 'static,
    F: FnMut() -> Result<E, EmbedError> + Send + 'static,
{
    let first = load_model(&mut load).map(Arc::new);
    let slot = Arc::new(ModelSlot { current: Mutex::new(first), load: Mutex::new(load) });
    let others = (1..lanes)
        .map(|i| (format!("annal-embed-{i}"), Lane::General { yields: i == lanes - 1 }))
        .chain([("annal-embed-urgent".to_owned(), Lane::Urgent)]);
    for (name, lane) in others {
        let (lane_shared, lane_slot) = (Arc::clone(&shared), Arc::clone(&slot));
        let spawned = std::thread::Builder::new()
            .name(name)
            .spawn(move || serve(&lane_shared, &lane_slot, slice_tokens, lane));
        if let Err(err) = spawned {
            // The lanes that did start serve everything, only with fewer cores.
            tracing::warn!(?lane, "cannot start an embedding lane: {err}");
        }
    }
    serve(&shared, &slot, slice_tokens, Lane::General { yields: lanes == 1 });
}

/// Texts of one job for one pass.
struct Slice {
    texts: Vec<(usize, String)>,
    windows: usize,
    outcome: Arc<Mutex<Outcome>>,
    urgent: bool,
}

/// The next slice for `lane` to run; `None` once the service closed. What remains of a job
/// goes back to its queue at once, so other lanes share its slices.
fn next_slice(shared: &Shared, lane: Lane, slice_tokens: usize) -> Option<Slice> {
    let mut queues = shared.lock();
    loop {
        let general = matches!(lane, Lane::General { .. });
        let taken = match queues.urgent.pop_front() {
            Some(job) => Some((job, Source::Urgent)),
            None if general => match queues.interactive.pop_front() {
                Some(job) => Some((job, Source::Interactive)),
                None => queues.bulk.pop_front().map(|job| (job, Source::Bulk)),
            },
            None => None,
        };
        let Some((mut job, from)) = taken else {
            if queues.closed {
                return None;
            }
            queues = shared.ready.wait(queues).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        if !lock(&job.outcome).wanted() {
            continue; // Failed already, or the caller gave up: no CPU for an unread answer.
        }
        let windows = job.windows;
        let rest = job.texts.split_off(slice_len(&job.texts, slice_tokens, windows));
        let texts = std::mem::replace(&mut job.texts, rest);
        let outcome = Arc::clone(&job.outcome);
        if !job.texts.is_empty() {
            // Interactive jobs take turns; a bulk job keeps its place. An urgent job is one
            // slice (one text's worth fits any budget); should a tiny budget split it, the rest
            // stays urgent.
            match from {
                Source::Urgent => queues.urgent.push_front(job),
                Source::Interactive => queues.interactive.push_back(job),
                Source::Bulk => queues.bulk.push_front(job),
            }
            shared.ready.notify_one();
        }
        return Some(Slice { texts, windows, outcome, urgent: from == Source::Urgent });
    }
}

fn serve<E: Embedder, F: FnMut() -> Result<E, EmbedError>>(
    shared: &Shared,
    slot: &ModelSlot<E, F>,
    slice_tokens: usize,
    lane: Lane,
) {
    while let Some(Slice { texts, windows, outcome, urgent }) =
        next_slice(shared, lane, slice_tokens)
    {
        let indices: Vec<usize> = texts.iter().map(|(i, _)| *i).collect();
        let model = match slot.current() {
            Ok(model) => model,
            Err(err) => {
                lock(&outcome).settle(&indices, Err(err));
                continue;
            }
        };
        let refs: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
        let entered = urgent.then(|| shared.gate.enter());
        let yields = !urgent && lane == (Lane::General { yields: true });
        let pause = || {
            if yields {
                shared.gate.wait_clear();
            }
        };
        let embedded =
            catch_unwind(AssertUnwindSafe(|| model.embed_windows(&refs, windows, &pause)));
        drop(entered);
        match embedded {
            Ok(result) => lock(&outcome).settle(&indices, result),
            Err(panic) => {
                let message = panic_text(&*panic);
                tracing::error!(%message, "the embedding model panicked; loading a fresh one");
                slot.replace(&model, || {
                    lock(&outcome).settle(&indices, Err(EmbedError::Panicked(message)));
                });
            }
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
        assert_eq!(slice_len(&texts(&[1000; 10]), 1024, 1), 4);
        // Tokens add up (nothing is padded): three short ones and a long one that overflows.
        assert_eq!(slice_len(&texts(&[40, 40, 40, 4000]), 200, 1), 3);
        assert_eq!(slice_len(&texts(&[40, 40, 40, 400]), 200, 1), 4);
        // Short texts stop at the count cap; one text over the budget still goes alone.
        assert_eq!(slice_len(&texts(&[8; 200]), 1024, 1), MAX_SLICE);
        assert_eq!(slice_len(&texts(&[100_000]), 64, 1), 1);
        assert_eq!(expected_tokens(&"y".repeat(28_000), 1), MAX_TOKENS);
        // A long text counts all its windows: 4,000 bytes take four, so two fill 2,048.
        let all_windows = MAX_TOKENS + (MAX_WINDOWS - 1) * WINDOW_TOKENS;
        assert_eq!(expected_tokens(&"y".repeat(28_000), MAX_WINDOWS), all_windows);
        assert_eq!(slice_len(&texts(&[4000; 5]), 2048, MAX_WINDOWS), 2);
    }

    #[test]
    fn a_job_answers_once_its_last_slice_is_in_in_the_callers_order() {
        let (reply, mut answer) = oneshot::channel();
        let mut outcome = Outcome { total: 3, done: Vec::new(), reply: Some(reply) };
        outcome.settle(&[2], Ok(vec![vec![2.0]]));
        assert!(answer.try_recv().is_err(), "no answer before the last slice");
        outcome.settle(&[0, 1], Ok(vec![vec![0.0], vec![1.0]]));
        assert_eq!(answer.try_recv().expect("answered").expect("ok"), [[0.0], [1.0], [2.0]]);
        assert!(!outcome.wanted());
    }

    #[test]
    fn a_failed_slice_answers_with_its_error_and_later_slices_are_dropped() {
        let (reply, mut answer) = oneshot::channel();
        let mut outcome = Outcome { total: 3, done: Vec::new(), reply: Some(reply) };
        outcome.settle(&[0, 1], Ok(vec![vec![0.0]]));
        let err = answer.try_recv().expect("answered").expect_err("fails");
        assert!(err.to_string().contains("1 vectors for 2 texts"), "{err}");
        assert!(!outcome.wanted(), "the rest of the job is not run");
        outcome.settle(&[2], Ok(vec![vec![2.0]]));
    }
}
