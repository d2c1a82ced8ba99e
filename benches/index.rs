//! Cold-index benchmark of a fixed, real markdown corpus, through the real owner (`annal
//! serve` in a temp home, driven over its HTTP API with its bearer token).
//!
//! The corpus: the `.md` files of the crates `Cargo.lock` pins for this workspace on this
//! platform (`cargo tree --workspace -e normal,build,dev`, registry packages only), read from
//! cargo's registry sources (`$CARGO_HOME/registry/src/*/<name>-<version>/`). Every `*.md`
//! outside the indexer's default excluded directories (`target`, `build`, `vendor`, …) that
//! is 1 KiB to 2 MiB, UTF-8 without NUL bytes and not byte-identical to one already taken,
//! sorted by its path `<name>-<version>/<path in the crate>`; the first 500 are the corpus,
//! the first 150 the small one, and ten copies of the 500 (each copy's files with a first line
//! of their own) the large one. `cargo fetch` first brings any pinned crate not downloaded yet.
//!
//! Sections (all without a flag): `--index` — the 500 files indexed cold (wall time, chunks/s,
//! owner CPU per chunk, peak RSS), search latency idle and during a cold index of a second
//! copy, and raw batch embedding of the very same chunk texts in this process; `--small` —
//! the 150 files; `--large` — the 5,000 files, stopped after [`LARGE_BUDGET`] unless `--full`
//! lets it run to the end. Run with `cargo bench --bench index`; progress goes to stderr, the
//! markdown tables to stdout.

#![allow(clippy::print_stdout, reason = "the benchmark prints its tables")]

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use annal::embed::{EmbedService, ModelSearch, Priority};
use annal::events::{Event, EventDetail, IndexCompleted};
use annal::index::ReconcileReport;
use annal::pool::{IndexState, IndexStatus};
use annal::project::ProjectName;
use annal::store::Store;

// The allocator the `annal` binary uses, so the raw embedding runs as the owner's does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(dead_code, reason = "the benchmarks' shared helpers; this one needs only a few")]
mod common;
use common::owner::{Owner, home};
use common::{model_dir, quantile};

const CORPUS_FILES: usize = 500;
const SMALL_FILES: usize = 150;
const LARGE_COPIES: usize = 10;
const MIN_BYTES: usize = 1024;
/// The indexer skips larger files (`index::reconcile::MAX_FILE_BYTES`).
const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Directories the indexer leaves out by default (`config::DEFAULT_WATCH_EXCLUDE`), so every
/// file taken is indexed.
const EXCLUDED_DIRS: [&str; 8] =
    ["node_modules", "vendor", ".git", ".venv", "__pycache__", "dist", "build", "target"];
/// How long the 5,000-file run may take before it is stopped (without `--full`): the whole
/// run at today's speed would take most of an hour on two cores.
const LARGE_BUDGET: Duration = Duration::from_secs(6 * 60);
/// A bound, not a budget: a run that takes longer is reported as failed.
const RUN_DEADLINE: Duration = Duration::from_secs(4 * 3600);
/// The kernel reports CPU times in these ticks per second (USER_HZ) on every Linux platform.
const USER_HZ: f64 = 100.0;
const MAIN: &str = "corpus";
const SMALL: &str = "150 files";
const LARGE: &str = "5,000 files";
const COPY: &str = "corpus-copy";

