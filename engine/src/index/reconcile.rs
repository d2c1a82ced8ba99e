//! Reconcile: afterwards a project's file chunks are exactly those of the matching files on
//! disk. A plain function over (store, embedder, project config); the watcher calls the same
//! per-file routine, [`index_file`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use globset::GlobSet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chunk::{FileKind, chunk_file};
use crate::config::ProjectConfig;
use crate::embed::{EmbedError, EmbedService, Priority};
use crate::memory::{ChunkType, Content, FileInfo, MemoryId, NewMemory, Source, Tags};
use crate::project::ProjectName;
use crate::store::{FileStamp, FileUpdate, Store, StoreError, StoreItem};

/// Files larger than this are skipped.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// Files prepared ahead of the embedder, so reading and chunking overlap with embedding.
const READ_AHEAD: usize = 8;
const AGENT_CONFIG_FILES: &[&str] = &[
    "claude.md",
    "agents.md",
    "gemini.md",
    ".cursorrules",
    ".windsurfrules",
    "copilot-instructions.md",
];

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("watch path {} cannot be read: {source}", .path.display())]
    WatchPath { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("indexing worker failed: {0}")]
    Worker(String),
}

/// A file left out, and why (logged, reported, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What a reconcile did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ReconcileReport {
    pub files_seen: usize,
    pub files_indexed: usize,
    pub files_unchanged: usize,
    pub files_removed: usize,
    pub chunks_embedded: usize,
    pub chunks_kept: usize,
    pub chunks_removed: usize,
    pub skipped: Vec<Skipped>,
    #[ts(type = "number")]
    pub duration_ms: u64,
}

/// Which files of a watch path belong to the project.
#[derive(Debug, Clone)]
pub struct Matcher {
    include: GlobSet,
    exclude: GlobSet,
}

impl Matcher {
    pub fn new(config: &ProjectConfig) -> Result<Self, IndexError> {
        Ok(Self {
            include: crate::config::glob_set("watch_patterns", &config.watch_patterns)?,
            exclude: crate::config::glob_set("watch_exclude", &config.watch_exclude)?,
        })
    }

    /// Whether `relative` (a file path under a watch path) is indexed.
    pub fn wants_file(&self, relative: &Path) -> bool {
        self.include.is_match(relative) && !self.exclude.is_match(relative)
    }

    /// Whether a directory is worth descending into: `**/target/**` excludes `target/`.
    fn wants_dir(&self, relative: &Path) -> bool {
        relative.as_os_str().is_empty() || !self.exclude.is_match(relative.join("_"))
    }

    /// The watch path `path` lies under and whether it is indexed.
    pub fn wants(&self, roots: &[PathBuf], path: &Path) -> bool {
        roots.iter().any(|root| path.strip_prefix(root).is_ok_and(|rel| self.wants_file(rel)))
    }
}

/// A file found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub stamp: FileStamp,
}

fn stamp_of(metadata: &std::fs::Metadata) -> FileStamp {
    let mtime_ns = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    FileStamp { mtime_ns, size: metadata.len() }
}

fn skipped(path: &Path, reason: impl Into<String>) -> Skipped {
    let skipped = Skipped { path: path.display().to_string(), reason: reason.into() };
    tracing::info!(path = %skipped.path, reason = %skipped.reason, "file skipped");
    skipped
}

/// Walks every watch path. A watch path that cannot be read at all is an error (the run
/// fails visibly); anything wrong below it is a skipped file.
pub fn walk(
    config: &ProjectConfig,
    matcher: &Matcher,
) -> Result<(Vec<Found>, Vec<Skipped>), IndexError> {
    let mut found = Vec::new();
    let mut skips = Vec::new();
    let mut seen = HashSet::new();
    for root in &config.watch_paths {
        std::fs::read_dir(root)
            .map_err(|source| IndexError::WatchPath { path: root.clone(), source })?;
        let walker =
            walkdir::WalkDir::new(root).follow_links(true).into_iter().filter_entry(|entry| {
                !entry.file_type().is_dir()
                    || entry.path().strip_prefix(root).is_ok_and(|rel| matcher.wants_dir(rel))
            });
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let path = err.path().map(Path::to_path_buf).unwrap_or_else(|| root.clone());
                    let reason = if err.loop_ancestor().is_some() {
                        "symlink loop".to_string()
                    } else {
                        err.to_string()
                    };
                    skips.push(skipped(&path, reason));
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(relative) = entry.path().strip_prefix(root) else { continue };
            if !matcher.wants_file(relative) || !seen.insert(entry.path().to_path_buf()) {
                continue;
            }
            match entry.metadata() {
                Ok(metadata) if metadata.len() > MAX_FILE_BYTES => {
                    skips
                        .push(skipped(entry.path(), format!("larger than {MAX_FILE_BYTES} bytes")));
                }
                Ok(metadata) => found
                    .push(Found { path: entry.path().to_path_buf(), stamp: stamp_of(&metadata) }),
                Err(err) => skips.push(skipped(entry.path(), err.to_string())),
            }
        }
    }
    Ok((found, skips))
}

