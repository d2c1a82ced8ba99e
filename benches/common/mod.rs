//! Helpers shared by the benchmarks: deterministic texts and vectors (`support`), the model
//! location, and quantiles.

#[allow(dead_code, reason = "only the benches that run the binary use it")]
pub mod owner;

use std::time::Duration;

use annal::memory::NewMemory;
use annal::project::ProjectName;
use annal::store::{Store, StoreItem};

#[path = "../../engine/tests/common/support.rs"]
mod support;

pub use support::{Xorshift, model_dir};

/// Words for made-up memories.
pub trait Sentences {
    fn sentence(&mut self, words: &[String]) -> String;
}

impl Sentences for Xorshift {
    fn sentence(&mut self, words: &[String]) -> String {
        (0..12)
            .map(|_| words[(self.next() % words.len() as u64) as usize].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub fn vocabulary() -> Vec<String> {
    let stems = [
        "cache", "index", "query", "token", "worker", "deploy", "schema", "render", "queue",
        "socket", "bundle", "tenant", "invoice", "session", "router", "parser", "config", "thread",
        "buffer", "metric",
    ];
    let suffixes = ["", "s", "ing", "ed", "er", "able", "ion", "ly", "ness", "ful"];
    let mut words = Vec::new();
    for (i, stem) in stems.iter().enumerate() {
        for (j, suffix) in suffixes.iter().enumerate() {
            for k in 0..10 {
                words.push(format!("{stem}{suffix}{}", (i * 100 + j * 10 + k) % 97));
            }
        }
    }
    words
}

pub fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[at].as_secs_f64() * 1e3
}

/// Stores `total` generated agent memories, spread over `projects`, 1,000 per transaction.
pub async fn fill(
    store: &Store,
    projects: &[ProjectName],
    total: usize,
    rng: &mut Xorshift,
    words: &[String],
) -> anyhow::Result<()> {
    let per_project = total / projects.len();
    for project in projects {
        let mut left = per_project;
        while left > 0 {
            let n = left.min(1000);
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let memory = NewMemory::agent(rng.sentence(words), ["bench", "note"], "bench")?;
                items.push(StoreItem { memory, vector: rng.unit_vector(), supersedes: None });
            }
            store.insert(project, items).await?;
            left -= n;
        }
    }
    Ok(())
}
