//! Import: reads JSONL line by line, validates each line, embeds in batches on the embedding
//! service's bulk queue (agents' requests go first) and restores the memories through the
//! store's writer. Three things overlap: while one batch is embedded, the one before it is
//! written and the one after it is read, so the model never waits for the disk or the input.
//! Ids that exist already are left out before embedding (unless `replace`), so a re-import
//! costs no model time.
//!
//! By default each batch is its own transaction: a bad line stops the import there, and every
//! line before it is stored (the error says how many), so fixing the line and importing again
//! finishes the job (what is stored is skipped). `all_or_nothing` holds everything embedded
//! until the end — about 2 KiB a memory — and stores it in one transaction, so a failure
//! anywhere stores nothing.
//!
//! Each line is screened for secrets as it is parsed, under the policy of the project it goes
//! to: a line refused for a secret is a bad line like any other.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _};

use super::line::{Line, LineError, Parsed, parse_line};
use crate::embed::{EmbedError, Priority};
use crate::memories::Memories;
use crate::project::ProjectName;
use crate::store::{Restore, RestoreCounts, Store, StoreError};

/// Lines embedded and written together.
const BATCH: usize = 256;
/// Longest line accepted: a largest file chunk, every byte escaped, with its metadata.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Which project each line goes to.
#[derive(Debug, Clone)]
pub enum Target {
    /// All lines, whatever their `project` key says.
    Project(ProjectName),
    /// A line's `project` key (an export of all projects), else this one.
    PerLine { default: ProjectName },
}

