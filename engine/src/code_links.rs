//! Code-linked memories. An agent memory that names files of its project (a path under one of
//! the project's watch paths, relative to one or absolute, bare or as `path:line`) is linked to
//! each of those files with the file's content hash at the time. When the watcher or a
//! reconcile sees a linked file changed, deleted or renamed, the memory is marked for review,
//! so a note about code that has since been rewritten says so wherever it is shown.
//!
//! Only files that exist when the memory is written are linked: a name that resolves to no file
//! is prose, not a reference. Source files need not be indexed: the links look at the tree
//! the watcher covers, whatever the indexing patterns say.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use globset::GlobSet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, ProjectConfig};
use crate::events::{EventBus, EventDetail};
use crate::index::reconcile::stamp_of;
use crate::project::ProjectName;
use crate::store::{FileStamp, Store, StoreError};

/// Most files one memory is linked to; a memory naming more is a listing, not a note about them.
pub const MAX_LINKS: usize = 32;
/// Most path-like words of one memory looked up on disk (each costs a `stat`).
const MAX_CANDIDATES: usize = 256;
/// Files larger than this are not linked (hashing them would cost more than the link is worth).
pub const MAX_LINKED_BYTES: u64 = 16 * 1024 * 1024;
/// Most same-size files of a directory hashed to tell a rename from a deletion.
const MAX_RENAME_CANDIDATES: usize = 64;

/// A memory's link to one file as it was when the memory was written (or last confirmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLink {
    /// The absolute path, as the watcher reports it.
    pub path: String,
    /// The line the memory named (`path:12`), if any.
    pub line: Option<u32>,
    /// SHA-256 of the file's bytes.
    pub hash: String,
    /// The file's stamp when last looked at, so an untouched file is not hashed again.
    pub stamp: FileStamp,
}

/// Why a memory needs a person (or its agent) to look at it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// A linked file's content is not what it was when the memory was written.
    Changed,
    /// A linked file is gone.
    Deleted,
    /// A linked file moved (`to` says where; the link follows it).
    Renamed,
}

impl ReviewReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Deleted => "deleted",
            Self::Renamed => "renamed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Changed, Self::Deleted, Self::Renamed].into_iter().find(|r| r.as_str() == text)
    }
}

/// A memory's review mark: set by the first change seen to a linked file, cleared when the
/// memory is confirmed or edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Review {
    pub reason: ReviewReason,
    pub path: String,
    /// Where a renamed file went.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub to: Option<String>,
    pub since: chrono::DateTime<chrono::Utc>,
}

impl std::fmt::Display for Review {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = self.since.format("%Y-%m-%d");
        match &self.to {
            Some(to) => write!(f, "{} was renamed to {to} on {since}", self.path),
            None => write!(f, "{} was {} on {since}", self.path, self.reason.as_str()),
        }
    }
}

/// The files a project's memories may link to: under its watch paths, not excluded.
#[derive(Debug, Clone)]
pub struct Roots {
    roots: Vec<PathBuf>,
    exclude: GlobSet,
}

impl Roots {
    pub fn of(config: &ProjectConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            roots: config.watch_paths.clone(),
            exclude: crate::config::glob_set("watch_exclude", &config.watch_exclude)?,
        })
    }

    /// The file `mention` names, when it is one of the project's: an absolute path under a
    /// watch path, or a relative one found under the first watch path that has it.
    fn resolve(&self, mention: &str) -> Option<PathBuf> {
        let path = Path::new(mention);
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return None;
        }
        let candidates: Vec<PathBuf> = if path.is_absolute() {
            vec![path.to_path_buf()]
        } else {
            let relative = path.strip_prefix(".").unwrap_or(path);
            self.roots.iter().map(|root| root.join(relative)).collect()
        };
        candidates.into_iter().find(|candidate| self.covers(candidate) && candidate.is_file())
    }

    fn covers(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| {
            path.strip_prefix(root)
                .is_ok_and(|rel| !rel.as_os_str().is_empty() && !self.exclude.is_match(rel))
        })
    }
}

