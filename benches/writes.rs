//! Write-path benchmark through the real sidecar: an owner (`annal serve`) in a temp home and
//! the stdio sidecar (`annal`) spoken to over MCP JSON-RPC, as an agent does.
//!
//! - `store_memory` p50/p95/max over sequential calls, for (a) uniform memories (distinct,
//!   80–100 words each, made of the sentences of `engine/tests/data/hooks_eval.json`) and (b)
//!   the real memories of that file (mixed length). Each call is followed by the in-process
//!   embedding of the same text (`EmbedService::embed_one`), so the model's share is measured
//!   under the same machine load; then (a) again with the calls back to back.
//! - Where the time went: around every call the owner's (or this process's) CPU time and
//!   run-queue wait, summed over its threads from `/proc/PID/task/*/schedstat`, and whether a
//!   WAL checkpoint ran (the database file's mtime moved): on a shared machine this tells
//!   waiting for a CPU apart from work and from checkpoints.
//! - The sidecar's round trip for a tool that embeds nothing (`list_topics`): the hop's floor.
//! - `store_batch` memories/s, batches of 50 uniform memories, beside the raw batch-embedding
//!   rate of the very same texts in-process (`embed_windows(texts, Priority::Interactive)`, the
//!   priority `store_batch` uses). The two alternate batch by batch, so drift hits both alike.
//!
//! Run with `cargo bench --bench writes`; prints markdown tables.

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use annal::embed::{EmbedService, ModelSearch, Priority};

// The allocator the `annal` binary uses, so the in-process numbers are the owner's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(dead_code, reason = "the benchmarks' shared helpers; this one needs the owner")]
mod common;
use common::owner::{Owner, annal, home};
use common::{Xorshift, model_dir, quantile};

/// Sequential `store_memory` calls per set (the mixed set's 120 real memories go into two
/// projects, so each call stores rather than being skipped as a duplicate).
const CALLS: usize = 240;
/// Calls before measuring, in a project of their own: the first store loads the model.
const WARM_UP: usize = 5;
const BATCH: usize = 50;
const BATCHES: usize = 6;
const HOP_CALLS: usize = 50;
/// Idle time after each measured operation (not counted).
const PAUSE: Duration = Duration::from_millis(10);
/// Uniform memories: whole sentences added until at least `MIN_WORDS`, kept if within `MAX_WORDS`.
const MIN_WORDS: usize = 80;
const MAX_WORDS: usize = 100;

/// A memory as an agent sends it.
#[derive(Debug, Clone)]
struct Memory {
    content: String,
    tags: Vec<String>,
}

impl Memory {
    fn words(&self) -> usize {
        self.content.split_whitespace().count()
    }
}

