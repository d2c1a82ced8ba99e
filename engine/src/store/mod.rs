//! The SQLite store: one database file per data dir holding every project's memories, their
//! tags, a full-text index and their embeddings.
//!
//! Writes go through one writer connection; reads use a separate connection, so in WAL mode a
//! search never waits behind an indexing transaction. Both connections run on their own
//! threads (tokio-rusqlite), never on the async runtime.
//!
//! Opening returns once the schema is migrated; the vector index then loads on the writer
//! thread, in the job that migrated, so an owner answers its clients meanwhile: from the
//! snapshot the last close wrote when it still matches (snapshot.rs), else by scanning every
//! row (most of a second at 100,000 memories). What needs the index waits for it: [`Store::index`] for readers, and the
//! writes queue behind the load on the writer thread.

mod backfill;
mod brief;
mod events;
mod files;
mod guard;
mod links;
mod read;
mod review;
mod schema;
mod scrub;
mod snapshot;
mod transfer;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{oneshot, watch};
use tokio_rusqlite::Connection;
use tokio_rusqlite::rusqlite::{self, OpenFlags};

use crate::memory::InvalidMemory;
use crate::private_files;
use crate::vector_index::{VectorIndex, write};

pub use backfill::OneWindow;
pub use brief::BriefCandidates;
pub use files::{FileStamp, FileUpdate};
pub use guard::FileChange;
pub use read::{DayCount, KeywordMatch, ListQuery, Page, Stats, TagCount};
pub use review::{INBOX_LIMIT, RecordedItem, ReviewKind};
pub use scrub::Scrubbed;
pub use snapshot::SNAPSHOT_FILE;
pub use transfer::{Restore, RestoreCounts};
pub use write::{
    CONFLICT_FROM, Conflict, DUPLICATE_ABOVE, MemoryUpdate, SIMILAR_FROM, Similar, StoreItem,
    StoreOutcome,
};

pub const DATABASE_FILE: &str = "annal.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data dir {}: {source}", .path.display())]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open database {}: {source}", .path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("cannot identify database {}: {source}", .path.display())]
    Identify { path: PathBuf, source: std::io::Error },
    #[error("database schema version {found} is newer than this Annal supports ({supported})")]
    SchemaTooNew { found: usize, supported: usize },
    #[error("database migration {version} failed: {source}")]
    Migration { version: usize, source: rusqlite::Error },
    #[error(
        "database {} was {change} while Annal had it open, so nothing can be saved to it any \
         more: writes fail until Annal restarts and opens the file now at that path",
        .path.display()
    )]
    FileChanged { path: PathBuf, change: FileChange },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database connection is closed")]
    Closed,
    #[error("unknown project {project:?}; store a memory or call init_project first")]
    UnknownProject { project: String },
    #[error("memory {id:?} not found in project {project:?}")]
    NotFound { project: String, id: String },
    #[error("memory id {id:?} already exists")]
    DuplicateId { id: String },
    #[error("memory id {id:?} belongs to project {project:?}; it can be in one project only")]
    IdTaken { id: String, project: String },
    #[error("memory {id:?} cannot supersede itself")]
    SupersedeSelf { id: String },
    #[error("nothing to update: give content, tags or source")]
    NothingToUpdate,
    #[error("{0}")]
    Invalid(#[from] InvalidMemory),
    #[error(
        "embedding has {found} values, expected {expected} per window and 1 to {} windows",
        crate::embed::MAX_WINDOWS
    )]
    BadVector { found: usize, expected: usize },
    #[error("stored value for memory {id:?} is corrupt: {what}")]
    Corrupt { id: String, what: String },
    #[error(
        "the vector index could not be loaded from the database ({reason}), so searching and \
         saving are refused; `annal doctor` checks the database"
    )]
    IndexLoad { reason: String },
}

impl From<tokio_rusqlite::Error<StoreError>> for StoreError {
    fn from(err: tokio_rusqlite::Error<StoreError>) -> Self {
        match err {
            tokio_rusqlite::Error::Error(err) => err,
            tokio_rusqlite::Error::Close((_, source)) => Self::Sqlite(source),
            _ => Self::Closed,
        }
    }
}

/// How far the vector index's load from the database has come.
#[derive(Debug, Clone)]
enum IndexLoad {
    Loading,
    Ready,
    Failed(Arc<str>),
}

impl IndexLoad {
    fn outcome(&self) -> Result<(), StoreError> {
        match self {
            Self::Ready => Ok(()),
            Self::Failed(reason) => Err(StoreError::IndexLoad { reason: reason.to_string() }),
            // Seen only where the load can no longer finish: its job was dropped unrun (the
            // writer closed) or panicked.
            Self::Loading => {
                Err(StoreError::IndexLoad { reason: "the load stopped before it finished".into() })
            }
        }
    }
}

