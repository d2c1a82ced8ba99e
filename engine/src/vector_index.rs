//! The exact vector index: every live embedding of a project held in memory as one contiguous
//! `f32` array and scanned in full for each query.
//!
//! An entry is one memory. A long memory has a vector per window of its text (see
//! [`crate::embed::MAX_WINDOWS`]): the first in the array, the rest beside it, and a query
//! scores the memory by its best window. Dedup compares first windows ([`ProjectVectors::
//! top_k_first_windows`]), since a memory whose tail merely resembles a short one is not its
//! duplicate.
//!
//! Exact on purpose: an approximate index silently drops results once filters remove most
//! candidates; a full scan with the filter applied before ranking returns `limit` results
//! whenever that many match. At 100k vectors a scan is ~14 ms on one core (FIELD-NOTES), so
//! callers run it on a blocking thread, never on the async runtime.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};

use crate::embed::DIMENSIONS;
use crate::memory::ChunkType;

/// What filters look at, kept beside each vector so filtering never touches the database.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryMeta {
    pub chunk_type: ChunkType,
    pub created_at: DateTime<Utc>,
    pub superseded: bool,
    pub source: String,
    pub tags: Vec<String>,
}

/// One project's vectors and their metadata. Not synchronised itself: [`VectorIndex`] wraps
/// each project in its own lock.
#[derive(Debug, Default, Clone)]
pub struct ProjectVectors {
    ids: Vec<String>,
    /// Each entry's first window.
    data: Vec<f32>,
    /// Each entry's further windows end to end; empty for most (a text within the model's
    /// window), so they cost a pointer's check in the scan.
    windows: Vec<Box<[f32]>>,
    meta: Vec<EntryMeta>,
    positions: HashMap<String, usize>,
    /// How many entries carry each tag, so known tags are listed without a scan.
    tag_counts: HashMap<String, usize>,
}

/// A scored candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub id: String,
    pub score: f32,
}

impl ProjectVectors {
    /// Builds the index from stored rows; rows whose vector has the wrong length are skipped
    /// (the store refuses to write them, so this only guards against a damaged file).
    pub fn from_rows(rows: impl IntoIterator<Item = (String, Vec<f32>, EntryMeta)>) -> Self {
        let mut index = Self::default();
        for (id, vector, meta) in rows {
            index.upsert(&id, &vector, meta);
        }
        index
    }

    /// An empty index with room for `entries`, so a load grows no array (at 100k entries the
    /// copies and page faults of doubling took most of the load's time).
    pub fn with_capacity(entries: usize) -> Self {
        let mut data = Vec::with_capacity(entries * DIMENSIONS);
        advise_huge_pages(&mut data);
        Self {
            ids: Vec::with_capacity(entries),
            data,
            windows: Vec::with_capacity(entries),
            meta: Vec::with_capacity(entries),
            positions: HashMap::with_capacity(entries),
            tag_counts: HashMap::new(),
        }
    }

    /// Builds the index from parallel arrays (`data` holds `ids.len()` first windows end to
    /// end), as a snapshot stores them, so a load copies no vector. `None` when the lengths
    /// disagree or an id repeats.
    pub fn from_parts(
        ids: Vec<String>,
        data: Vec<f32>,
        windows: Vec<Box<[f32]>>,
        meta: Vec<EntryMeta>,
    ) -> Option<Self> {
        if data.len() != ids.len() * DIMENSIONS
            || meta.len() != ids.len()
            || windows.len() != ids.len()
            || !windows.iter().all(|w| w.len().is_multiple_of(DIMENSIONS))
        {
            return None;
        }
        let mut index = Self { ids, data, windows, meta, ..Self::default() };
        index.positions.reserve(index.ids.len());
        for (at, id) in index.ids.iter().enumerate() {
            if index.positions.insert(id.clone(), at).is_some() {
                return None;
            }
        }
        let mut tag_counts = HashMap::new();
        for tag in index.meta.iter().flat_map(|m| &m.tags) {
            // Most tags repeat: copy a tag's name only the first time.
            match tag_counts.get_mut(tag) {
                Some(count) => *count += 1,
                None => {
                    tag_counts.insert(tag.clone(), 1);
                }
            }
        }
        index.tag_counts = tag_counts;
        Some(index)
    }

