//! The vector index's snapshot: at close the whole index is written to one file beside the
//! database, and the next open reads it back instead of scanning every row. At 100,000
//! memories the scan parses 100,000 rows, timestamps and ids out of a table that also holds
//! the content, and took most of a second; the snapshot is one sequential read.
//!
//! A snapshot is trusted only when it is provably the index of the database as it is now:
//! - its stamp must equal the database's: a generation that triggers bump on every change to
//!   what the index holds (any writer, whatever its code path), and a random token the same
//!   close wrote into the database, so a database file swapped for an older copy of itself
//!   never matches;
//! - its checksum must hold, and its lengths add up to the file's size (a torn write after a
//!   power loss, a truncated or edited file);
//! - and it is used once: the open that reads it deletes it before any write can run, so an
//!   owner that crashes after writing falls back to the scan instead of an old index.
//!
//! Anything short of that is the scan, with the reason in the log: a snapshot is a shortcut,
//! never a second source of truth.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tokio_rusqlite::rusqlite::{self, Connection, OptionalExtension as _};

use crate::embed::{DIMENSIONS, MAX_WINDOWS};
use crate::memory::ChunkType;
use crate::private_files;
use crate::vector_index::{EntryMeta, ProjectVectors, VectorIndex, read, vector_array};

pub const SNAPSHOT_FILE: &str = "vector-index.snapshot";
/// Version 2 added further windows; a version 1 file is "not a snapshot" and the scan runs.
const MAGIC: &[u8; 8] = b"ANNALVX2";
const TOKEN_BYTES: usize = 16;
/// Magic, dimensions, generation, token, metadata length.
const HEADER_BYTES: usize = 8 + 4 + 8 + TOKEN_BYTES + 8;
const CHECKSUM_BYTES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub(super) enum SnapshotError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("it is older or newer than the database")]
    Stale,
    #[error("it is damaged ({0})")]
    Corrupt(&'static str),
}

/// What a snapshot must match in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    generation: i64,
    token: [u8; TOKEN_BYTES],
}

pub(super) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(SNAPSHOT_FILE)
}