/// The hand-written agent memories of the hooks evaluation, by project.
fn real_memories() -> anyhow::Result<BTreeMap<String, Vec<Memory>>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/tests/data/hooks_eval.json");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let eval: Value = serde_json::from_str(&text)?;
    let mut by_project: BTreeMap<String, Vec<Memory>> = BTreeMap::new();
    for memory in eval["memories"].as_array().context("hooks_eval.json: no memories")? {
        let (Some(project), Some(content)) =
            (memory["project"].as_str(), memory["content"].as_str())
        else {
            bail!("hooks_eval.json: a memory without project or content");
        };
        let tags = memory["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        by_project
            .entry(project.to_owned())
            .or_default()
            .push(Memory { content: content.to_owned(), tags });
    }
    Ok(by_project)
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
        if word.ends_with(['.', '!', '?']) {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `n` distinct memories of `MIN_WORDS`–`MAX_WORDS` words, each made of sentences of one
/// project's real memories (so it reads like that project's notes), tagged like the memory its
/// first sentence came from. `used` holds the sentence choices already handed out.
fn uniform_memories(
    real: &BTreeMap<String, Vec<Memory>>,
    n: usize,
    rng: &mut Xorshift,
    used: &mut HashSet<Vec<(usize, usize)>>,
) -> Vec<Memory> {
    let pools: Vec<Vec<(String, Vec<String>)>> = real
        .values()
        .map(|memories| {
            memories
                .iter()
                .flat_map(|m| sentences(&m.content).into_iter().map(|s| (s, m.tags.clone())))
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let project = (rng.next() % pools.len() as u64) as usize;
        let pool = &pools[project];
        let mut picked: Vec<(usize, usize)> = Vec::new();
        let mut words = 0;
        while words < MIN_WORDS {
            let at = (rng.next() % pool.len() as u64) as usize;
            if picked.iter().any(|&(_, p)| p == at) {
                continue;
            }
            picked.push((project, at));
            words += pool[at].0.split_whitespace().count();
        }
        if words > MAX_WORDS || !used.insert(picked.clone()) {
            continue;
        }
        let content =
            picked.iter().map(|&(_, at)| pool[at].0.as_str()).collect::<Vec<_>>().join(" ");
        let tags = pool[picked[0].1].1.clone();
        out.push(Memory { content, tags });
    }
    out
}

/// An MCP session with the stdio sidecar, as an agent holds one.
struct Sidecar {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Sidecar {
    fn start(home: &Path) -> anyhow::Result<Self> {
        let mut child = annal(home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().context("sidecar stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("sidecar stdout")?);
        let mut sidecar = Self { child, stdin: Some(stdin), stdout, next_id: 1 };
        sidecar.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "writes-bench", "version": "0"}}),
        )?;
        sidecar.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok(sidecar)
    }

    fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("sidecar stdin closed")?;
        writeln!(stdin, "{message}")?;
        stdin.flush()?;
        Ok(())
    }

    /// Sends a request and returns its `result`, skipping anything else the server sends.
    fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("the sidecar closed its output waiting for {method}");
            }
            let message: Value = serde_json::from_str(&line)
                .with_context(|| format!("not JSON from the sidecar: {line}"))?;
            if message["id"] != json!(id) {
                continue;
            }
            if let Some(error) = message.get("error") {
                bail!("{method} failed: {error}");
            }
            return message.get("result").cloned().context("an answer without result");
        }
    }

    /// Calls a tool; returns the time to its answer and the answer's text. A tool error fails.
    fn call(&mut self, tool: &str, arguments: Value) -> anyhow::Result<(Duration, String)> {
        let started = Instant::now();
        let result = self.request("tools/call", json!({"name": tool, "arguments": arguments}))?;
        let spent = started.elapsed();
        let text = result["content"][0]["text"].as_str().unwrap_or_default().to_owned();
        if result["isError"].as_bool().unwrap_or(false) {
            bail!("{tool} answered an error: {text}");
        }
        Ok((spent, text))
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        // The end of its input ends the session.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// What the stores reported, from the tools' text.
#[derive(Debug, Default)]
struct Outcomes {
    stored: usize,
    similar: usize,
    skipped: usize,
}

impl Outcomes {
    fn note(&mut self, text: &str) {
        for line in text.lines() {
            if line.contains("Skipped") {
                self.skipped += 1;
            } else if line.contains("Stored memory") {
                self.stored += 1;
                if line.contains("similar") {
                    self.similar += 1;
                }
            }
        }
    }
}

impl std::fmt::Display for Outcomes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {} / {}", self.stored, self.similar, self.skipped)
    }
}

/// Time on a CPU and time runnable but waiting for one, summed over a process's threads, from
/// the scheduler's per-thread counters (nanoseconds, unlike the 10 ms ticks of `stat`). A
/// thread that ends between two samples takes its share with it; deltas saturate at zero.
fn sched(pid: u32) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return (0, 0) };
    let mut totals = (0, 0);
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else { continue };
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().unwrap_or(0));
        totals.0 += fields.next().unwrap_or(0);
        totals.1 += fields.next().unwrap_or(0);
    }
    totals
}

/// What one call cost, beyond its wall time: the measured process's CPU time and run-queue
/// wait, and whether the database file itself was written meanwhile. In WAL mode only a
/// checkpoint writes `annal.db` (commits go to `annal.db-wal`), so its mtime moving during a
/// call means a checkpoint ran in it.
#[derive(Debug, Clone, Copy)]
struct Call {
    wall: Duration,
    cpu: Duration,
    wait: Duration,
    checkpoint: bool,
}

/// Samples a process (the owner, or this one) around each call.
struct Probe {
    pid: u32,
    database: Option<std::path::PathBuf>,
}

impl Probe {
    fn mtime(&self) -> Option<std::time::SystemTime> {
        self.database.as_ref().and_then(|db| std::fs::metadata(db).and_then(|m| m.modified()).ok())
    }