    /// Every entry in storage order: id, first window's vector, metadata.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[f32], &EntryMeta)> {
        self.ids
            .iter()
            .zip(self.data.chunks_exact(DIMENSIONS))
            .zip(&self.meta)
            .map(|((id, vector), meta)| (id.as_str(), vector, meta))
    }

    /// The first windows end to end, in [`ProjectVectors::entries`] order.
    pub fn vectors(&self) -> &[f32] {
        &self.data
    }

    /// Each entry's further windows end to end (empty for most), in
    /// [`ProjectVectors::entries`] order.
    pub fn further_windows(&self) -> impl Iterator<Item = &[f32]> {
        self.windows.iter().map(|w| &w[..])
    }

    /// All of an entry's vectors end to end, first window first.
    pub fn vectors_of(&self, id: &str) -> Option<Vec<f32>> {
        let at = *self.positions.get(id)?;
        Some([self.first(at), &self.windows[at]].concat())
    }

    fn first(&self, at: usize) -> &[f32] {
        &self.data[at * DIMENSIONS..(at + 1) * DIMENSIONS]
    }

    /// The cosine of `query` with the entry at `at`: its best window's.
    fn best_window(&self, at: usize, query: &[f32]) -> f32 {
        self.best_of_further(at, query, dot(query, self.first(at)))
    }

    /// `first` (the first window's cosine) or a further window's, whichever is higher.
    fn best_of_further(&self, at: usize, query: &[f32], first: f32) -> f32 {
        self.windows[at].chunks_exact(DIMENSIONS).map(|w| dot(query, w)).fold(first, f32::max)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds an entry or replaces the one stored under `id`; `vectors` are its windows' end to
    /// end, first window first.
    pub fn upsert(&mut self, id: &str, vectors: &[f32], meta: EntryMeta) {
        if vectors.is_empty() || !vectors.len().is_multiple_of(DIMENSIONS) {
            tracing::warn!(id, len = vectors.len(), "vector of the wrong length not indexed");
            return;
        }
        let (first, further) = vectors.split_at(DIMENSIONS);
        self.count_tags(&meta.tags, true);
        match self.positions.get(id) {
            Some(&at) => {
                self.data[at * DIMENSIONS..(at + 1) * DIMENSIONS].copy_from_slice(first);
                self.windows[at] = further.into();
                let old = std::mem::replace(&mut self.meta[at], meta);
                self.count_tags(&old.tags, false);
            }
            None => {
                self.positions.insert(id.to_owned(), self.ids.len());
                self.ids.push(id.to_owned());
                self.data.extend_from_slice(first);
                self.windows.push(further.into());
                self.meta.push(meta);
            }
        }
    }

    /// Removes `id` if present (the last entry moves into its slot).
    pub fn remove(&mut self, id: &str) {
        let Some(at) = self.positions.remove(id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if at != last {
            let (head, tail) = self.data.split_at_mut(last * DIMENSIONS);
            head[at * DIMENSIONS..(at + 1) * DIMENSIONS].copy_from_slice(&tail[..DIMENSIONS]);
            self.ids.swap(at, last);
            self.windows.swap(at, last);
            self.meta.swap(at, last);
            self.positions.insert(self.ids[at].clone(), at);
        }
        self.ids.pop();
        self.windows.pop();
        if let Some(meta) = self.meta.pop() {
            self.count_tags(&meta.tags, false);
        }
        self.data.truncate(last * DIMENSIONS);
    }

    fn count_tags(&mut self, tags: &[String], add: bool) {
        for tag in tags {
            if add {
                // Most tags are already counted: copy a tag's name only the first time.
                match self.tag_counts.get_mut(tag) {
                    Some(count) => *count += 1,
                    None => {
                        self.tag_counts.insert(tag.clone(), 1);
                    }
                }
            } else if let Some(count) = self.tag_counts.get_mut(tag) {
                *count -= 1;
                if *count == 0 {
                    self.tag_counts.remove(tag);
                }
            }
        }
    }

    /// Every tag some entry carries.
    pub fn known_tags(&self) -> impl Iterator<Item = &str> {
        self.tag_counts.keys().map(String::as_str)
    }

    pub fn meta(&self, id: &str) -> Option<&EntryMeta> {
        self.positions.get(id).map(|&at| &self.meta[at])
    }

    /// Cosine similarity of `query` with the entry `id` (its best window).
    pub fn score(&self, id: &str, query: &[f32]) -> Option<f32> {
        let at = *self.positions.get(id)?;
        Some(self.best_window(at, query))
    }

    /// The `k` entries most similar to `query` (by their best window) among those `allow`
    /// accepts, best first. The filter runs before ranking, so fewer than `k` come back only
    /// when fewer than `k` are allowed.
    pub fn top_k(
        &self,
        query: &[f32],
        k: usize,
        allow: impl Fn(&EntryMeta) -> bool,
    ) -> Vec<Scored> {
        self.ranked(query, k, allow, true)
    }

    /// [`ProjectVectors::top_k`] by first windows only: what one memory is compared with
    /// another by (dedup, conflicts), where `query` is a memory's first window too.
    pub fn top_k_first_windows(
        &self,
        query: &[f32],
        k: usize,
        allow: impl Fn(&EntryMeta) -> bool,
    ) -> Vec<Scored> {
        self.ranked(query, k, allow, false)
    }

    fn ranked(
        &self,
        query: &[f32],
        k: usize,
        allow: impl Fn(&EntryMeta) -> bool,
        all_windows: bool,
    ) -> Vec<Scored> {
        if k == 0 || query.len() != DIMENSIONS {
            return Vec::new();
        }
        let mut best: BinaryHeap<MinScore> = BinaryHeap::with_capacity(k + 1);
        for (row, vector) in self.data.chunks_exact(DIMENSIONS).enumerate() {
            if !allow(&self.meta[row]) {
                continue;
            }
            let mut score = dot(query, vector);
            if all_windows && !self.windows[row].is_empty() {
                score = self.best_of_further(row, query, score);
            }
            if best.len() < k {
                best.push(MinScore { score, row });
            } else if best.peek().is_some_and(|worst| score > worst.score) {
                best.pop();
                best.push(MinScore { score, row });
            }
        }
        let mut out: Vec<Scored> = best
            .into_iter()
            .map(|m| Scored { id: self.ids[m.row].clone(), score: m.score })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        out
    }
}

/// Every project's [`ProjectVectors`], each behind its own lock so a scan of one project
/// never delays writes to another. Locks are held for memory operations only, never for I/O.
#[derive(Debug, Default)]
pub struct VectorIndex {
    projects: RwLock<HashMap<String, Arc<RwLock<ProjectVectors>>>>,
}

impl VectorIndex {
    /// The project's shard, if the project has ever held a memory.
    pub fn project(&self, project: &str) -> Option<Arc<RwLock<ProjectVectors>>> {
        read(&self.projects).get(project).cloned()
    }

    /// Every project's shard, by name.
    pub fn projects(&self) -> Vec<(String, Arc<RwLock<ProjectVectors>>)> {
        read(&self.projects).iter().map(|(name, shard)| (name.clone(), Arc::clone(shard))).collect()
    }

    /// The project's shard, created empty when missing.
    pub fn project_or_default(&self, project: &str) -> Arc<RwLock<ProjectVectors>> {
        if let Some(shard) = self.project(project) {
            return shard;
        }
        Arc::clone(write(&self.projects).entry(project.to_owned()).or_default())
    }
}

/// A zeroed array for `entries` vectors, which a load then fills (see [`advise_huge_pages`]).
pub fn vector_array(entries: usize) -> Vec<f32> {
    // Zeroed by the kernel (calloc of fresh pages): nothing is written before the load.
    let mut data = vec![0.0; entries * DIMENSIONS];
    advise_huge_pages(&mut data);
    data
}

/// Asks the kernel to back the array's allocation with transparent huge pages before it is
/// first written. Filling 150 MB of fresh 4 KiB pages (100,000 vectors) took 40,000 page
/// faults, most of the index's load from a snapshot; with 2 MiB pages the fill is twice as
/// fast. Only advice: where the kernel keeps huge pages off, nothing changes.
#[allow(unsafe_code, reason = "madvise over the vector's own allocation")]
fn advise_huge_pages(data: &mut Vec<f32>) {
    const HUGE_PAGE: usize = 2 << 20;
    let page = rustix::param::page_size();
    let (start, bytes) = (data.as_mut_ptr().cast::<u8>(), data.capacity() * size_of::<f32>());
    // madvise takes whole pages: the pages that lie entirely inside the allocation.
    let skip = start.align_offset(page);
    if bytes < skip + HUGE_PAGE {
        return;
    }
    let len = (bytes - skip) / page * page;
    // SAFETY: `start + skip .. + len` lies inside `data`'s allocation (`skip + len <=
    // bytes`), which `data` keeps alive through the call. MADV_HUGEPAGE changes how the
    // kernel backs those pages, never their contents or validity.
    if let Err(err) = unsafe {
        rustix::mm::madvise(start.add(skip).cast(), len, rustix::mm::Advice::LinuxHugepage)
    } {
        tracing::debug!(%err, "no huge pages for the vector index");
    }
}

/// The first window's vector of a memory's vectors (all of them if they are shorter).
pub fn first_window(vectors: &[f32]) -> &[f32] {
    &vectors[..DIMENSIONS.min(vectors.len())]
}

/// Reads through a poisoned lock: the index holds plain data that a panicking writer leaves
/// whole (every mutation completes before it could panic on anything but memory exhaustion).
pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Dot product with eight independent accumulators, which the compiler turns into SIMD; the
/// vectors are unit length, so this is the cosine similarity.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Heap entry ordered so the heap's top is the worst score kept so far.
#[derive(Debug)]
struct MinScore {
    score: f32,
    row: usize,
}

impl PartialEq for MinScore {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MinScore {}

impl PartialOrd for MinScore {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MinScore {
    fn cmp(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then_with(|| self.row.cmp(&other.row))
    }
}

#[cfg(test)]
#[path = "../tests/common/support.rs"]
mod support;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector_index::support::unit_vector as vector;

    fn meta(tag: &str) -> EntryMeta {
        EntryMeta {
            chunk_type: ChunkType::AgentMemory,
            created_at: Utc::now(),
            superseded: false,
            source: String::new(),
            tags: vec![tag.to_owned()],
        }
    }

    fn brute_force(rows: &[(String, Vec<f32>, EntryMeta)], query: &[f32], k: usize) -> Vec<String> {
        let mut scored: Vec<(f32, &String)> = rows
            .iter()
            .map(|(id, v, _)| (v.iter().zip(query).map(|(a, b)| a * b).sum(), id))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored.into_iter().take(k).map(|(_, id)| id.clone()).collect()
    }

    #[test]
    fn top_k_equals_a_brute_force_ranking_under_a_filter() {
        let rows: Vec<(String, Vec<f32>, EntryMeta)> = (0..2000)
            .map(|i| {
                let tag = if i % 300 == 13 { "rare" } else { "common" };
                (format!("m{i:04}"), vector(i), meta(tag))
            })
            .collect();
        let index = ProjectVectors::from_rows(rows.clone());
        let query = vector(99_999);
        let ids = |scored: Vec<Scored>| scored.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(index.top_k(&query, 10, |_| true)), brute_force(&rows, &query, 10));

        // Only 7 rows pass the filter: asking for 5 returns 5, asking for 100 returns all 7.
        let rare = |m: &EntryMeta| m.tags[0] == "rare";
        let allowed: Vec<_> = rows.iter().filter(|(_, _, m)| rare(m)).cloned().collect();
        assert_eq!(allowed.len(), 7);
        assert_eq!(ids(index.top_k(&query, 5, rare)), brute_force(&allowed, &query, 5));
        assert_eq!(index.top_k(&query, 100, rare).len(), 7);
    }

    #[test]
    fn upsert_and_remove_keep_positions_and_tags_consistent() {
        let mut index = ProjectVectors::default();
        for i in 0..5 {
            index.upsert(&format!("m{i}"), &vector(i), meta(&format!("t{i}")));
        }
        index.remove("m1");
        index.remove("m1");
        index.upsert("m3", &vector(42), meta("t3-new"));
        index.remove("m4");
        assert_eq!(index.len(), 3);
        let hit = index.top_k(&vector(42), 1, |_| true);
        assert_eq!(hit[0].id, "m3");
        assert!((hit[0].score - 1.0).abs() < 1e-5);
        assert_eq!(index.top_k(&vector(2), 1, |_| true)[0].id, "m2");
        assert_eq!(index.meta("m2").map(|m| m.tags[0].as_str()), Some("t2"));
        let mut tags: Vec<_> = index.known_tags().collect();
        tags.sort();
        assert_eq!(tags, ["t0", "t2", "t3-new"]);
        index.upsert("short", &[1.0, 0.0], meta("x"));
        assert_eq!(index.len(), 3, "a vector of the wrong length is not indexed");
    }

    #[test]
    fn a_long_entry_scores_by_its_best_window_and_keeps_its_windows_when_moved() {
        let mut index = ProjectVectors::default();
        let long: Vec<f32> = [vector(1), vector(2), vector(3)].concat();
        index.upsert("long", &long, meta("a"));
        index.upsert("short", &vector(4), meta("b"));
        index.upsert("last", &vector(5), meta("c"));
        let hit = index.top_k(&vector(3), 1, |_| true);
        assert_eq!(hit[0].id, "long", "found by its third window");
        assert!((hit[0].score - 1.0).abs() < 1e-5);
        assert!((index.score("long", &vector(2)).expect("scored") - 1.0).abs() < 1e-5);
        // Compared as a memory, only first windows count.
        let first = index.top_k_first_windows(&vector(3), 3, |_| true);
        assert!(first.iter().all(|s| s.score < 0.99), "{first:?}");
        // Removing an entry moves the last one into its slot, windows and all.
        index.remove("short");
        index.upsert("last", &[vector(5), vector(6)].concat(), meta("c"));
        index.remove("long");
        assert_eq!(index.vectors_of("last"), Some([vector(5), vector(6)].concat()));
        assert_eq!(index.top_k(&vector(6), 1, |_| true)[0].id, "last");
        assert_eq!(index.vectors_of("long"), None);
        index.upsert("odd", &[0.5; DIMENSIONS + 1], meta("d"));
        assert_eq!(index.len(), 1, "a length that is not whole windows is not indexed");
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let (a, b) = (vector(1), vector(2));
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-5);
        assert!(
            (dot(&a[..13], &b[..13])
                - a[..13].iter().zip(&b[..13]).map(|(x, y)| x * y).sum::<f32>())
            .abs()
                < 1e-6
        );
    }
}
