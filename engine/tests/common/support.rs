//! What every test and bench of the workspace shares, included by path from each (the engine's
//! unit and integration tests, `annal`'s and `annal-desktop`'s tests, the benches): where the
//! workspace and the model are, and deterministic pseudo-random unit vectors.

// Each includer uses its own part of this file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace root: the nearest directory above the including package with `Cargo.lock`.
pub fn workspace_dir() -> PathBuf {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    package
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(package)
        .to_path_buf()
}

/// The model fetched by `scripts/fetch-model.sh` (or wherever `ANNAL_MODEL_DIR` points).
pub fn model_dir() -> PathBuf {
    std::env::var_os("ANNAL_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("models").join("all-MiniLM-L6-v2"))
}

/// xorshift64: deterministic pseudo-random numbers without a dependency.
#[derive(Debug, Clone)]
pub struct Xorshift(pub u64);

impl Xorshift {
    /// A generator for `seed`; nearby seeds give unrelated sequences.
    pub fn seeded(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// The next 384-dimensional unit vector (MiniLM's size).
    pub fn unit_vector(&mut self) -> Vec<f32> {
        let raw: Vec<f32> = (0..384).map(|_| (self.next() % 2000) as f32 / 1000.0 - 1.0).collect();
        let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
        raw.into_iter().map(|x| x / norm).collect()
    }
}

/// The unit vector for `seed`: the same seed, the same vector.
pub fn unit_vector(seed: u64) -> Vec<f32> {
    Xorshift::seeded(seed).unit_vector()
}