/// Handle to the database: one writer connection, one reader connection, and the in-memory
/// vector index, which every write updates right after its commit.
#[derive(Debug, Clone)]
pub struct Store {
    writer: Connection,
    reader: Connection,
    path: PathBuf,
    index: Arc<VectorIndex>,
    /// The index's load, which runs on the writer after [`Store::open`] has returned.
    loaded: watch::Receiver<IndexLoad>,
    /// Whether `path` still names the file the writer has open.
    file: Arc<guard::FileGuard>,
    /// Where [`Store::close`] writes the vector index for the next open.
    snapshot: PathBuf,
}

impl Store {
    /// Opens (creating and migrating as needed) the database in `data_dir`, and starts loading
    /// the vector index, which [`Store::index`] waits for.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let data_dir_err = |source| StoreError::DataDir { path: data_dir.to_path_buf(), source };
        private_files::create_dir(data_dir).map_err(data_dir_err)?;
        let path = data_dir.join(DATABASE_FILE);
        // SQLite gives the WAL and shared-memory files the database file's mode, so creating
        // the database as 0600 first keeps all three private.
        private_files::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|_| private_files::tighten(&path, private_files::FILE_MODE))
            .map_err(data_dir_err)?;
        let open_err = |source| StoreError::Open { path: path.clone(), source };
        let writer = Connection::open(&path).await.map_err(open_err)?;
        let index = Arc::new(VectorIndex::default());
        let (loaded_tx, loaded) = watch::channel(IndexLoad::Loading);
        let (migrated_tx, migrated) = oneshot::channel();
        let (loading, opened) = (Arc::clone(&index), path.clone());
        let snapshot = snapshot::path(data_dir);
        let snapshot_at = snapshot.clone();
        // One job does the migration, hands the result to `open`, then loads the index: every
        // write is queued behind it on the same thread, so the index sees each commit exactly
        // once and in order, and `open` does not wait for the load.
        let job = move |conn: &mut rusqlite::Connection| {
            let prepared = prepare(conn, &opened);
            let failed = prepared.is_err();
            if migrated_tx.send(prepared).is_err() || failed {
                return;
            }
            loaded_tx.send_replace(load(conn, &loading, &snapshot));
        };
        let queue = writer.clone();
        // The task only queues the job and awaits its end: the work is on the writer's thread.
        tokio::spawn(async move { queue.call_raw(job).await });
        let file = migrated.await.map_err(|_| StoreError::Closed)??;
        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .await
        .map_err(open_err)?;
        reader
            .call(|conn| {
                conn.execute_batch("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;")?;
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(Self {
            writer,
            reader,
            path,
            index,
            loaded,
            file: Arc::new(file),
            snapshot: snapshot_at,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The in-memory vector index, in line with the last commit. While it is still loading
    /// after [`Store::open`] this waits (holding no thread) for the load; a failed load is
    /// [`StoreError::IndexLoad`].
    pub async fn index(&self) -> Result<&Arc<VectorIndex>, StoreError> {
        let mut loaded = self.loaded.clone();
        match loaded.wait_for(|state| !matches!(state, IndexLoad::Loading)).await {
            Ok(state) => state.outcome()?,
            // The sender went with a job that never finished.
            Err(_) => IndexLoad::Loading.outcome()?,
        }
        Ok(&self.index)
    }

    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut rusqlite::Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        Ok(self.reader.call(f).await?)
    }

    /// The loss of the database file, once a write has seen it (see [`StoreError::FileChanged`]).
    pub fn file_lost_now(&self) -> Option<StoreError> {
        self.file.lost_now()
    }

    /// Waits until a write finds the database file deleted or replaced; every write fails from
    /// then on.
    pub async fn file_lost(&self) -> StoreError {
        self.file.lost().await
    }

    /// Runs `f` on the writer connection; `f` gets the index to refresh after its commit.
    /// Nothing is written unless the database file is still the one on disk, and a commit that
    /// raced its deletion or replacement is reported as failed: it landed in the old file (the
    /// in-memory index may show it until the restart that the loss calls for).
    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut rusqlite::Connection, &VectorIndex) -> Result<R, StoreError>
            + Send
            + 'static,
        R: Send + 'static,
    {
        let index = Arc::clone(&self.index);
        let file = Arc::clone(&self.file);
        let loaded = self.loaded.clone();
        Ok(self
            .writer
            .call(move |conn| {
                // The load ran before this job on this thread; without the index a write
                // could not keep it in line (nor check for duplicates against it).
                loaded.borrow().outcome()?;
                file.check(conn)?;
                let written = f(conn, &index)?;
                file.check(conn)?;
                Ok(written)
            })
            .await?)
    }

    /// Closes both connections once the writes already queued are done, so the database is
    /// checkpointed and its WAL removed while the owner still holds the lock; every later call
    /// fails with [`StoreError::Closed`].
    pub async fn close(&self) -> Result<(), StoreError> {
        self.save_snapshot().await;
        for connection in [&self.reader, &self.writer] {
            connection.clone().close().await.map_err(|err| match err {
                tokio_rusqlite::Error::Close((_, source)) => StoreError::Sqlite(source),
                _ => StoreError::Closed,
            })?;
        }
        Ok(())
    }
}

impl Store {
    /// Writes the vector index's snapshot after the queued writes, when the index is whole and
    /// the database file is still the one this store opened; a failure costs the next open
    /// its shortcut only, so it is logged, not returned.
    async fn save_snapshot(&self) {
        let (index, file, path) =
            (Arc::clone(&self.index), Arc::clone(&self.file), self.snapshot.clone());
        let loaded = self.loaded.clone();
        let saved = self
            .writer
            .call(move |conn| {
                // Checked here, not before: a close during the load queues behind it on this
                // thread, and finds it done.
                if loaded.borrow().outcome().is_err() || file.lost_now().is_some() {
                    return Ok(None);
                }
                file.check(conn)?;
                let started = Instant::now();
                Ok::<_, StoreError>(Some(
                    snapshot::save(conn, &index, &path)
                        .map(|memories| (memories, started.elapsed())),
                ))
            })
            .await;
        match saved {
            Ok(None) => {}
            Ok(Some(Ok((memories, took)))) => {
                tracing::info!(memories, ms = took.as_millis(), "vector index snapshot written");
            }
            Ok(Some(Err(err))) => tracing::warn!(%err, "vector index snapshot not written"),
            Err(err) => tracing::warn!(%err, "vector index snapshot not written"),
        }
    }
}

/// The writer's settings and the migration, and the file's identity for the guard.
fn prepare(conn: &mut rusqlite::Connection, path: &Path) -> Result<guard::FileGuard, StoreError> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;",
    )?;
    schema::migrate(conn)?;
    guard::FileGuard::new(path)
        .map_err(|source| StoreError::Identify { path: path.to_path_buf(), source })
}

