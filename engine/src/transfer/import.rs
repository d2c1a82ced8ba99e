//! Import: reads JSONL line by line, validates each line, embeds in batches on the embedding
//! service's bulk queue (agents' requests go first) and restores the memories through the
//! store's writer. While one batch is written the next is embedded.
//!
//! By default each batch is its own transaction: a bad line stops the import there, and the
//! batches before it stay (the error says how many). `all_or_nothing` holds everything until
//! the end and stores it in one transaction, so a failure anywhere stores nothing.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _};

use super::line::{LineError, Parsed, parse_line};
use crate::embed::{EmbedError, Priority};
use crate::memories::Memories;
use crate::project::ProjectName;
use crate::store::{Restore, RestoreCounts, StoreError};

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
    let kept = done.counts.stored + done.counts.replaced;
    if kept == 0 {
        "; nothing was stored".to_owned()
    } else {
        format!(
            "; the {kept} memories before it were stored (--all-or-nothing stores none on a \
             failure)"
        )
    }
}

/// A parsed line: where it came from and where it goes.
struct Pending {
    line: u64,
    project: ProjectName,
    parsed: Parsed,
}

/// Reads the next line into `buf` (without its newline); `false` at the end of the input.
async fn next_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    buf: &mut Vec<u8>,
    line: u64,
) -> Result<bool, ImportProblem> {
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
    Ok(read > 0)
}

/// Imports JSONL from `input` into the store of `memories` (see the module docs).
pub async fn import<R: AsyncBufRead + Unpin>(
    memories: &Memories,
    mut input: R,
    options: ImportOptions,
) -> Result<ImportReport, ImportError> {
    let mut importer = Importer { memories, options, done: ImportReport::default(), held: Vec::new() };
    match importer.run(&mut input).await {
        Ok(()) => Ok(importer.done),
        Err(problem) => {
            if importer.options.all_or_nothing {
                importer.done.counts = RestoreCounts::default();
                importer.done.projects.clear();
            }
            Err(ImportError { problem, done: importer.done })
        }
    }
}

struct Importer<'a> {
    memories: &'a Memories,
    options: ImportOptions,
    done: ImportReport,
    /// Everything embedded so far, for `all_or_nothing`.
    held: Vec<(u64, Restore)>,
}

impl Importer<'_> {
    async fn run<R: AsyncBufRead + Unpin>(&mut self, input: &mut R) -> Result<(), ImportProblem> {
        let now = Utc::now();
        let mut buf = Vec::new();
        let mut line = 0;
        let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
        let mut embedded: Vec<(u64, Restore)> = Vec::new();
        loop {
            line += 1;
            let more = next_line(input, &mut buf, line).await?;
            if more {
                let text = std::str::from_utf8(&buf).map_err(|_| ImportProblem::NotUtf8 { line })?;
                if text.trim().is_empty() {
                    continue;
                }
                self.done.lines += 1;
                let parsed = parse_line(text, now).map_err(|error| ImportProblem::Line { line, error })?;
                let project = match (&self.options.target, &parsed.project) {
                    (Target::Project(project), _) | (Target::PerLine { .. }, Some(project)) => {
                        project.clone()
                    }
                    (Target::PerLine { default }, None) => default.clone(),
                };
                batch.push(Pending { line, project, parsed });
                if batch.len() < BATCH {
                    continue;
                }
            }
            // Embed this batch while the previous one is written.
            let texts = batch.iter().map(|p| p.parsed.memory.content.as_str().to_owned()).collect();
            let memories: &Memories = self.memories;
            let embedder = memories.embedder();
            let previous = std::mem::take(&mut embedded);
            let (vectors, written) =
                tokio::join!(embedder.embed(texts, Priority::Bulk), self.write(previous));
            written?;
            embedded = std::mem::take(&mut batch)
                .into_iter()
                .zip(vectors?)
                .map(|(pending, vector)| (pending.line, restore(pending, vector)))
                .collect();
            if !more {
                break;
            }
        }
        self.write(embedded).await?;
        if self.options.all_or_nothing {
            let held = std::mem::take(&mut self.held);
            self.store(held).await?;
        }
        Ok(())
    }

    /// Stores a batch now, or holds it for the one transaction of `all_or_nothing`.
    async fn write(&mut self, batch: Vec<(u64, Restore)>) -> Result<(), ImportProblem> {
        if self.options.all_or_nothing {
            self.held.extend(batch);
            Ok(())
        } else {
            self.store(batch).await
        }
    }

    async fn store(&mut self, batch: Vec<(u64, Restore)>) -> Result<(), ImportProblem> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut projects: Vec<String> = batch.iter().map(|(_, r)| r.project.to_string()).collect();
        let lines: Vec<(u64, String)> =
            batch.iter().map(|(line, r)| (*line, r.memory.id.as_str().to_owned())).collect();
        let items = batch.into_iter().map(|(_, restore)| restore).collect();
        match self.memories.store().restore(items, self.options.replace).await {
            Ok(counts) => {
                self.done.counts.add(counts);
                projects.extend(std::mem::take(&mut self.done.projects));
                projects.sort_unstable();
                projects.dedup();
                self.done.projects = projects;
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