/// A file read and chunked, with each chunk's hash.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub path: String,
    pub stamp: FileStamp,
    pub tags: Vec<String>,
    pub chunks: Vec<(String, String, String)>,
}

fn tags_for(path: &Path) -> Vec<String> {
    let mut tags = vec!["indexed".to_string()];
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    if AGENT_CONFIG_FILES.contains(&name.as_str()) {
        tags.push("agent-config".into());
    }
    let under_docs = path.components().any(|c| c.as_os_str().eq_ignore_ascii_case("docs"));
    if name.starts_with("readme") || under_docs {
        tags.push("docs".into());
    }
    tags
}

fn hash(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// Reads and chunks one file (blocking). Unreadable, binary, non-UTF-8 and oversized files
/// come back as [`Skipped`].
pub fn prepare_file(path: &Path, stamp: FileStamp) -> Result<Prepared, Skipped> {
    let bytes = std::fs::read(path).map_err(|e| skipped(path, format!("unreadable: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(skipped(path, format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(skipped(path, "binary file"));
    }
    let text = String::from_utf8(bytes).map_err(|_| skipped(path, "not UTF-8 text"))?;
    let path_text = path.to_str().ok_or_else(|| skipped(path, "path is not UTF-8"))?.to_owned();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(&path_text);
    let kind = FileKind::of(path).unwrap_or(FileKind::Whole);
    let chunks = chunk_file(name, kind, &text)
        .into_iter()
        .map(|chunk| (hash(&chunk.text), chunk.heading_path, chunk.text))
        .collect();
    Ok(Prepared { path: path_text, stamp, tags: tags_for(path), chunks })
}

/// What applying one file did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub embedded: usize,
    pub kept: usize,
    pub removed: usize,
}

/// Brings one file's chunks in line with `prepared`: unchanged chunks (same text hash) stay
/// with their embeddings, new ones are embedded, the rest go — in one transaction.
pub async fn apply_file(
    store: &Store,
    embedder: &EmbedService,
    project: &ProjectName,
    prepared: Prepared,
) -> Result<Applied, IndexError> {
    let existing = store.file_chunks(project, &prepared.path).await?;
    let mut reusable: HashMap<String, Vec<String>> = HashMap::new();
    for (id, chunk_hash) in existing.iter() {
        reusable.entry(chunk_hash.clone()).or_default().push(id.clone());
    }
    let mut keep = Vec::new();
    let mut fresh = Vec::new();
    for (chunk_hash, heading_path, text) in prepared.chunks {
        match reusable.get_mut(&chunk_hash).and_then(Vec::pop) {
            Some(id) => keep.push(id),
            None => fresh.push((chunk_hash, heading_path, text)),
        }
    }
    let vectors =
        embedder.embed(fresh.iter().map(|(_, _, t)| t.clone()).collect(), Priority::Bulk).await?;
    let mut add = Vec::with_capacity(fresh.len());
    for ((chunk_hash, heading_path, text), vector) in fresh.into_iter().zip(vectors) {
        let Ok(content) = Content::new(text, ChunkType::FileIndexed) else { continue };
        let memory = NewMemory {
            id: MemoryId::generate(),
            content,
            tags: Tags::new(&prepared.tags).map_err(StoreError::from)?,
            source: Source::new(format!("file:{}|{heading_path}", prepared.path))
                .map_err(StoreError::from)?,
            chunk_type: ChunkType::FileIndexed,
            created_at: chrono::Utc::now(),
            file: Some(FileInfo {
                path: prepared.path.clone(),
                mtime_ns: prepared.stamp.mtime_ns,
                size: prepared.stamp.size,
                chunk_hash,
            }),
        };
        add.push(StoreItem { memory, vector, supersedes: None });
    }
    let applied =
        Applied { embedded: add.len(), kept: keep.len(), removed: existing.len() - keep.len() };
    store
        .replace_file(project, FileUpdate { path: prepared.path, stamp: prepared.stamp, keep, add })
        .await?;
    Ok(applied)
}

/// The per-file routine for one path that changed on disk (the watcher's entry point): indexes
/// it if it exists and matches, forgets it otherwise.
pub async fn index_file(
    store: &Store,
    embedder: &EmbedService,
    project: &ProjectName,
    config: &ProjectConfig,
    path: &Path,
) -> Result<Option<Skipped>, IndexError> {
    let matcher = Matcher::new(config)?;
    let owned = path.to_path_buf();
    let metadata = tokio::task::spawn_blocking(move || std::fs::metadata(owned))
        .await
        .map_err(|e| IndexError::Worker(e.to_string()))?;
    let path_text = path.display().to_string();
    let metadata = match metadata {
        Ok(m) if m.is_file() && matcher.wants(&config.watch_paths, path) => m,
        _ => {
            store.remove_files(project, vec![path_text]).await?;
            return Ok(None);
        }
    };
    let stamp = stamp_of(&metadata);
    let owned = path.to_path_buf();
    let prepared = tokio::task::spawn_blocking(move || prepare_file(&owned, stamp))
        .await
        .map_err(|e| IndexError::Worker(e.to_string()))?;
    match prepared {
        Ok(prepared) => {
            apply_file(store, embedder, project, prepared).await?;
            Ok(None)
        }
        Err(skip) => {
            store.remove_files(project, vec![path_text]).await?;
            Ok(Some(skip))
        }
    }
}

/// Makes the project's file chunks exactly those of the matching files on disk. `progress`
/// is called with the number of files done so far.
pub async fn reconcile(
    store: &Store,
    embedder: &EmbedService,
    project: &ProjectName,
    config: &ProjectConfig,
    progress: &(dyn Fn(usize) + Send + Sync),
) -> Result<ReconcileReport, IndexError> {
    let started = Instant::now();
    let matcher = Matcher::new(config)?;
    let walk_config = config.clone();
    let (found, mut skips) = tokio::task::spawn_blocking(move || walk(&walk_config, &matcher))
        .await
        .map_err(|e| IndexError::Worker(e.to_string()))??;
    let known = match store.indexed_files(project).await {
        Ok(known) => known,
        Err(StoreError::UnknownProject { .. }) => HashMap::new(),
        Err(err) => return Err(err.into()),
    };
    let mut report = ReconcileReport { files_seen: found.len(), ..ReconcileReport::default() };

    let on_disk: HashSet<String> = found.iter().map(|f| f.path.display().to_string()).collect();
    let gone: Vec<String> = known.keys().filter(|p| !on_disk.contains(*p)).cloned().collect();
    report.files_removed = gone.len();
    report.chunks_removed += store.remove_files(project, gone).await?;

    let changed: Vec<Found> = found
        .into_iter()
        .filter(|f| known.get(&f.path.display().to_string()) != Some(&f.stamp))
        .collect();
    report.files_unchanged = report.files_seen - changed.len();
    let skipped_paths: Vec<String>;
    {
        // Reading and chunking run ahead on a blocking thread while this task embeds and
        // writes, so the embedder is never idle waiting for the disk.
        let (sender, mut receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
        let reader = tokio::task::spawn_blocking(move || {
            for file in changed {
                let prepared = prepare_file(&file.path, file.stamp);
                if sender.blocking_send(prepared).is_err() {
                    break;
                }
            }
        });
        let mut done = 0;
        let mut skipped_here = Vec::new();
        while let Some(prepared) = receiver.recv().await {
            match prepared {
                Ok(prepared) => {
                    let applied = apply_file(store, embedder, project, prepared).await?;
                    report.files_indexed += 1;
                    report.chunks_embedded += applied.embedded;
                    report.chunks_kept += applied.kept;
                    report.chunks_removed += applied.removed;
                }
                Err(skip) => {
                    skipped_here.push(skip.path.clone());
                    skips.push(skip);
                }
            }
            done += 1;
            progress(report.files_unchanged + done);
        }
        reader.await.map_err(|e| IndexError::Worker(e.to_string()))?;
        skipped_paths = skipped_here;
    }
    // A file that became unreadable or binary must not keep its old chunks.
    report.chunks_removed += store.remove_files(project, skipped_paths).await?;
    report.skipped = skips;
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}