/// Between two searches, as between an agent's: long enough that the index of the copy makes
/// visible progress while the 20 searches run.
const SEARCH_PAUSE: Duration = Duration::from_millis(200);
/// What people ask of crate documentation.
const QUERIES: [&str; 20] = [
    "How do I define command line arguments with a derive macro?",
    "What changed in the latest release of the web framework's router?",
    "How can I run an iterator in parallel across threads?",
    "How do I serialize a struct to JSON and read it back?",
    "What is the minimum supported Rust version of this crate?",
    "How do I set a timeout on outgoing HTTP requests?",
    "How are regular expressions compiled and matched efficiently?",
    "How do I read a file asynchronously without blocking the runtime?",
    "Which cargo features do I need to enable TLS support?",
    "How should an application report errors with context?",
    "How do I generate reproducible random numbers from a seed?",
    "Under which license is this crate distributed?",
    "How do I parse a date and time with a time zone offset?",
    "How do I normalize Unicode strings before comparing them?",
    "How do I record structured log events and spans?",
    "How do I create a temporary directory that is removed automatically?",
    "What breaking changes came with the new major version?",
    "How do I compress and decompress data with gzip or deflate?",
    "How can async tasks share mutable state safely?",
    "How do I walk a directory tree recursively and skip hidden files?",
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let full = flag("--full");
    let (index, small, large) = match (flag("--index"), flag("--small"), flag("--large")) {
        (false, false, false) => (true, true, true),
        chosen => chosen,
    };
    let started = Instant::now();
    let corpus = Corpus::select()?;
    print_corpus(&corpus);
    let mut results = Results::default();
    let ran = sections(&corpus, [index, small, large], full, &mut results);
    // What was measured is printed even when a later section failed.
    print_results(&results);
    eprintln!("[index] whole benchmark: {:.0} s", started.elapsed().as_secs_f64());
    ran
}

fn sections(
    corpus: &Corpus,
    [index, small, large]: [bool; 3],
    full: bool,
    results: &mut Results,
) -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    if index {
        let dir = root.path().join("corpus");
        corpus.write(&dir, CORPUS_FILES, None)?;
        let copy = root.path().join("corpus-copy");
        corpus.write(&copy, CORPUS_FILES, None)?;
        main_corpus(&dir, &copy, results)?;
    }
    if small {
        let dir = root.path().join("small");
        corpus.write(&dir, SMALL_FILES, None)?;
        let owner = Running::start()?;
        results.runs.push(owner.cold_index(MAIN, &dir, SMALL, SMALL_FILES, RUN_DEADLINE)?);
    }
    if large {
        let dir = root.path().join("large");
        for copy in 0..LARGE_COPIES {
            corpus.write(&dir.join(format!("copy-{copy}")), CORPUS_FILES, Some(copy))?;
        }
        let owner = Running::start()?;
        let budget = if full { RUN_DEADLINE } else { LARGE_BUDGET };
        let files = CORPUS_FILES * LARGE_COPIES;
        results.runs.push(owner.cold_index(MAIN, &dir, LARGE, files, budget)?);
    }
    Ok(())
}

/// The 500 files: the cold index, search latency idle and during a cold index of `copy`,
/// then the raw embedding of the chunk texts the index stored.
fn main_corpus(dir: &Path, copy: &Path, results: &mut Results) -> anyhow::Result<()> {
    let owner = Running::start()?;
    let run = owner.cold_index(MAIN, dir, "500 files", CORPUS_FILES, RUN_DEADLINE)?;
    let (chunks, rate) = (run.chunks, run.chunks as f64 / run.wall.as_secs_f64());
    results.runs.push(run);
    results.searches = Some(owner.searches(copy)?);
    let data_dir = owner.data_dir.clone();
    // The owner is stopped first: the raw embedding gets the machine to itself, as the index
    // had, and the store can be opened.
    let _home = owner.stop();
    results.raw = Some((raw_embedding(&data_dir, chunks)?, rate));
    Ok(())
}

#[derive(Debug)]
struct CorpusFile {
    /// `<name>-<version>/<path in the crate>`.
    path: String,
    text: String,
}

#[derive(Debug)]
struct Corpus {
    files: Vec<CorpusFile>,
    crates_pinned: usize,
    candidates: usize,
    /// SHA-256 over the paths and contents of the 500 files, to compare runs.
    fingerprint: String,
}