    fn measure<T>(&self, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(Call, T)> {
        let (cpu, wait) = sched(self.pid);
        let mtime = self.mtime();
        let started = Instant::now();
        let out = f()?;
        let wall = started.elapsed();
        let (cpu_after, wait_after) = sched(self.pid);
        let call = Call {
            wall,
            cpu: Duration::from_nanos(cpu_after.saturating_sub(cpu)),
            wait: Duration::from_nanos(wait_after.saturating_sub(wait)),
            checkpoint: self.database.is_some() && self.mtime() != mtime,
        };
        Ok((call, out))
    }
}

/// p50, p95, max (ms).
fn profile(times: impl IntoIterator<Item = Duration>) -> (f64, f64, f64) {
    let mut sorted: Vec<Duration> = times.into_iter().collect();
    sorted.sort();
    (quantile(&sorted, 0.5), quantile(&sorted, 0.95), quantile(&sorted, 1.0))
}

fn mean_ms(calls: &[&Call], of: impl Fn(&Call) -> Duration) -> f64 {
    calls.iter().map(|c| of(c).as_secs_f64()).sum::<f64>() * 1e3 / calls.len().max(1) as f64
}

/// One set of `store_memory` calls and, when paced, the in-process embedding of the same texts.
struct StoreRun {
    name: &'static str,
    words: (usize, usize),
    outcomes: Outcomes,
    sidecar: Vec<Call>,
    embed: Option<Vec<Call>>,
}

impl StoreRun {
    fn latency_row(&self) {
        let (s50, s95, smax) = profile(self.sidecar.iter().map(|c| c.wall));
        let embed = match &self.embed {
            Some(embed) => {
                let (e50, e95, emax) = profile(embed.iter().map(|c| c.wall));
                format!("{e50:.1} | {e95:.1} | {emax:.1} | {:.2} | {:.1}", e95 / e50, s50 - e50)
            }
            None => "– | – | – | – | –".to_owned(),
        };
        println!(
            "| {} | {} | {}–{} | {} | {s50:.1} | {s95:.1} | {smax:.1} | **{:.2}** | {embed} |",
            self.name,
            self.sidecar.len(),
            self.words.0,
            self.words.1,
            self.outcomes,
            s95 / s50,
        );
    }

    /// Where the time of the slowest 5% of calls went, against the other 95%.
    fn breakdown_rows(&self) {
        let paths = [
            Some(("store_memory (owner)", &self.sidecar, true)),
            self.embed.as_ref().map(|embed| ("embed_one (in-process)", embed, false)),
        ];
        for (path, calls, on_database) in paths.into_iter().flatten() {
            let (c50, c95, _) = profile(calls.iter().map(|c| c.cpu));
            let (w50, w95, _) = profile(calls.iter().map(|c| c.wait));
            let mut by_wall: Vec<&Call> = calls.iter().collect();
            by_wall.sort_by_key(|c| std::cmp::Reverse(c.wall));
            let (slow, rest) = by_wall.split_at(calls.len().div_ceil(20));
            let checkpoints = |calls: &[&Call]| {
                if on_database {
                    calls.iter().filter(|c| c.checkpoint).count().to_string()
                } else {
                    "–".to_owned()
                }
            };
            let split = |calls: &[&Call]| {
                format!(
                    "{:.1} / {:.1} / {:.1} / {}",
                    mean_ms(calls, |c| c.wall),
                    mean_ms(calls, |c| c.cpu),
                    mean_ms(calls, |c| c.wait),
                    checkpoints(calls)
                )
            };
            let with_checkpoint: Vec<&Call> =
                by_wall.iter().copied().filter(|c| c.checkpoint).collect();
            let checkpointed = if on_database {
                format!("{} / {:.1}", with_checkpoint.len(), mean_ms(&with_checkpoint, |c| c.wall))
            } else {
                "–".to_owned()
            };
            println!(
                "| {} | {path} | {c50:.1} / {c95:.1} | {w50:.1} / {w95:.1} | {} | {} | {checkpointed} |",
                self.name,
                split(slow),
                split(rest)
            );
        }
    }
}

/// Stores each memory with its own `store_memory` call, `projects[i % len]` for the i-th,
/// running `after` (unmeasured here) between one call and the next.
fn store_each(
    sidecar: &mut Sidecar,
    owner: &Probe,
    memories: &[Memory],
    projects: &[&str],
    mut after: impl FnMut(&Memory) -> anyhow::Result<()>,
) -> anyhow::Result<(Vec<Call>, Outcomes)> {
    let mut stores = Vec::with_capacity(memories.len());
    let mut outcomes = Outcomes::default();
    for (i, memory) in memories.iter().enumerate() {
        let arguments = json!({"project": projects[i % projects.len()], "content": memory.content,
                               "tags": memory.tags, "source": "writes-bench"});
        let (call, (_, text)) = owner.measure(|| sidecar.call("store_memory", arguments))?;
        outcomes.note(&text);
        stores.push(call);
        after(memory)?;
    }
    Ok((stores, outcomes))
}

/// After each store, the same text embedded in-process: the two see the machine in the same
/// state, call by call. Each operation is followed by `PAUSE`, so that neither process's
/// leftover work (candle's pool threads spin a little before they park; the owner persists a
/// store's event after answering) runs into the other's measurement.
fn paced_with_embedding<'a>(
    runtime: &'a tokio::runtime::Runtime,
    service: &'a EmbedService,
    own: &'a Probe,
    embeds: &'a mut Vec<Call>,
) -> impl FnMut(&Memory) -> anyhow::Result<()> + 'a {
    move |memory| {
        std::thread::sleep(PAUSE);
        let content = memory.content.clone();
        let (call, _) = own.measure(|| Ok(runtime.block_on(service.embed_one(content))?))?;
        embeds.push(call);
        std::thread::sleep(PAUSE);
        Ok(())
    }
}