/// The path-like words of `text` with the line they name: `src/a.rs`, `./b.md:12`, `c.rs:3:7`,
/// `d.rs#L40`, `/abs/e.toml`, in backticks, quotes or brackets or not. A word is path-like when
/// it has a `/` or a file extension; URLs are not.
pub fn mentions(text: &str) -> Vec<(&str, Option<u32>)> {
    let is_path_char =
        |c: char| c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | ':' | '#' | '+' | '@');
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for word in text.split(|c: char| !is_path_char(c)) {
        if word.contains("://") || word.starts_with("//") {
            continue;
        }
        let word = word.trim_end_matches(['.', ':', ',', ';']);
        let (path, line) = split_line(word);
        let path = path.trim_end_matches(['.', ':']);
        let name = path.rsplit('/').next().unwrap_or(path);
        let has_extension = name
            .rsplit_once('.')
            .is_some_and(|(stem, ext)| !ext.is_empty() && (!stem.is_empty() || name.len() > 1));
        if path.is_empty() || path.contains(':') || path.contains('#') {
            continue;
        }
        if (path.contains('/') || has_extension) && seen.insert(path) {
            found.push((path, line));
        }
    }
    found
}

/// `path:12`, `path:12:3` and `path#L12` to the path and its line.
fn split_line(word: &str) -> (&str, Option<u32>) {
    if let Some((path, anchor)) = word.rsplit_once("#L") {
        let digits = anchor.split('-').next().unwrap_or("");
        return (path, digits.parse().ok());
    }
    let mut parts = word.splitn(3, ':');
    let path = parts.next().unwrap_or(word);
    match parts.next().map(str::parse::<u32>) {
        Some(Ok(line)) => (path, Some(line)),
        Some(Err(_)) => (word, None),
        None => (path, None),
    }
}

/// The file's content hash and stamp (blocking), or `None` when it is no regular file or too
/// large to link.
pub fn hash_file(path: &Path) -> Option<(String, FileStamp)> {
    let metadata = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    if metadata.len() > MAX_LINKED_BYTES {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some((format!("{:x}", hasher.finalize()), stamp_of(&metadata)))
}

/// The links of a memory with `text` (blocking: each candidate is looked up on disk).
pub fn find(text: &str, roots: &Roots) -> Vec<CodeLink> {
    let mut links: Vec<CodeLink> = Vec::new();
    for (mention, line) in mentions(text).into_iter().take(MAX_CANDIDATES) {
        if links.len() == MAX_LINKS {
            break;
        }
        let Some(path) = roots.resolve(mention) else { continue };
        let Some(path_text) = path.to_str() else { continue };
        if links.iter().any(|l| l.path == path_text) {
            continue;
        }
        if let Some((hash, stamp)) = hash_file(&path) {
            links.push(CodeLink { path: path_text.to_owned(), line, hash, stamp });
        }
    }
    links
}

/// The links of a memory being confirmed (blocking): those it has whose files are still there
/// (a renamed file's link followed it), then those its text names.
pub fn relink(text: &str, kept: Vec<(String, Option<u32>)>, roots: &Roots) -> Vec<CodeLink> {
    let mut links: Vec<CodeLink> = kept
        .into_iter()
        .filter(|(path, _)| roots.covers(Path::new(path)))
        .filter_map(|(path, line)| {
            let (hash, stamp) = hash_file(Path::new(&path))?;
            Some(CodeLink { path, line, hash, stamp })
        })
        .collect();
    for link in find(text, roots) {
        if links.len() < MAX_LINKS && !links.iter().any(|l| l.path == link.path) {
            links.push(link);
        }
    }
    links
}

/// A linked file as the store knows it: every hash and stamp its links were made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedFile {
    pub path: String,
    pub hashes: Vec<String>,
    pub stamps: Vec<FileStamp>,
}