impl Target {
    /// The project of a line with this `project` key.
    fn resolve<'a>(&'a self, line: Option<&'a ProjectName>) -> &'a ProjectName {
        match (self, line) {
            (Self::Project(project), _) | (Self::PerLine { .. }, Some(project)) => project,
            (Self::PerLine { default }, None) => default,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub target: Target,
    /// Overwrite memories whose id exists, instead of skipping them.
    pub replace: bool,
    /// One transaction for the whole import.
    pub all_or_nothing: bool,
}

/// What an import did (or, in an error, did before it stopped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: u64,
    #[serde(flatten)]
    pub counts: RestoreCounts,
    /// Lines whose text was empty (the reference stored such memories): nothing to remember,
    /// so not stored.
    pub empty: u64,
    /// Agent memories without tags (the reference allowed them), given the tag `untagged`.
    pub untagged: u64,
    /// Lines read whose secrets were replaced by `[redacted:<kind>]` (counted as read, like
    /// `untagged`: one skipped for its stored id counts too).
    pub redacted: u64,
    /// Projects written to, sorted.
    pub projects: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportProblem {
    #[error("line {line}: {error}")]
    Line { line: u64, error: LineError },
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes")]
    TooLong { line: u64 },
    #[error("line {line} is not UTF-8 text")]
    NotUtf8 { line: u64 },
    #[error("line {line}: {error}")]
    StoreAt { line: u64, error: StoreError },
    #[error("reading the input after line {line}: {error}")]
    Read { line: u64, error: std::io::Error },
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An import that stopped, with what it had stored by then.
#[derive(Debug, thiserror::Error)]
#[error("{problem}{}", stored_note(.done))]
pub struct ImportError {
    pub problem: ImportProblem,
    pub done: ImportReport,
}

fn stored_note(done: &ImportReport) -> String {
    match done.counts.stored + done.counts.replaced {
        0 => "; nothing was stored".to_owned(),
        kept => {
            let what = if kept == 1 { "memory" } else { "memories" };
            format!(
                "; the {kept} {what} before it stayed stored (importing again skips them; \
                 --all-or-nothing stores none on a failure)"
            )
        }
    }
}

/// How far an import has come: the input it has read, parsed and embedded so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProgress {
    pub bytes: u64,
    /// Non-blank lines.
    pub lines: u64,
}

/// Imports JSONL from `input` into the store of `memories` (see the module docs), telling
/// `progress` after each batch is embedded.
pub async fn import<R: AsyncBufRead + Unpin>(
    memories: &Memories,
    input: R,
    options: ImportOptions,
    progress: &mut (dyn FnMut(ImportProgress) + Send),
) -> Result<ImportReport, ImportError> {
    let mut lines = Lines {
        input,
        buf: Vec::new(),
        line: 0,
        bytes: 0,
        now: Utc::now(),
        target: options.target,
        memories,
        read: 0,
        empty: 0,
        untagged: 0,
        redacted: 0,
    };
    let mut sink = Sink {
        store: memories.store(),
        replace: options.replace,
        all_or_nothing: options.all_or_nothing,
        counts: RestoreCounts::default(),
        projects: BTreeSet::new(),
        held: Vec::new(),
    };
    let result = run(memories, &mut lines, &mut sink, progress).await;
    let mut done = ImportReport {
        lines: lines.read,
        counts: sink.counts,
        empty: lines.empty,
        untagged: lines.untagged,
        redacted: lines.redacted,
        projects: sink.projects.into_iter().collect(),
    };
    match result {
        Ok(()) => Ok(done),
        Err(problem) => {
            if options.all_or_nothing {
                done.counts = RestoreCounts::default();
                done.projects.clear();
            }
            Err(ImportError { problem, done })
        }
    }
}

async fn run<R: AsyncBufRead + Unpin>(
    memories: &Memories,
    lines: &mut Lines<'_, R>,
    sink: &mut Sink<'_>,
    progress: &mut (dyn FnMut(ImportProgress) + Send),
) -> Result<(), ImportProblem> {
    let mut batch = lines.next_batch().await;
    let mut embedded = Vec::new();
    loop {
        let fresh = sink.unseen(std::mem::take(&mut batch.items)).await?;
        let texts = fresh.iter().map(|p| p.parsed.memory.content.as_str().to_owned()).collect();
        let more = matches!(batch.stop, Stop::More);
        let (vectors, written, next) = tokio::join!(
            memories.embedder().embed_windows(texts, Priority::Bulk),
            sink.write(std::mem::take(&mut embedded)),
            async { if more { lines.next_batch().await } else { Batch::default() } },
        );
        written?;
        embedded = fresh
            .into_iter()
            .zip(vectors?)
            .map(|(pending, vector)| (pending.line, restore(pending, vector)))
            .collect();
        let done = std::mem::replace(&mut batch, next);
        progress(done.read);
        match done.stop {
            Stop::More => {}
            Stop::End => break,
            Stop::Failed(problem) => {
                // Every line before the bad one is stored (held, with `all_or_nothing`).
                sink.write(embedded).await?;
                return Err(problem);
            }
        }
    }
    sink.write(embedded).await?;
    sink.finish().await
}

/// A parsed line: where it came from and where it goes.
struct Pending {
    line: u64,
    project: ProjectName,
    parsed: Parsed,
}

/// Up to [`BATCH`] parsed lines, and why reading stopped there.
#[derive(Default)]
struct Batch {
    items: Vec<Pending>,
    stop: Stop,
    /// The input read up to the batch's end.
    read: ImportProgress,
}

#[derive(Default)]
enum Stop {
    /// The batch is full; there may be more.
    More,
    #[default]
    End,
    /// This line (after the batch's) is bad.
    Failed(ImportProblem),
}

/// The input, read and parsed a line at a time.
struct Lines<'a, R> {
    input: R,
    buf: Vec<u8>,
    /// The number of the last line read.
    line: u64,
    /// Bytes read.
    bytes: u64,
    /// Stands in for a missing `created_at`.
    now: DateTime<Utc>,
    target: Target,
    /// Where each line's secrets policy comes from.
    memories: &'a Memories,
    read: u64,
    empty: u64,
    untagged: u64,
    redacted: u64,
}

impl<R: AsyncBufRead + Unpin> Lines<'_, R> {
    async fn next_batch(&mut self) -> Batch {
        let mut items = Vec::with_capacity(BATCH);
        let stop = loop {
            if items.len() == BATCH {
                break Stop::More;
            }
            match self.next().await {
                Ok(Some(pending)) => items.push(pending),
                Ok(None) => break Stop::End,
                Err(problem) => break Stop::Failed(problem),
            }
        };
        Batch { items, stop, read: ImportProgress { bytes: self.bytes, lines: self.read } }
    }