/// The database's stamp; `None` until a close has written a token.
fn stamp(conn: &Connection) -> Result<Option<Stamp>, SnapshotError> {
    let row: Option<(i64, Option<Vec<u8>>)> = conn
        .query_row("SELECT generation, token FROM index_generation", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(row
        .and_then(|(generation, token)| Some(Stamp { generation, token: token?.try_into().ok()? })))
}

/// Writes `index` to `path`, stamped with a fresh token committed to the database first.
/// Runs on the writer connection after the last write, so the index is the database's.
pub(super) fn save(
    conn: &Connection,
    index: &VectorIndex,
    path: &Path,
) -> Result<usize, SnapshotError> {
    conn.execute("UPDATE index_generation SET token = randomblob(?1)", [TOKEN_BYTES as i64])?;
    let stamp = stamp(conn)?.ok_or(SnapshotError::Corrupt("no index generation row"))?;
    let mut projects = index.projects();
    projects.sort_by(|a, b| a.0.cmp(&b.0));
    let guards: Vec<_> = projects.iter().map(|(name, shard)| (name, read(shard))).collect();

    let mut meta = Vec::new();
    put_u32(&mut meta, guards.len());
    for (name, shard) in &guards {
        put_str(&mut meta, name);
        meta.extend_from_slice(&(shard.len() as u64).to_le_bytes());
        for ((id, _, entry), further) in shard.entries().zip(shard.further_windows()) {
            put_entry(&mut meta, id, entry);
            put_u32(&mut meta, further.len() / DIMENSIONS);
        }
    }

    let temporary = path.with_extension("snapshot.partial");
    let file = private_files::options().create(true).write(true).truncate(true).open(&temporary)?;
    private_files::tighten(&temporary, private_files::FILE_MODE)?;
    let mut out = Checksummed::new(BufWriter::with_capacity(1 << 20, file));
    out.write_all(MAGIC)?;
    out.write_all(&(DIMENSIONS as u32).to_le_bytes())?;
    out.write_all(&stamp.generation.to_le_bytes())?;
    out.write_all(&stamp.token)?;
    out.write_all(&(meta.len() as u64).to_le_bytes())?;
    out.write_all(&meta)?;
    let mut entries = 0;
    let mut little_endian = Vec::new();
    let mut put_vectors = |out: &mut Checksummed<_>, vectors: &[f32]| {
        let vectors = if cfg!(target_endian = "little") {
            vectors
        } else {
            little_endian.clear();
            little_endian.extend(vectors.iter().map(|x| f32::from_bits(x.to_bits().to_le())));
            &little_endian
        };
        out.write_all(bytemuck::cast_slice(vectors))
    };
    // First windows shard by shard (each read straight into its array), then further ones.
    for (_, shard) in &guards {
        entries += shard.len();
        put_vectors(&mut out, shard.vectors())?;
    }
    for (_, shard) in &guards {
        for further in shard.further_windows() {
            put_vectors(&mut out, further)?;
        }
    }
    let checksum = out.hasher.clone().finalize();
    let mut file = out.inner.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.write_all(&checksum.to_le_bytes())?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    Ok(entries)
}

/// The projects' indexes from the snapshot at `path`, if it matches the database.
pub(super) fn load(
    conn: &Connection,
    path: &Path,
) -> Result<HashMap<String, ProjectVectors>, SnapshotError> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let database = stamp(conn)?.ok_or(SnapshotError::Stale)?;
    let mut input = Checksummed::new(BufReader::with_capacity(1 << 20, &mut file));
    let mut header = [0u8; HEADER_BYTES];
    input.read_exact(&mut header).map_err(truncated)?;
    let mut head = Cursor(&header);
    if head.take(8)? != MAGIC {
        return Err(SnapshotError::Corrupt("not a snapshot"));
    }
    if head.u32()? as usize != DIMENSIONS {
        return Err(SnapshotError::Stale);
    }
    let generation = i64::from_le_bytes(head.array()?);
    let token = head.array()?;
    if (Stamp { generation, token }) != database {
        return Err(SnapshotError::Stale);
    }
    let meta_len = u64::from_le_bytes(head.array()?);
    if meta_len > size {
        return Err(SnapshotError::Corrupt("metadata longer than the file"));
    }
    let mut meta = vec![0u8; meta_len as usize];
    input.read_exact(&mut meta).map_err(truncated)?;
    let mut cursor = Cursor(&meta);
    let mut shards = Vec::new();
    for _ in 0..cursor.u32()? {
        let name = cursor.string()?;
        let entries = u64::from_le_bytes(cursor.array()?);
        // Each entry takes at least 26 bytes of metadata: a count past that is damage.
        if entries > meta_len / 26 {
            return Err(SnapshotError::Corrupt("entry count"));
        }
        let mut ids = Vec::with_capacity(entries as usize);
        let mut metas = Vec::with_capacity(entries as usize);
        let mut further = Vec::with_capacity(entries as usize);
        for _ in 0..entries {
            let (id, entry) = cursor.entry()?;
            ids.push(id);
            metas.push(entry);
            let windows = cursor.u32()? as usize;
            if windows >= MAX_WINDOWS {
                return Err(SnapshotError::Corrupt("window count"));
            }
            further.push(windows);
        }
        shards.push((name, ids, metas, further));
    }
    if !cursor.0.is_empty() {
        return Err(SnapshotError::Corrupt("metadata longer than its entries"));
    }
    let vectors: u64 = shards
        .iter()
        .map(|(_, ids, _, further)| (ids.len() + further.iter().sum::<usize>()) as u64)
        .sum();
    let expected = HEADER_BYTES as u64 + meta_len + vectors * (DIMENSIONS as u64 * 4);
    if size != expected + CHECKSUM_BYTES as u64 {
        return Err(SnapshotError::Corrupt("the file's length"));
    }
    let mut firsts = Vec::with_capacity(shards.len());
    for (_, ids, _, _) in &shards {
        // Read straight into the index's own array: one copy, from the page cache.
        let mut data = vector_array(ids.len());
        read_vectors(&mut input, &mut data)?;
        firsts.push(data);
    }
    let mut projects = HashMap::with_capacity(shards.len());
    for ((name, ids, metas, further), data) in shards.into_iter().zip(firsts) {
        let mut windows = Vec::with_capacity(further.len());
        for count in further {
            let mut vectors = vec![0.0; count * DIMENSIONS];
            read_vectors(&mut input, &mut vectors)?;
            windows.push(vectors.into_boxed_slice());
        }
        let shard = ProjectVectors::from_parts(ids, data, windows, metas)
            .ok_or(SnapshotError::Corrupt("an id listed twice"))?;
        projects.insert(name, shard);
    }
    let computed = input.hasher.clone().finalize();
    let mut stored = [0u8; CHECKSUM_BYTES];
    input.inner.read_exact(&mut stored).map_err(truncated)?;
    if u32::from_le_bytes(stored) != computed {
        return Err(SnapshotError::Corrupt("checksum"));
    }
    Ok(projects)
}