/// Loads the index on the writer connection, saying in the log how it went.
fn load(conn: &mut rusqlite::Connection, index: &VectorIndex, snapshot: &Path) -> IndexLoad {
    let started = Instant::now();
    tracing::info!("loading the vector index");
    match snapshot::load(conn, snapshot) {
        Ok(projects) => {
            let memories: usize = projects.values().map(|shard| shard.len()).sum();
            for (project, vectors) in projects {
                *write(&index.project_or_default(&project)) = vectors;
            }
            let ms = started.elapsed().as_millis();
            tracing::info!(memories, ms, from = "snapshot", "vector index loaded");
            discard_snapshot(snapshot);
            return IndexLoad::Ready;
        }
        Err(snapshot::SnapshotError::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => tracing::info!(%err, "vector index snapshot not used; scanning the database"),
    }
    discard_snapshot(snapshot);
    match read::load_index(conn, index) {
        Ok(memories) => {
            let ms = started.elapsed().as_millis();
            tracing::info!(memories, ms, from = "database", "vector index loaded");
            IndexLoad::Ready
        }
        Err(err) => {
            tracing::error!(%err, "vector index not loaded: searches and writes are refused");
            IndexLoad::Failed(err.to_string().into())
        }
    }
}

/// A snapshot is read at most once: removed before the load is done, so before any write.
fn discard_snapshot(snapshot: &Path) {
    if let Err(err) = std::fs::remove_file(snapshot)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%err, "cannot delete the vector index snapshot");
    }
}

fn parse_time(id: &str, text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt { id: id.to_owned(), what: format!("timestamp: {e}") })
}

fn require_project(conn: &rusqlite::Connection, project: &str) -> Result<(), StoreError> {
    let known: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM projects WHERE name = ?1)",
        [project],
        |row| row.get(0),
    )?;
    if known { Ok(()) } else { Err(StoreError::UnknownProject { project: project.to_owned() }) }
}

fn vector_to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_to_vector(id: &str, blob: &[u8]) -> Result<Vec<f32>, StoreError> {
    if !blob.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt { id: id.to_owned(), what: "embedding length".into() });
    }
    Ok(blob.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}