    /// The next line that holds a memory, or `None` at the end of the input.
    async fn next(&mut self) -> Result<Option<Pending>, ImportProblem> {
        loop {
            self.line += 1;
            let line = self.line;
            match next_line(&mut self.input, &mut self.buf, line).await? {
                0 => return Ok(None),
                read => self.bytes += read as u64,
            }
            let text =
                std::str::from_utf8(&self.buf).map_err(|_| ImportProblem::NotUtf8 { line })?;
            if text.trim().is_empty() {
                continue;
            }
            self.read += 1;
            let (target, memories) = (&self.target, self.memories);
            let policy = |key: Option<&ProjectName>| memories.secrets_for(target.resolve(key));
            let parsed = match parse_line(text, self.now, policy) {
                Ok(Line::Memory(parsed)) => *parsed,
                Ok(Line::Empty) => {
                    self.empty += 1;
                    continue;
                }
                Err(error) => return Err(ImportProblem::Line { line, error }),
            };
            self.untagged += u64::from(parsed.untagged);
            self.redacted += u64::from(parsed.redacted);
            let project = self.target.resolve(parsed.project.as_ref()).clone();
            return Ok(Some(Pending { line, project, parsed }));
        }
    }
}

/// Reads the next line into `buf` (without its newline); how many bytes it took, 0 at the
/// end of the input.
async fn next_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    buf: &mut Vec<u8>,
    line: u64,
) -> Result<usize, ImportProblem> {
    buf.clear();
    let limit = MAX_LINE_BYTES as u64 + 2;
    let read = (&mut *input).take(limit).read_until(b'\n', buf).await;
    let read = read.map_err(|error| ImportProblem::Read { line: line - 1, error })?;
    if buf.len() as u64 >= limit && buf.last() != Some(&b'\n') {
        return Err(ImportProblem::TooLong { line });
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(read)
}

/// Where embedded memories go: the store, a batch per transaction, or held for the one
/// transaction of `all_or_nothing`.
struct Sink<'a> {
    store: &'a Store,
    replace: bool,
    all_or_nothing: bool,
    counts: RestoreCounts,
    projects: BTreeSet<String>,
    held: Vec<(u64, Restore)>,
}

impl Sink<'_> {
    /// The lines whose id is not stored yet (all of them with `replace`); the rest are
    /// counted as skipped.
    async fn unseen(&mut self, batch: Vec<Pending>) -> Result<Vec<Pending>, ImportProblem> {
        if self.replace || batch.is_empty() {
            return Ok(batch);
        }
        let ids = batch.iter().map(|p| p.parsed.memory.id.as_str().to_owned()).collect();
        let existing = self.store.existing_ids(ids).await?;
        let (skipped, fresh): (Vec<Pending>, Vec<Pending>) =
            batch.into_iter().partition(|p| existing.contains(p.parsed.memory.id.as_str()));
        self.counts.skipped += skipped.len() as u64;
        Ok(fresh)
    }

    async fn write(&mut self, batch: Vec<(u64, Restore)>) -> Result<(), ImportProblem> {
        if self.all_or_nothing {
            self.held.extend(batch);
            Ok(())
        } else {
            self.store(batch).await
        }
    }

    async fn finish(&mut self) -> Result<(), ImportProblem> {
        let held = std::mem::take(&mut self.held);
        self.store(held).await
    }

    async fn store(&mut self, batch: Vec<(u64, Restore)>) -> Result<(), ImportProblem> {
        if batch.is_empty() {
            return Ok(());
        }
        let projects: Vec<String> = batch.iter().map(|(_, r)| r.project.to_string()).collect();
        let lines: Vec<(u64, String)> =
            batch.iter().map(|(line, r)| (*line, r.memory.id.as_str().to_owned())).collect();
        let items = batch.into_iter().map(|(_, restore)| restore).collect();
        match self.store.restore(items, self.replace).await {
            Ok(counts) => {
                self.counts.add(counts);
                self.projects.extend(projects);
                Ok(())
            }
            Err(StoreError::IdTaken { id, project }) => {
                let line = lines.iter().find(|(_, i)| *i == id).map_or(0, |(line, _)| *line);
                Err(ImportProblem::StoreAt { line, error: StoreError::IdTaken { id, project } })
            }
            Err(error) => Err(error.into()),
        }
    }
}

fn restore(pending: Pending, vector: Vec<f32>) -> Restore {
    let Parsed { memory, updated_at, last_accessed_at, hit_count, superseded_by, .. } =
        pending.parsed;
    Restore {
        project: pending.project,
        memory,
        updated_at,
        last_accessed_at,
        hit_count,
        superseded_by,
        vector,
    }
}