fn read_vectors(input: &mut impl Read, into: &mut [f32]) -> Result<(), SnapshotError> {
    input.read_exact(bytemuck::cast_slice_mut(into)).map_err(truncated)?;
    for x in into {
        *x = f32::from_bits(u32::from_le(x.to_bits()));
    }
    Ok(())
}

fn truncated(err: io::Error) -> SnapshotError {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        SnapshotError::Corrupt("truncated")
    } else {
        SnapshotError::Io(err)
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// Id, type, superseded, creation time (seconds, nanoseconds), source, tags.
fn put_entry(out: &mut Vec<u8>, id: &str, entry: &EntryMeta) {
    put_str(out, id);
    out.push(match entry.chunk_type {
        ChunkType::AgentMemory => 0,
        ChunkType::FileIndexed => 1,
    });
    out.push(u8::from(entry.superseded));
    out.extend_from_slice(&entry.created_at.timestamp().to_le_bytes());
    out.extend_from_slice(&entry.created_at.timestamp_subsec_nanos().to_le_bytes());
    put_str(out, &entry.source);
    put_u32(out, entry.tags.len());
    for tag in &entry.tags {
        put_str(out, tag);
    }
}

/// Reads a snapshot's metadata, every length checked against what is left.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.0.len() {
            return Err(SnapshotError::Corrupt("a length past the end"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        self.take(N)?.try_into().map_err(|_| SnapshotError::Corrupt("a length past the end"))
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }

    fn string(&mut self) -> Result<String, SnapshotError> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| SnapshotError::Corrupt("text"))
    }

    fn entry(&mut self) -> Result<(String, EntryMeta), SnapshotError> {
        let id = self.string()?;
        let chunk_type = match self.u8()? {
            0 => ChunkType::AgentMemory,
            1 => ChunkType::FileIndexed,
            _ => return Err(SnapshotError::Corrupt("chunk type")),
        };
        let superseded = match self.u8()? {
            0 => false,
            1 => true,
            _ => return Err(SnapshotError::Corrupt("superseded flag")),
        };
        let seconds = i64::from_le_bytes(self.array()?);
        let nanos = self.u32()?;
        let created_at = DateTime::<Utc>::from_timestamp(seconds, nanos)
            .ok_or(SnapshotError::Corrupt("timestamp"))?;
        let source = self.string()?;
        let tags = (0..self.u32()?).map(|_| self.string()).collect::<Result<_, _>>()?;
        Ok((id, EntryMeta { chunk_type, created_at, superseded, source, tags }))
    }
}

/// A reader or writer that keeps a CRC-32 of every byte through it.
struct Checksummed<T> {
    inner: T,
    hasher: crc32fast::Hasher,
}

impl<T> Checksummed<T> {
    fn new(inner: T) -> Self {
        Self { inner, hasher: crc32fast::Hasher::new() }
    }
}

impl<T: Read> Read for Checksummed<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl<T: Write> Write for Checksummed<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