impl Corpus {
    fn select() -> anyhow::Result<Self> {
        // `cargo tree --offline` needs every pinned crate downloaded, the other platforms'
        // too; a fetch with everything present costs a second.
        let status = Command::new(env!("CARGO"))
            .args(["fetch", "--locked", "--manifest-path"])
            .arg(workspace().join("Cargo.toml"))
            .status()?;
        if !status.success() {
            bail!("cargo fetch failed: {status}");
        }
        let packages = pinned_packages()?;
        let sources = registry_sources()?;
        let absent: Vec<&String> =
            packages.iter().filter(|p| !sources.iter().any(|s| s.join(p).is_dir())).collect();
        if !absent.is_empty() {
            bail!("missing from the registry sources after cargo fetch: {absent:?}");
        }
        let mut paths = Vec::new();
        for package in &packages {
            let Some(source) = sources.iter().find(|s| s.join(package).is_dir()) else { continue };
            for entry in walkdir::WalkDir::new(source.join(package)) {
                let entry = entry?;
                let Ok(relative) = entry.path().strip_prefix(source) else { continue };
                let excluded = relative.components().any(|c| {
                    EXCLUDED_DIRS.iter().any(|dir| c.as_os_str() == std::ffi::OsStr::new(dir))
                });
                let markdown = relative.extension().is_some_and(|e| e == "md");
                if entry.file_type().is_file() && markdown && !excluded {
                    let text = relative.to_str().context("a non-UTF-8 path")?.to_owned();
                    paths.push((text, entry.path().to_path_buf()));
                }
            }
        }
        paths.sort();
        let candidates = paths.len();
        let mut seen = HashSet::new();
        let mut files = Vec::new();
        for (path, file) in paths {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {path}"))?;
            if !(MIN_BYTES..=MAX_BYTES).contains(&bytes.len()) || bytes.contains(&0) {
                continue;
            }
            let Ok(text) = String::from_utf8(bytes) else { continue };
            if seen.insert(Sha256::digest(text.as_bytes())) {
                files.push(CorpusFile { path, text });
            }
            if files.len() == CORPUS_FILES {
                break;
            }
        }
        if files.len() < CORPUS_FILES {
            bail!("only {} markdown files qualify, {CORPUS_FILES} are needed", files.len());
        }
        let mut hasher = Sha256::new();
        for file in &files {
            hasher.update(file.path.as_bytes());
            hasher.update([0]);
            hasher.update(file.text.as_bytes());
        }
        let fingerprint = format!("{:x}", hasher.finalize());
        Ok(Self { files, crates_pinned: packages.len(), candidates, fingerprint })
    }

    fn bytes(&self, n: usize) -> usize {
        self.files[..n].iter().map(|f| f.text.len()).sum()
    }

    fn crates(&self, n: usize) -> usize {
        let names: HashSet<_> =
            self.files[..n].iter().filter_map(|f| f.path.split('/').next()).collect();
        names.len()
    }