fn word_range(memories: &[Memory]) -> (usize, usize) {
    let words = memories.iter().map(Memory::words);
    (words.clone().min().unwrap_or(0), words.max().unwrap_or(0))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let real = real_memories()?;
    let mut rng = Xorshift::seeded(0x5752_4954);
    let mut used = HashSet::new();
    let uniform = uniform_memories(&real, CALLS, &mut rng, &mut used);
    let batched = uniform_memories(&real, BATCH * BATCHES, &mut rng, &mut used);
    let warm_up = uniform_memories(&real, WARM_UP, &mut rng, &mut used);
    let mixed: Vec<Memory> = real.values().flatten().cloned().collect();
    // Consecutive calls store one text in two projects, so each call stores (no duplicate).
    let mixed_twice: Vec<Memory> =
        mixed.iter().flat_map(|m| [m.clone(), m.clone()]).take(CALLS).collect();
    let load_at_start = load_average();

    let home = home()?;
    let owner = Owner::start(home.path())?;
    let owner_probe = Probe {
        pid: owner.0.id(),
        database: Some(home.path().join("data").join(annal::store::DATABASE_FILE)),
    };
    let own_probe = Probe { pid: std::process::id(), database: None };
    let mut sidecar = Sidecar::start(home.path())?;
    let search = ModelSearch { env_dir: Some(model_dir()), ..Default::default() };
    let service = EmbedService::minilm(search);

    let mut warm_embeds = Vec::new();
    let warming = paced_with_embedding(&runtime, &service, &own_probe, &mut warm_embeds);
    store_each(&mut sidecar, &owner_probe, &warm_up, &["warm-up"], warming)?;

    let mut runs = Vec::new();
    for (name, memories, projects) in [
        ("(a) uniform", &uniform, &["uniform"][..]),
        ("(b) mixed (hooks_eval.json)", &mixed_twice, &["mixed-a", "mixed-b"][..]),
    ] {
        let mut embeds = Vec::with_capacity(memories.len());
        let paced = paced_with_embedding(&runtime, &service, &own_probe, &mut embeds);
        let (stores, outcomes) = store_each(&mut sidecar, &owner_probe, memories, projects, paced)?;
        runs.push(StoreRun {
            name,
            words: word_range(memories),
            outcomes,
            sidecar: stores,
            embed: Some(embeds),
        });
    }
    // The uniform texts again, in a project of their own, each call sent as soon as the last is
    // answered: what the owner's work after an answer (the event it persists, a checkpoint) adds
    // when it overlaps the next call.
    let (stores, outcomes) =
        store_each(&mut sidecar, &owner_probe, &uniform, &["back-to-back"], |_| Ok(()))?;
    runs.push(StoreRun {
        name: "(a) uniform, back-to-back",
        words: word_range(&uniform),
        outcomes,
        sidecar: stores,
        embed: None,
    });

    let mut hop = Vec::with_capacity(HOP_CALLS);
    for _ in 0..HOP_CALLS {
        hop.push(sidecar.call("list_topics", json!({"project": "uniform"}))?.0);
    }

    // Alternating batch by batch, so a change in the machine's load hits both paths alike.
    let mut batch_calls = Vec::with_capacity(BATCHES);
    let mut raw_calls = Vec::with_capacity(BATCHES);
    let mut batch_outcomes = Outcomes::default();
    for chunk in batched.chunks(BATCH) {
        let texts: Vec<String> = chunk.iter().map(|m| m.content.clone()).collect();
        let (raw, _) = own_probe.measure(|| {
            Ok(runtime.block_on(service.embed_windows(texts, Priority::Interactive))?)
        })?;
        raw_calls.push(raw);
        std::thread::sleep(PAUSE);
        let items: Vec<Value> = chunk
            .iter()
            .map(|m| json!({"content": m.content, "tags": m.tags, "source": "writes-bench"}))
            .collect();
        let arguments = json!({"project": "batch", "memories": items});
        let (call, (_, text)) = owner_probe.measure(|| sidecar.call("store_batch", arguments))?;
        batch_outcomes.note(&text);
        batch_calls.push(call);
        std::thread::sleep(PAUSE);
    }
    drop(sidecar);
    drop(owner);
    let load_at_end = load_average();

    println!(
        "\nMachine: {} cores; 1-minute load average {load_at_start} at the start, {load_at_end} at the end (above the core count, latencies include waiting for a CPU: see the run-queue columns).",
        std::thread::available_parallelism().map(usize::from).unwrap_or(0)
    );
    println!(
        "\n`store_memory` through the sidecar, {CALLS} sequential calls a set (ms); (a) and (b) paced, each call followed by the in-process embedding of its text (`embed_one`, same allocator) and {PAUSE:?} pauses:\n"
    );
    println!(
        "| set | calls | words | stored / similar / skipped | p50 | p95 | max | p95 / p50 | embed-only p50 | embed p95 | embed max | embed p95 / p50 | p50 − embed p50 |"
    );
    println!("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in &runs {
        run.latency_row();
    }
    println!(
        "\nWhere the time went (ms a call): the measured process's CPU time (all threads) and its threads' time runnable but waiting for a CPU; the slowest 5% of calls against the rest (means), how many of them overlapped a WAL checkpoint (the database file written), and the calls that did:\n"
    );
    println!(
        "| set | path | CPU p50 / p95 | run-queue wait p50 / p95 | slowest 5%: wall / CPU / wait / checkpoints | other 95%: wall / CPU / wait / checkpoints | calls with a checkpoint: n / mean wall |"
    );
    println!("|---|---|---:|---:|---|---|---|");
    for run in &runs {
        run.breakdown_rows();
    }
    let (h50, h95, hmax) = profile(hop);
    println!(
        "\nSidecar round trip of `list_topics` (embeds nothing), {HOP_CALLS} calls: p50 {h50:.2} ms, p95 {h95:.2} ms, max {hmax:.2} ms."
    );

    let memories = batched.len() as f64;
    let secs = |calls: &[Call], of: fn(&Call) -> Duration| {
        calls.iter().map(|c| of(c).as_secs_f64()).sum::<f64>()
    };
    let (batch_secs, raw_secs) = (secs(&batch_calls, |c| c.wall), secs(&raw_calls, |c| c.wall));
    let (words_min, words_max) = word_range(&batched);
    println!(
        "\n`store_batch` through the sidecar, {BATCHES} batches of {BATCH} uniform memories ({words_min}–{words_max} words), against raw batch embedding of the same texts in-process (`embed_windows(texts, Priority::Interactive)`, what `store_batch` uses), alternating:\n"
    );
    println!(
        "| path | memories/s | batch p50 ms | batch max ms | CPU ms a memory | run-queue wait ms a memory | stored / similar / skipped |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (path, calls, total, outcomes) in [
        ("store_batch (sidecar → owner)", &batch_calls, batch_secs, batch_outcomes.to_string()),
        ("embed in-process", &raw_calls, raw_secs, "–".to_owned()),
    ] {
        let (p50, _, max) = profile(calls.iter().map(|c| c.wall));
        println!(
            "| {path} | {:.1} | {p50:.0} | {max:.0} | {:.1} | {:.1} | {outcomes} |",
            memories / total,
            secs(calls, |c| c.cpu) * 1e3 / memories,
            secs(calls, |c| c.wait) * 1e3 / memories,
        );
    }
    let uniform_wall = profile(runs[0].sidecar.iter().map(|c| c.wall));
    println!(
        "\nstore_batch / raw embedding throughput: **{:.2}** (goal ≥ 0.85). store_memory (a) p95 / p50: **{:.2}** (goal ≤ 2).",
        raw_secs / batch_secs,
        uniform_wall.1 / uniform_wall.0
    );
    Ok(())
}