/// What looking at a linked file found (files whose stamp did not move are not reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// There, with this content hash now; links made with another hash are out of date.
    Present { stamp: FileStamp, hash: String },
    /// Gone, and no file with one of its hashes beside it or among the changed paths.
    Deleted,
    /// Gone, and `to` has the content it had.
    Renamed { to: String, stamp: FileStamp },
}

/// Looks at linked files (blocking). A gone file is a rename when a file beside it of the
/// same size, or one of `hints` (the paths a watcher reported with it), has one of its hashes.
pub fn inspect(files: Vec<LinkedFile>, hints: &[PathBuf]) -> Vec<(String, Finding)> {
    let linked: HashSet<String> = files.iter().map(|f| f.path.clone()).collect();
    let mut findings = Vec::new();
    for file in files {
        let path = PathBuf::from(&file.path);
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => {
                let stamp = stamp_of(&metadata);
                if file.stamps.iter().all(|s| *s == stamp) {
                    continue;
                }
                // Too large or unreadable now: nothing it says can be trusted any more.
                let hash = hash_file(&path).map(|(hash, _)| hash).unwrap_or_default();
                findings.push((file.path, Finding::Present { stamp, hash }));
            }
            _ => {
                let finding = renamed(&file, &path, hints, &linked)
                    .map_or(Finding::Deleted, |(to, stamp)| Finding::Renamed { to, stamp });
                findings.push((file.path, finding));
            }
        }
    }
    findings
}

/// Where a gone file went, if its content is to be found under another name.
fn renamed(
    file: &LinkedFile,
    path: &Path,
    hints: &[PathBuf],
    linked: &HashSet<String>,
) -> Option<(String, FileStamp)> {
    let sizes: HashSet<u64> = file.stamps.iter().map(|s| s.size).collect();
    let beside =
        path.parent().and_then(|dir| std::fs::read_dir(dir).ok()).into_iter().flat_map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.metadata().is_ok_and(|m| m.is_file() && sizes.contains(&m.len())))
                .map(|e| e.path())
                .take(MAX_RENAME_CANDIDATES)
        });
    let candidates: BTreeMap<String, PathBuf> = hints
        .iter()
        .cloned()
        .chain(beside)
        .filter_map(|p| Some((p.to_str()?.to_owned(), p)))
        .filter(|(text, _)| text != &file.path && !linked.contains(text))
        .collect();
    candidates.into_iter().find_map(|(text, candidate)| {
        let (hash, stamp) = hash_file(&candidate)?;
        file.hashes.contains(&hash).then_some((text, stamp))
    })
}

/// Which linked files to look at: those among the paths a watcher reported, or all of them
/// (after a reconcile, which may follow missed events).
#[derive(Debug, Clone)]
pub enum Scope {
    Paths(Vec<PathBuf>),
    All,
}

/// Looks at a project's linked files in `scope` and marks the memories whose files changed,
/// went or moved; publishes `review_marked` for each file that marked any. Returns how many
/// memories were marked.
pub async fn review(
    store: &Store,
    events: &EventBus,
    project: &ProjectName,
    scope: Scope,
) -> Result<usize, StoreError> {
    let (paths, hints) = match scope {
        Scope::Paths(paths) => {
            let texts = paths.iter().filter_map(|p| p.to_str().map(str::to_owned)).collect();
            (Some(texts), paths)
        }
        Scope::All => (None, Vec::new()),
    };
    let files = match store.linked_files(project, paths).await {
        Err(StoreError::UnknownProject { .. }) => return Ok(0),
        files => files?,
    };
    if files.is_empty() {
        return Ok(0);
    }
    let findings = tokio::task::spawn_blocking(move || inspect(files, &hints))
        .await
        .map_err(|_| StoreError::Closed)?;
    if findings.is_empty() {
        return Ok(0);
    }
    let marked = store.apply_link_findings(project, findings).await?;
    let count = marked.iter().map(|m| m.ids.len()).sum();
    for mark in marked {
        tracing::info!(%project, path = %mark.path, reason = mark.reason.as_str(),
            memories = mark.ids.len(), "memories marked for review");
        let detail =
            EventDetail::ReviewMarked { ids: mark.ids, path: mark.path, reason: mark.reason };
        events.publish(project.as_str(), detail);
    }
    Ok(count)
}