    /// The first `n` files under `dir` at their relative paths; a numbered copy's files get a
    /// first line of their own, so no two copies hold the same text.
    fn write(&self, dir: &Path, n: usize, copy: Option<usize>) -> anyhow::Result<()> {
        for file in &self.files[..n] {
            let path = dir.join(&file.path);
            std::fs::create_dir_all(path.parent().context("a file has a parent")?)?;
            let text = match copy {
                None => file.text.clone(),
                Some(copy) => {
                    let (first, rest) = file.text.split_once('\n').unwrap_or((&file.text, ""));
                    format!("{first} <!-- copy {copy} -->\n{rest}")
                }
            };
            std::fs::write(path, text)?;
        }
        Ok(())
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `<name>-<version>` of every registry package the workspace builds on this platform, in
/// name order, from `Cargo.lock` (`--locked`: a stale lock file is an error, not a new corpus).
fn pinned_packages() -> anyhow::Result<Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--locked", "--workspace", "-e", "normal,build,dev"])
        .args(["--prefix", "none", "--format", "{p}", "--manifest-path"])
        .arg(workspace().join("Cargo.toml"))
        .output()?;
    if !out.status.success() {
        bail!("cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut packages: Vec<String> = String::from_utf8(out.stdout)?
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (name, version) = (words.next()?, words.next()?.strip_prefix('v')?);
            // Workspace members name their path; `(*)` and `(proc-macro)` are only marks.
            let local = words.next().is_some_and(|w| w.starts_with("(/"));
            (!local).then(|| format!("{name}-{version}"))
        })
        .collect();
    packages.sort();
    packages.dedup();
    Ok(packages)
}

/// Cargo's unpacked registry sources, one directory per registry.
fn registry_sources() -> anyhow::Result<Vec<PathBuf>> {
    let cargo_home = match std::env::var_os("CARGO_HOME") {
        Some(home) => PathBuf::from(home),
        None => PathBuf::from(std::env::var_os("HOME").context("no HOME")?).join(".cargo"),
    };
    let src = cargo_home.join("registry").join("src");
    let mut dirs = Vec::new();
    if src.is_dir() {
        for entry in std::fs::read_dir(&src)? {
            dirs.push(entry?.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The owner's HTTP API with its bearer token.
struct Http {
    base: String,
    authorization: String,
    agent: ureq::Agent,
}

impl Http {
    fn connect(data_dir: &Path) -> anyhow::Result<Self> {
        let address = annal::cli::owner_client::wait_for_http(data_dir)
            .context("the owner does not answer on HTTP")?;
        let token = std::fs::read_to_string(data_dir.join(annal::http::TOKEN_FILE))?;
        let config = ureq::Agent::config_builder().http_status_as_error(false);
        Ok(Self {
            base: format!("http://{address}"),
            authorization: format!("Bearer {}", token.trim()),
            agent: config.timeout_global(Some(Duration::from_secs(60))).build().new_agent(),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<T> {
        let request = self.agent.get(format!("{}{path}", self.base));
        let request = request.header("Authorization", &self.authorization);
        let mut response = request.query_pairs(query.iter().copied()).call()?;
        if !response.status().is_success() {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            bail!("GET {path}: {} {body}", response.status());
        }
        Ok(response.body_mut().read_json()?)
    }

    fn status(&self, project: &str) -> anyhow::Result<IndexStatus> {
        self.get(&format!("/api/projects/{project}/status"), &[])
    }

    /// Declares `project` watching `dir` (saved to config.yaml, as the dashboard does), which
    /// starts its first, cold, index. Markdown only, and no watcher: the run is the work.
    fn watch(&self, project: &str, dir: &Path) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "watch_paths": [dir],
            "watch_patterns": ["**/*.md"],
            "watch": false,
        });
        let path = format!("/api/projects/{project}/watch");
        let request = self.agent.put(format!("{}{path}", self.base));
        let mut response = request.header("Authorization", &self.authorization).send_json(&body)?;
        if !response.status().is_success() {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            bail!("PUT {path}: {} {body}", response.status());
        }
        Ok(())
    }

    /// The owner's event stream as `(event name, data)` pairs, read on a thread of its own so
    /// the caller can wait with a deadline. The stream ends when the owner stops.
    fn events(&self) -> anyhow::Result<mpsc::Receiver<(String, String)>> {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        let request = agent.get(format!("{}/api/events", self.base));
        let response = request.header("Authorization", &self.authorization).call()?;
        if !response.status().is_success() {
            bail!("GET /api/events: {}", response.status());
        }
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let mut kind = String::new();
            for line in BufReader::new(response.into_body().into_reader()).lines() {
                let Ok(line) = line else { return };
                if let Some(name) = line.strip_prefix("event:") {
                    kind = name.trim().to_owned();
                } else if let Some(data) = line.strip_prefix("data:")
                    && send.send((kind.clone(), data.trim().to_owned())).is_err()
                {
                    return;
                }
            }
        });
        Ok(receive)
    }
}

/// `annal serve` on a fresh temp home, its HTTP API connected.
struct Running {
    owner: Owner,
    http: Http,
    data_dir: PathBuf,
    home: tempfile::TempDir,
}

/// One cold index through the owner.
#[derive(Debug)]
struct IndexRun {
    label: &'static str,
    files: usize,
    bytes: u64,
    /// Files done when it ended (all of them unless stopped at its budget).
    files_done: usize,
    completed: bool,
    chunks: u64,
    wall: Duration,
    /// Owner CPU seconds from the request to the end, its CPU before that subtracted.
    cpu: f64,
    /// Owner CPU seconds per second while it sat idle before the run.
    idle_cpu_rate: f64,
    /// VmHWM of the owner, KiB.
    peak_rss_kib: u64,
    /// Seconds, files done, VmRSS KiB, as the progress events came.
    checkpoints: Vec<(f64, usize, u64)>,
}

impl Running {
    fn start() -> anyhow::Result<Self> {
        let home = home()?;
        let owner = Owner::start(home.path())?;
        let data_dir = home.path().join("data");
        let http = Http::connect(&data_dir)?;
        Ok(Self { owner, http, data_dir, home })
    }

    fn pid(&self) -> u32 {
        self.owner.0.id()
    }

    /// Stops the owner; its home (and store) stay until the returned dir is dropped.
    fn stop(self) -> tempfile::TempDir {
        drop(self.owner);
        self.home
    }

    /// Declares `project` on `dir` and follows its first index to the end, or until `budget`.
    fn cold_index(
        &self,
        project: &str,
        dir: &Path,
        label: &'static str,
        files: usize,
        budget: Duration,
    ) -> anyhow::Result<IndexRun> {
        let pid = self.pid();
        // Whatever the owner does while idle (nothing, we expect) is measured, not assumed.
        std::thread::sleep(Duration::from_secs(1));
        let idle_from = cpu_seconds(pid)?;
        std::thread::sleep(Duration::from_secs(2));
        let before = cpu_seconds(pid)?;
        let idle_cpu_rate = (before - idle_from) / 2.0;
        let bytes = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.metadata().map_or(0, |m| m.len()))
            .sum();
        let events = self.http.events()?;
        // The stream's first event says it is subscribed: nothing of the run can be missed.
        let (kind, _) = events.recv_timeout(Duration::from_secs(30))?;
        if kind != "ready" {
            bail!("the event stream began with {kind:?}");
        }
        eprintln!("[index] {label}: indexing cold ({} s budget)", budget.as_secs());
        let started = Instant::now();
        self.http.watch(project, dir)?;
        let deadline = started + budget;
        let mut checkpoints = Vec::new();
        let mut shown = 0;
        let ended: Option<ReconcileReport> = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (kind, data) = match events.recv_timeout(left) {
                Ok(event) => event,
                Err(mpsc::RecvTimeoutError::Timeout) => break None,
                Err(mpsc::RecvTimeoutError::Disconnected) => bail!("the owner stopped"),
            };
            if kind == "lagged" {
                // Events were dropped: the project's state says whether the run has ended.
                let status = self.http.status(project)?;
                match status.index {
                    IndexState::Idle => match status.last_reconcile {
                        Some(last) => break Some(last.report),
                        None => continue,
                    },
                    IndexState::Failed { error, .. } => bail!("{label}: indexing failed: {error}"),
                    IndexState::Indexing { .. } => continue,
                }
            }
            let Ok(event) = serde_json::from_str::<Event>(&data) else { continue };
            if event.project != project {
                continue;
            }
            match event.detail {
                EventDetail::IndexProgress { files_done } => {
                    let at = started.elapsed().as_secs_f64();
                    checkpoints.push((at, files_done, memory_kib(pid, "VmRSS")?));
                    if files_done * 10 / files > shown {
                        shown = files_done * 10 / files;
                        eprintln!("[index] {label}: {files_done}/{files} files, {at:.0} s");
                    }
                }
                EventDetail::IndexComplete(IndexCompleted::Reconciled(report)) => {
                    break Some(report);
                }
                EventDetail::IndexComplete(IndexCompleted::ChangedFiles {}) => {
                    bail!("{label}: a watcher run ended instead of the reconcile")
                }
                EventDetail::IndexFailed { error } => bail!("{label}: indexing failed: {error}"),
                _ => {}
            }
        };
        let wall = started.elapsed();
        let cpu = cpu_seconds(pid)? - before;
        let peak_rss_kib = memory_kib(pid, "VmHWM")?;
        let status = self.http.status(project)?;
        let run = match ended {
            Some(report) => {
                if report.files_indexed != files || !report.skipped.is_empty() {
                    bail!(
                        "{label}: {} of {files} files indexed, skipped: {:?}",
                        report.files_indexed,
                        report.skipped
                    );
                }
                if status.stats.file_chunks != report.chunks_embedded as u64 {
                    bail!(
                        "{label}: {} chunks embedded but {} stored",
                        report.chunks_embedded,
                        status.stats.file_chunks
                    );
                }
                IndexRun {
                    label,
                    files,
                    bytes,
                    files_done: files,
                    completed: true,
                    chunks: report.chunks_embedded as u64,
                    wall,
                    cpu,
                    idle_cpu_rate,
                    peak_rss_kib,
                    checkpoints,
                }
            }
            None => {
                let files_done = match status.index {
                    IndexState::Indexing { files_done, .. } => files_done,
                    other => bail!("{label}: the budget ran out but the project is {other:?}"),
                };
                IndexRun {
                    label,
                    files,
                    bytes,
                    files_done,
                    completed: false,
                    chunks: status.stats.file_chunks,
                    wall,
                    cpu,
                    idle_cpu_rate,
                    peak_rss_kib,
                    checkpoints,
                }
            }
        };
        eprintln!(
            "[index] {label}: {} chunks in {:.1} s ({})",
            run.chunks,
            wall.as_secs_f64(),
            if run.completed { "complete" } else { "stopped at its budget" }
        );
        Ok(run)
    }

    /// One search of the indexed project, timed from request to the whole answer read.
    fn search(&self, query: &str) -> anyhow::Result<(Duration, usize)> {
        let started = Instant::now();
        let reply: serde_json::Value = self
            .http
            .get(&format!("/api/projects/{MAIN}/search"), &[("query", query), ("limit", "10")])?;
        let spent = started.elapsed();
        let hits = reply["hits"].as_array().map_or(0, Vec::len);
        Ok((spent, hits))
    }

    fn search_all(&self) -> anyhow::Result<(Vec<Duration>, usize)> {
        let mut times = Vec::with_capacity(QUERIES.len());
        let mut empty = 0;
        for query in QUERIES {
            let (spent, hits) = self.search(query)?;
            times.push(spent);
            empty += usize::from(hits == 0);
            std::thread::sleep(SEARCH_PAUSE);
        }
        times.sort();
        Ok((times, empty))
    }

    /// The 20 searches against the idle owner, then again while `copy` is indexed cold as a
    /// second project — checked to have stored chunks before the first search, between the
    /// first and the last, and after the last.
    fn searches(&self, copy: &Path) -> anyhow::Result<Searches> {
        // A first search warms what any earlier session would have (caches, the query path).
        self.search("warm up")?;
        eprintln!("[index] searches: idle");
        let (idle, idle_empty) = self.search_all()?;
        eprintln!("[index] searches: during a cold index of a copy of the corpus");
        self.http.watch(COPY, copy)?;
        let deadline = Instant::now() + Duration::from_secs(300);
        let chunks_before = loop {
            let status = self.http.status(COPY)?;
            if status.stats.file_chunks > 0 {
                break status.stats.file_chunks;
            }
            if Instant::now() > deadline {
                bail!("the copy stored no chunk in 300 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let (during, during_empty) = self.search_all()?;
        let after = self.http.status(COPY)?;
        if !matches!(after.index, IndexState::Indexing { .. }) {
            bail!("the copy's index ended before the last search: {:?}", after.index);
        }
        if after.stats.file_chunks <= chunks_before {
            bail!("the copy stored no chunk while the searches ran");
        }
        std::thread::sleep(Duration::from_secs(2));
        let later = self.http.status(COPY)?;
        if later.stats.file_chunks <= after.stats.file_chunks {
            bail!("the copy's chunks stopped growing during the searches");
        }
        Ok(Searches {
            idle,
            during,
            empty: idle_empty + during_empty,
            copy_chunks: (chunks_before, after.stats.file_chunks, later.stats.file_chunks),
        })
    }
}

#[derive(Debug)]
struct Searches {
    idle: Vec<Duration>,
    during: Vec<Duration>,
    /// Searches that found nothing (the corpus should answer every one).
    empty: usize,
    /// The copy's chunks before the first search, after the last, and 2 s later.
    copy_chunks: (u64, u64, u64),
}

#[derive(Debug)]
struct RawEmbedding {
    chunks: usize,
    wall: Duration,
    cpu: f64,
}

/// The chunk texts the owner stored for [`MAIN`], embedded in one bulk request in this
/// process with the model warm.
fn raw_embedding(data_dir: &Path, expected: u64) -> anyhow::Result<RawEmbedding> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = Store::open(data_dir).await?;
        let project = ProjectName::parse(MAIN)?;
        let mut texts = Vec::new();
        let mut after = None;
        loop {
            let page = store.export_page(&project, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.created_at, last.id.clone()));
            texts.extend(page.into_iter().map(|m| m.content));
        }
        store.close().await?;
        if texts.len() as u64 != expected {
            bail!("{} chunk texts stored, the index reported {expected}", texts.len());
        }
        let service =
            EmbedService::minilm(ModelSearch { env_dir: Some(model_dir()), ..Default::default() });
        service.embed_one("warm up".into()).await?;
        eprintln!("[index] raw embedding of the {} chunk texts", texts.len());
        let chunks = texts.len();
        let cpu_before = cpu_seconds_of("self")?;
        let started = Instant::now();
        let vectors = service.embed_windows(texts, Priority::Bulk).await?;
        let wall = started.elapsed();
        let cpu = cpu_seconds_of("self")? - cpu_before;
        if vectors.len() != chunks {
            bail!("{} vectors for {chunks} texts", vectors.len());
        }
        eprintln!("[index] raw embedding: {:.1} s", wall.as_secs_f64());
        Ok(RawEmbedding { chunks, wall, cpu })
    })
}

fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    cpu_seconds_of(&pid.to_string())
}

/// utime + stime of a process (all its threads), from `/proc/<pid>/stat`.
fn cpu_seconds_of(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses; the fields after it do not.
    let after = stat.rsplit_once(')').context("no ) in /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("a short /proc stat")?.parse::<u64>()? as f64)
    };
    Ok((ticks(11)? + ticks(12)?) / USER_HZ)
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`).
fn memory_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .with_context(|| format!("no {key} in /proc/{pid}/status"))?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[derive(Debug, Default)]
struct Results {
    runs: Vec<IndexRun>,
    searches: Option<Searches>,
    /// The raw embedding, and the 500-file index's chunks/s to compare it with.
    raw: Option<(RawEmbedding, f64)>,
}

fn print_corpus(corpus: &Corpus) {
    println!("\n## Corpus\n");
    println!(
        "Markdown of the {} registry crates Cargo.lock pins for this workspace on this platform: \
         {} `.md` files outside excluded directories; taken in path order, 1 KiB–2 MiB, UTF-8, \
         duplicates dropped. Fingerprint of the 500: `{}`.\n",
        corpus.crates_pinned,
        corpus.candidates,
        &corpus.fingerprint[..16]
    );
    println!("| corpus | files | bytes | crates | first file | last file |");
    println!("|---|---:|---:|---:|---|---|");
    for (label, n) in [("150 files", SMALL_FILES), ("500 files", CORPUS_FILES)] {
        println!(
            "| {label} | {n} | {} | {} | {} | {} |",
            corpus.bytes(n),
            corpus.crates(n),
            corpus.files[0].path,
            corpus.files[n - 1].path
        );
    }
    println!(
        "| 5,000 files | {} | {} | {} | (the 500, ten times, each copy's first lines marked) | |",
        CORPUS_FILES * LARGE_COPIES,
        corpus.bytes(CORPUS_FILES) * LARGE_COPIES,
        corpus.crates(CORPUS_FILES)
    );
}

fn print_results(results: &Results) {
    let runs = &results.runs;
    if runs.is_empty() {
        return;
    }
    println!("\n## Cold index through `annal serve` (fresh owner per corpus)\n");
    println!(
        "| corpus | files done | chunks | wall s | chunks/s | owner CPU s | CPU ms/chunk | \
         peak RSS MiB | idle CPU/s before |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        let wall = run.wall.as_secs_f64();
        let done = if run.completed {
            format!("{}", run.files_done)
        } else {
            format!("{} of {} (stopped)", run.files_done, run.files)
        };
        println!(
            "| {} ({:.1} MB) | {done} | {} | {wall:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.3} |",
            run.label,
            run.bytes as f64 / 1e6,
            run.chunks,
            run.chunks as f64 / wall,
            run.cpu,
            run.cpu * 1e3 / run.chunks.max(1) as f64,
            mib(run.peak_rss_kib),
            run.idle_cpu_rate
        );
    }
    if runs.iter().any(|r| r.label == SMALL) {
        println!(
            "\nReference system on its 150 files: 14.7 chunks/s, 87 ms CPU/chunk (goal: ≥ 29.4 \
             chunks/s, ≤ 43.5 ms/chunk)."
        );
    }
    if let Some((raw, index_rate)) = &results.raw {
        let wall = raw.wall.as_secs_f64();
        let raw_rate = raw.chunks as f64 / wall;
        println!("\n## Raw batch embedding of the same chunk texts (500 files, in-process)\n");
        println!(
            "| chunks | wall s | chunks/s | CPU s | CPU ms/chunk | index chunks/s ÷ raw (goal ≥ \
             0.85) |"
        );
        println!("|---:|---:|---:|---:|---:|---:|");
        println!(
            "| {} | {wall:.1} | {raw_rate:.1} | {:.1} | {:.1} | {:.2} |",
            raw.chunks,
            raw.cpu,
            raw.cpu * 1e3 / raw.chunks as f64,
            index_rate / raw_rate
        );
    }
    if let Some(s) = &results.searches {
        let (before, after, later) = s.copy_chunks;
        println!("\n## Search latency over HTTP, 20 sequential prose queries, 500-file project\n");
        println!("| owner | p50 ms | p95 ms | max ms | p95 ÷ idle p95 (goal ≤ 2) |");
        println!("|---|---:|---:|---:|---:|");
        let idle_p95 = quantile(&s.idle, 0.95);
        for (label, times) in [("idle", &s.idle), ("during a cold index of a copy", &s.during)] {
            println!(
                "| {label} | {:.1} | {:.1} | {:.1} | {:.2} |",
                quantile(times, 0.5),
                quantile(times, 0.95),
                quantile(times, 1.0),
                quantile(times, 0.95) / idle_p95
            );
        }
        println!(
            "\nThe copy held {before} chunks before the first search, {after} after the last and \
             {later} two seconds later (still indexing). Searches with no hit: {}; {} ms \
             between two searches.",
            s.empty,
            SEARCH_PAUSE.as_millis()
        );
    }
    if let Some(run) = runs.iter().find(|r| r.label == LARGE) {
        println!("\n## Owner RSS along the 5,000-file index\n");
        println!("| s | files done | VmRSS MiB |");
        println!("|---:|---:|---:|");
        let step = (run.checkpoints.len() / 12).max(1);
        for (at, files, rss) in run.checkpoints.iter().step_by(step) {
            println!("| {at:.0} | {files} | {:.0} |", mib(*rss));
        }
    }
}
