//! Reconcile: afterwards a project's file chunks are exactly those of the matching files on
//! disk. A plain function over (store, embedder, project config); the watcher calls the same
//! per-file routine, [`index_file`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf, is_separator};
use std::time::{Instant, UNIX_EPOCH};

use futures_util::StreamExt;
use globset::{Candidate, GlobSet};
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
        // One candidate for both sets: `is_match` would split the path into name and
        // extension again for each.
        let candidate = Candidate::new(relative);
        self.include.is_match_candidate(&candidate) && !self.exclude.is_match_candidate(&candidate)
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

/// A file's stamp as reconcile and the code-link check compare it.
pub(crate) fn stamp_of(metadata: &std::fs::Metadata) -> FileStamp {
    let mtime_ns = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    FileStamp { mtime_ns, size: metadata.len() }
}

/// `path`, found by walking `root`, relative to it. walkdir makes every path by joining names
/// onto `root`, so comparing the text is enough; `Path::strip_prefix` compares component by
/// component, which cost the walk twice what both glob sets do.
fn relative_to<'a>(root: &Path, path: &'a Path) -> Option<&'a Path> {
    if let (Some(root_text), Some(path_text)) = (root.to_str(), path.to_str())
        && let Some(rest) = path_text.strip_prefix(root_text)
        && (rest.is_empty() || rest.starts_with(is_separator) || root_text.ends_with(is_separator))
    {
        return Some(Path::new(rest.trim_start_matches(is_separator)));
    }
    path.strip_prefix(root).ok()
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
    // One walk never yields a path twice (each is its directory's path and a name), so only a
    // second watch path (inside the first, or the same one again) needs the paths seen.
    let overlap_possible = config.watch_paths.len() > 1;
    let mut seen = HashSet::new();
    for root in &config.watch_paths {
        std::fs::read_dir(root)
            .map_err(|source| IndexError::WatchPath { path: root.clone(), source })?;
        let walker =
            walkdir::WalkDir::new(root).follow_links(true).into_iter().filter_entry(|entry| {
                !entry.file_type().is_dir()
                    || relative_to(root, entry.path()).is_some_and(|rel| matcher.wants_dir(rel))
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
            let Some(relative) = relative_to(root, entry.path()) else { continue };
            if !matcher.wants_file(relative)
                || (overlap_possible && !seen.insert(entry.path().to_path_buf()))
            {
                continue;
            }
            match entry.metadata() {
                Ok(metadata) if metadata.len() > MAX_FILE_BYTES => {
                    skips
                        .push(skipped(entry.path(), format!("larger than {MAX_FILE_BYTES} bytes")));
                }
                Ok(metadata) => {
                    found.push(Found { path: entry.into_path(), stamp: stamp_of(&metadata) });
                }
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

/// The hash a chunk's text is known by (a chunk whose text hash is unchanged is kept).
pub fn text_hash(text: &str) -> String {
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
        .map(|chunk| (text_hash(&chunk.text), chunk.heading_path, chunk.text))
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
    let vectors = embedder
        .embed_windows(fresh.iter().map(|(_, _, t)| t.clone()).collect(), Priority::Bulk)
        .await?;
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
            links: Vec::new(),
            redacted: String::new(),
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

/// The text a file's record is looked up by: its path's, lossy for a path that is not UTF-8
/// (which never gets a record of its own: [`prepare_file`] skips it). Borrowed for a UTF-8
/// path, so comparing allocates nothing.
fn record_key(path: &Path) -> Cow<'_, str> {
    path.to_string_lossy()
}

/// Sets the files found against the store's records, one lookup each: the files whose record
/// is missing or differs, how many are unchanged, and the recorded files not found.
fn compare(
    known: &HashMap<String, FileStamp>,
    found: Vec<Found>,
) -> (Vec<Found>, usize, Vec<String>) {
    let (mut changed, mut unchanged) = (Vec::new(), Vec::new());
    // Found files with a UTF-8 path that has a record.
    let mut recorded = 0;
    for file in found {
        let key = record_key(&file.path);
        let record = known.get(key.as_ref());
        if record.is_some() && matches!(key, Cow::Borrowed(_)) {
            recorded += 1;
        }
        if record == Some(&file.stamp) {
            unchanged.push(file);
        } else {
            changed.push(file);
        }
    }
    // Found paths are distinct (walk), so their UTF-8 texts are too: when as many of them have
    // a record as there are records, every record was found, and the usual case needs no set
    // of the paths on disk.
    let gone = if recorded == known.len() {
        Vec::new()
    } else {
        let on_disk: HashSet<Cow<'_, str>> =
            changed.iter().chain(&unchanged).map(|f| record_key(&f.path)).collect();
        known.keys().filter(|path| !on_disk.contains(path.as_str())).cloned().collect()
    };
    (changed, unchanged.len(), gone)
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
    // The store's records are read (on its reader thread) while the tree is walked.
    let walking = tokio::task::spawn_blocking(move || walk(&walk_config, &matcher));
    let known = store.indexed_files(project).await;
    let (found, mut skips) = walking.await.map_err(|e| IndexError::Worker(e.to_string()))??;
    let known = match known {
        Ok(known) => known,
        Err(StoreError::UnknownProject { .. }) => HashMap::new(),
        Err(err) => return Err(err.into()),
    };
    let (changed, files_unchanged, gone) = compare(&known, found);
    let mut report = ReconcileReport {
        files_seen: changed.len() + files_unchanged,
        files_unchanged,
        files_removed: gone.len(),
        ..ReconcileReport::default()
    };
    report.chunks_removed += store.remove_files(project, gone).await?;
    // Usually nothing changed; then no reader is started: on a busy machine a round trip to a
    // blocking thread can cost as much as comparing the benchmark's 50,000 files.
    if !changed.is_empty() {
        // Reading and chunking run ahead on a blocking thread while this task embeds and
        // writes, so the embedder is never idle waiting for the disk.
        let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
        let reader = tokio::task::spawn_blocking(move || {
            for file in changed {
                let prepared = prepare_file(&file.path, file.stamp);
                if sender.blocking_send(prepared).is_err() {
                    break;
                }
            }
        });
        let incoming = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|prepared| (prepared, receiver))
        });
        // Files in flight, one per embedding lane: a file is often a single slice, and with one
        // file at a time the other lanes would idle until its write is done.
        let applying = incoming
            .map(|prepared| async move {
                match prepared {
                    Ok(prepared) => apply_file(store, embedder, project, prepared).await.map(Ok),
                    Err(skip) => Ok(Err(skip)),
                }
            })
            .buffered(embedder.lanes());
        let mut applying = std::pin::pin!(applying);
        let mut done = 0;
        let mut skipped_paths = Vec::new();
        while let Some(result) = applying.next().await {
            match result? {
                Ok(applied) => {
                    report.files_indexed += 1;
                    report.chunks_embedded += applied.embedded;
                    report.chunks_kept += applied.kept;
                    report.chunks_removed += applied.removed;
                }
                Err(skip) => {
                    skipped_paths.push(skip.path.clone());
                    skips.push(skip);
                }
            }
            done += 1;
            progress(report.files_unchanged + done);
        }
        reader.await.map_err(|e| IndexError::Worker(e.to_string()))?;
        // A file that became unreadable or binary must not keep its old chunks.
        report.chunks_removed += store.remove_files(project, skipped_paths).await?;
    }
    report.skipped = skips;
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_those_strip_prefix_gives() {
        for root in ["/x", "/x/", "/x//", "/x/.", "/", ".", "./docs", "a//b"] {
            let root = Path::new(root);
            for path in [root.to_path_buf(), root.join("a.md"), root.join("sub/b.md")] {
                assert_eq!(relative_to(root, &path), path.strip_prefix(root).ok(), "{path:?}");
            }
        }
        assert_eq!(relative_to(Path::new("/x"), Path::new("/xy/a.md")), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_path_reached_from_two_watch_paths_is_found_once() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).expect("mkdir");
        std::fs::write(root.join("a.md"), "# A\n").expect("write");
        std::fs::write(root.join("sub/b.md"), "# B\n").expect("write");
        std::os::unix::fs::symlink(root.join("sub"), root.join("link")).expect("link");
        let config = ProjectConfig {
            watch_paths: vec![root.to_path_buf(), root.join("sub"), root.to_path_buf()],
            ..ProjectConfig::default()
        };
        let (found, skips) = walk(&config, &Matcher::new(&config).expect("matcher")).expect("walk");
        let mut paths: Vec<&Path> =
            found.iter().filter_map(|f| f.path.strip_prefix(root).ok()).collect();
        paths.sort();
        // The symlinked directory's file is found under its own path, as it is indexed.
        assert_eq!(paths, ["a.md", "link/b.md", "sub/b.md"].map(Path::new));
        assert!(skips.is_empty(), "{skips:?}");
    }

    fn stamp(size: u64) -> FileStamp {
        FileStamp { mtime_ns: 1, size }
    }

    fn found(files: &[(&str, u64)]) -> Vec<Found> {
        files
            .iter()
            .map(|&(path, size)| Found { path: PathBuf::from(path), stamp: stamp(size) })
            .collect()
    }

    /// [`compare`] with the changed files' paths and the gone paths sorted.
    fn compared(
        known: &HashMap<String, FileStamp>,
        found: Vec<Found>,
    ) -> (Vec<PathBuf>, usize, Vec<String>) {
        let (changed, unchanged, mut gone) = compare(known, found);
        gone.sort();
        (changed.into_iter().map(|f| f.path).collect(), unchanged, gone)
    }

    #[test]
    fn comparing_finds_the_changed_new_and_gone_files() {
        let known: HashMap<String, FileStamp> =
            [("/r/a.md", stamp(1)), ("/r/b.md", stamp(1))].map(|(p, s)| (p.to_owned(), s)).into();
        let (changed, unchanged, gone) =
            compared(&known, found(&[("/r/a.md", 1), ("/r/b.md", 2), ("/r/c.md", 1)]));
        assert_eq!(changed, ["/r/b.md", "/r/c.md"].map(PathBuf::from));
        assert_eq!((unchanged, gone), (1, Vec::<String>::new()));
        let (changed, unchanged, gone) = compared(&known, found(&[("/r/a.md", 1), ("/r/c.md", 1)]));
        assert_eq!(changed, ["/r/c.md"].map(PathBuf::from));
        assert_eq!((unchanged, gone), (1, vec!["/r/b.md".to_owned()]));
        let (changed, unchanged, gone) = compared(&known, Vec::new());
        assert!(changed.is_empty());
        assert_eq!((unchanged, gone), (0, vec!["/r/a.md".to_owned(), "/r/b.md".to_owned()]));
    }

    #[cfg(unix)]
    #[test]
    fn a_record_is_looked_up_by_the_lossy_text_of_a_path_that_is_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(b"/r/caf\xe9.md"));
        let known: HashMap<String, FileStamp> = [(path.display().to_string(), stamp(1))].into();
        assert_eq!(record_key(&path), path.display().to_string());
        let (changed, unchanged, gone) = compared(&known, vec![Found { path, stamp: stamp(1) }]);
        assert!(changed.is_empty() && gone.is_empty(), "{changed:?} {gone:?}");
        assert_eq!(unchanged, 1);
    }
}