/// The memories one finding marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub path: String,
    pub reason: ReviewReason,
    pub ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_paths_with_their_lines() {
        let text = "See `src/auth/session.rs:42` and (docs/b.md:12:3), also ./c.rs#L7-L9, \
                    Cargo.toml, /abs/x.toml. Not https://example.com/a.rs nor e.g. nor 3.";
        assert_eq!(
            mentions(text),
            [
                ("src/auth/session.rs", Some(42)),
                ("docs/b.md", Some(12)),
                ("./c.rs", Some(7)),
                ("Cargo.toml", None),
                ("/abs/x.toml", None),
                ("e.g", None),
            ]
        );
        assert_eq!(mentions("a/b a/b:3"), [("a/b", None)]);
        assert!(mentions("nothing here: just words, 1.5 and v2").len() <= 1);
    }

    #[test]
    fn only_existing_files_under_the_watch_paths_are_linked() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path().join("proj");
        std::fs::create_dir_all(root.join("src")).expect("mkdir");
        std::fs::create_dir_all(root.join("target")).expect("mkdir");
        std::fs::write(root.join("src/a.rs"), "fn a() {}\n").expect("write");
        std::fs::write(root.join("target/out.rs"), "x").expect("write");
        std::fs::write(dir.path().join("outside.rs"), "x").expect("write");
        let config = ProjectConfig { watch_paths: vec![root.clone()], ..ProjectConfig::default() };
        let roots = Roots::of(&config).expect("roots");
        let outside = dir.path().join("outside.rs");
        let text = format!(
            "src/a.rs:3 and src/missing.rs, target/out.rs, ../outside.rs, {}, {}",
            outside.display(),
            root.join("src/a.rs").display()
        );
        let links = find(&text, &roots);
        assert_eq!(links.len(), 1, "{links:?}");
        assert_eq!(links[0].path, root.join("src/a.rs").to_str().expect("utf-8"));
        assert_eq!(links[0].line, Some(3));
        assert_eq!(links[0].hash, hash_file(&root.join("src/a.rs")).expect("hash").0);
    }

    #[test]
    fn inspecting_tells_changed_deleted_and_renamed_apart() {
        let dir = tempfile::tempdir().expect("dir");
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        let linked = |path: &Path| {
            let (hash, stamp) = hash_file(path).expect("hash");
            LinkedFile {
                path: path.to_str().expect("utf-8").to_owned(),
                hashes: vec![hash],
                stamps: vec![stamp],
            }
        };
        let (same, changed, gone, moved) = (
            file("same.rs", "same"),
            file("changed.rs", "old"),
            file("gone.rs", "gone"),
            file("moved.rs", "moved content"),
        );
        let files = vec![linked(&same), linked(&changed), linked(&gone), linked(&moved)];
        std::fs::write(&changed, "new text").expect("write");
        std::fs::remove_file(&gone).expect("rm");
        std::fs::rename(&moved, dir.path().join("renamed.rs")).expect("mv");
        let findings = inspect(files, &[]);
        let text = |p: &Path| p.to_str().expect("utf-8").to_owned();
        assert_eq!(findings.len(), 3, "{findings:?}");
        assert!(matches!(&findings[0], (p, Finding::Present { hash, .. })
            if *p == text(&changed) && *hash == hash_file(&changed).expect("hash").0));
        assert_eq!(findings[1], (text(&gone), Finding::Deleted));
        assert!(matches!(&findings[2], (p, Finding::Renamed { to, .. })
            if *p == text(&moved) && *to == text(&dir.path().join("renamed.rs"))));
    }
}
