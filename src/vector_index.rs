//! The exact vector index: every live embedding of a project held in memory as one contiguous
//! `f32` array and scanned in full for each query.
//!
//! Exact on purpose: an approximate index silently drops results once filters remove most
//! candidates; a full scan with the filter applied before ranking returns `limit` results
//! whenever that many match. At 100k vectors a scan is ~14 ms on one core (FIELD-NOTES), so
//! callers run it on a blocking thread, never on the async runtime.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use crate::embed::DIMENSIONS;

/// One project's vectors. Not synchronised itself: the owner wraps it in a lock.
#[derive(Debug, Default, Clone)]
pub struct ProjectVectors {
    ids: Vec<String>,
    data: Vec<f32>,
    positions: HashMap<String, usize>,
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
    pub fn from_rows(rows: impl IntoIterator<Item = (String, Vec<f32>)>) -> Self {
        let mut index = Self::default();
        for (id, vector) in rows {
            index.upsert(&id, &vector);
        }
        index
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a vector or replaces the one stored under `id`.
    pub fn upsert(&mut self, id: &str, vector: &[f32]) {
        if vector.len() != DIMENSIONS {
            tracing::warn!(
                id,
                len = vector.len(),
                "vector of the wrong length not indexed"
            );
            return;
        }
        match self.positions.get(id) {
            Some(&at) => self.data[at * DIMENSIONS..(at + 1) * DIMENSIONS].copy_from_slice(vector),
            None => {
                self.positions.insert(id.to_owned(), self.ids.len());
                self.ids.push(id.to_owned());
                self.data.extend_from_slice(vector);
            }
        }
    }

    /// Removes `id` if present (the last vector moves into its slot).
    pub fn remove(&mut self, id: &str) {
        let Some(at) = self.positions.remove(id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if at != last {
            let (head, tail) = self.data.split_at_mut(last * DIMENSIONS);
            head[at * DIMENSIONS..(at + 1) * DIMENSIONS].copy_from_slice(&tail[..DIMENSIONS]);
            self.ids.swap(at, last);
            self.positions.insert(self.ids[at].clone(), at);
        }
        self.ids.pop();
        self.data.truncate(last * DIMENSIONS);
    }

    /// The `k` most similar vectors among those `allow` accepts, best first. The filter runs
    /// before ranking, so fewer than `k` come back only when fewer than `k` are allowed.
    pub fn top_k(&self, query: &[f32], k: usize, allow: impl Fn(&str) -> bool) -> Vec<Scored> {
        if k == 0 || query.len() != DIMENSIONS {
            return Vec::new();
        }
        let mut best: BinaryHeap<MinScore> = BinaryHeap::with_capacity(k + 1);
        for (row, vector) in self.data.chunks_exact(DIMENSIONS).enumerate() {
            let id = &self.ids[row];
            if !allow(id) {
                continue;
            }
            let score = dot(query, vector);
            if best.len() < k {
                best.push(MinScore { score, row });
            } else if best.peek().is_some_and(|worst| score > worst.score) {
                best.pop();
                best.push(MinScore { score, row });
            }
        }
        let mut out: Vec<Scored> = best
            .into_iter()
            .map(|m| Scored {
                id: self.ids[m.row].clone(),
                score: m.score,
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        out
    }
}

/// Dot product with eight independent accumulators, which the compiler turns into SIMD; the
/// vectors are unit length, so this is the cosine similarity.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
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
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.row.cmp(&other.row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(seed: u64) -> Vec<f32> {
        // xorshift: deterministic pseudo-random unit vectors without a dependency.
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let raw: Vec<f32> = (0..DIMENSIONS)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
        raw.into_iter().map(|x| x / norm).collect()
    }

    fn brute_force(rows: &[(String, Vec<f32>)], query: &[f32], k: usize) -> Vec<String> {
        let mut scored: Vec<(f32, &String)> = rows
            .iter()
            .map(|(id, v)| (v.iter().zip(query).map(|(a, b)| a * b).sum(), id))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(k)
            .map(|(_, id)| id.clone())
            .collect()
    }

    #[test]
    fn top_k_equals_a_brute_force_ranking_under_a_filter() {
        let rows: Vec<(String, Vec<f32>)> =
            (0..2000).map(|i| (format!("m{i:04}"), vector(i))).collect();
        let index = ProjectVectors::from_rows(rows.clone());
        let query = vector(99_999);
        let top: Vec<String> = index
            .top_k(&query, 10, |_| true)
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(top, brute_force(&rows, &query, 10));

        // Only 7 rows pass the filter: asking for 5 returns 5, asking for 20 returns all 7.
        let rare = |id: &str| id.ends_with("13");
        let allowed: Vec<_> = rows.iter().filter(|(id, _)| rare(id)).cloned().collect();
        assert!(allowed.len() < 25);
        let five: Vec<String> = index
            .top_k(&query, 5, rare)
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(five, brute_force(&allowed, &query, 5));
        assert_eq!(index.top_k(&query, 100, rare).len(), allowed.len());
    }

    #[test]
    fn upsert_and_remove_keep_positions_consistent() {
        let mut index = ProjectVectors::default();
        for i in 0..5 {
            index.upsert(&format!("m{i}"), &vector(i));
        }
        index.remove("m1");
        index.remove("m1");
        index.upsert("m3", &vector(42));
        index.remove("m4");
        assert_eq!(index.len(), 3);
        let hit = index.top_k(&vector(42), 1, |_| true);
        assert_eq!(hit[0].id, "m3");
        assert!((hit[0].score - 1.0).abs() < 1e-5);
        let best_m2 = index.top_k(&vector(2), 1, |_| true);
        assert_eq!(best_m2[0].id, "m2");
        index.upsert("short", &[1.0, 0.0]);
        assert_eq!(
            index.len(),
            3,
            "a vector of the wrong length is not indexed"
        );
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let (a, b) = (vector(1), vector(2));
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-5);
        assert!(
            (dot(&a[..13], &b[..13])
                - a[..13]
                    .iter()
                    .zip(&b[..13])
                    .map(|(x, y)| x * y)
                    .sum::<f32>())
            .abs()
                < 1e-6
        );
    }
}
