//! Engine micro-benchmarks: model load, embedding throughput and store throughput.
//! Run with `cargo bench --bench engine`; prints a table. Uses the model from ANNAL_MODEL_DIR
//! or `models/all-MiniLM-L6-v2` (scripts/fetch-model.sh).

#![allow(clippy::print_stdout, reason = "the benchmark prints its table")]
use std::time::{Duration, Instant};

use annal::embed::{EmbedService, Embedder, MiniLm, ModelSearch, Priority};
use annal::events::EventBus;
use annal::memories::Memories;
use annal::memory::ChunkType;
use annal::memory::NewMemory;
use annal::project::ProjectName;
use annal::store::{Store, StoreItem};
use annal::vector_index::{EntryMeta, ProjectVectors};

#[path = "../engine/tests/common/support.rs"]
mod support;
use support::{model_dir, unit_vector};

fn short_text(i: usize) -> String {
    format!("Decision {i}: keep the search path free of locks so readers never wait.")
}

/// About 240 tokens of prose, different for every `i`.
fn long_text(i: usize) -> String {
    let sentence = "The indexer walks every watch path, skips unchanged files by modification \
                    time and size, splits markdown into heading sections and embeds each one";
    (0..6).map(|k| format!("Section {i}.{k}. {sentence}.")).collect::<Vec<_>>().join(" ")
}

/// An int8 copy of the vectors (per-vector scale), to measure the compact encoding the
/// index could use instead of f32: scan time and how many of the exact top 10 it keeps.
struct Int8Vectors {
    data: Vec<i8>,
    scales: Vec<f32>,
}

impl Int8Vectors {
    fn new(vectors: &[Vec<f32>]) -> Self {
        let mut data = Vec::with_capacity(vectors.len() * 384);
        let mut scales = Vec::with_capacity(vectors.len());
        for v in vectors {
            let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(f32::EPSILON);
            scales.push(max / 127.0);
            data.extend(v.iter().map(|x| (x / max * 127.0).round() as i8));
        }
        Self { data, scales }
    }

    fn top_10(&self, query: &[f32]) -> Vec<usize> {
        let q = Self::new(&[query.to_vec()]);
        let mut scored: Vec<(f32, usize)> = self
            .data
            .chunks_exact(384)
            .enumerate()
            .map(|(row, v)| {
                let mut acc = [0i32; 16];
                for (a, b) in v.chunks_exact(16).zip(q.data.chunks_exact(16)) {
                    for i in 0..16 {
                        acc[i] += i32::from(a[i]) * i32::from(b[i]);
                    }
                }
                (acc.iter().sum::<i32>() as f32 * self.scales[row] * q.scales[0], row)
            })
            .collect();
        scored.select_nth_unstable_by(10, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(10);
        scored.into_iter().map(|(_, row)| row).collect()
    }
}

struct Row {
    what: String,
    value: f64,
    unit: &'static str,
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let dir = model_dir();

    let mut loads = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let model = MiniLm::load(&dir)?;
        loads.push(started.elapsed());
        drop(model);
    }
    loads.sort();
    rows.push(Row {
        what: "model load (median of 3)".into(),
        value: loads[1].as_secs_f64() * 1e3,
        unit: "ms",
    });

    let model = MiniLm::load(&dir)?;
    let shorts: Vec<String> = (0..256).map(short_text).collect();
    let started = Instant::now();
    for chunk in shorts.chunks(16) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        model.embed(&refs)?;
    }
    rows.push(Row {
        what: "embed short texts, batches of 16".into(),
        value: per_second(256, started.elapsed()),
        unit: "texts/s",
    });
    let started = Instant::now();
    for text in shorts.iter().take(64) {
        model.embed(&[text.as_str()])?;
    }
    rows.push(Row {
        what: "embed short texts, one at a time".into(),
        value: per_second(64, started.elapsed()),
        unit: "texts/s",
    });
    let longs: Vec<String> = (0..32).map(long_text).collect();
    let started = Instant::now();
    for chunk in longs.chunks(4) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        model.embed(&refs)?;
    }
    rows.push(Row {
        what: "embed ~240-token chunks, batches of 4".into(),
        value: per_second(32, started.elapsed()),
        unit: "chunks/s",
    });
    drop(model);

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let service =
            EmbedService::minilm(ModelSearch { env_dir: Some(dir.clone()), ..Default::default() });
        service.embed_one("warm up".into()).await?;
        let started = Instant::now();
        service.embed(shorts.clone(), Priority::Bulk).await?;
        rows.push(Row {
            what: "embed short texts via EmbedService (bulk)".into(),
            value: per_second(256, started.elapsed()),
            unit: "texts/s",
        });

        let data = tempfile::tempdir()?;
        let store = Store::open(data.path()).await?;
        let project = ProjectName::parse("bench")?;
        let item = |i: usize| -> anyhow::Result<StoreItem> {
            Ok(StoreItem {
                memory: NewMemory::agent(short_text(i), ["bench", "decision"], "bench")?,
                vector: unit_vector(i as u64),
                supersedes: None,
            })
        };
        let started = Instant::now();
        for i in 0..500 {
            store.insert(&project, vec![item(i)?]).await?;
        }
        rows.push(Row {
            what: "store, one memory per transaction".into(),
            value: per_second(500, started.elapsed()),
            unit: "memories/s",
        });
        let started = Instant::now();
        for batch in 0..50 {
            let items = (0..100)
                .map(|i| item(10_000 + batch * 100 + i))
                .collect::<anyhow::Result<Vec<_>>>()?;
            store.insert(&project, items).await?;
        }
        rows.push(Row {
            what: "store, 100 memories per transaction".into(),
            value: per_second(5000, started.elapsed()),
            unit: "memories/s",
        });

        let memories =
            Memories::new(store.clone(), service.clone(), EventBus::open(store.clone()).await?);
        let started = Instant::now();
        for i in 0..100 {
            memories
                .remember(
                    "bench",
                    format!("{} (end to end)", short_text(i)),
                    vec!["e2e".into()],
                    None,
                    None,
                )
                .await?;
        }
        rows.push(Row {
            what: "remember end to end (embed + store)".into(),
            value: per_second(100, started.elapsed()),
            unit: "memories/s",
        });
        let started = Instant::now();
        for _ in 0..20 {
            store.stats(&project, chrono::Utc::now()).await?;
        }
        rows.push(Row {
            what: "stats over 5,600 memories".into(),
            value: started.elapsed().as_secs_f64() * 1e3 / 20.0,
            unit: "ms",
        });
        anyhow::Ok(())
    })?;

    for size in [1_000, 10_000, 100_000] {
        let index = ProjectVectors::from_rows((0..size).map(|i| {
            let meta = EntryMeta {
                chunk_type: ChunkType::AgentMemory,
                created_at: chrono::Utc::now(),
                superseded: false,
                source: String::new(),
                tags: vec!["bench".into()],
            };
            (format!("m{i}"), unit_vector(i as u64), meta)
        }));
        let mut times: Vec<Duration> = (0..41)
            .map(|q| {
                let query = unit_vector((size + q) as u64);
                let started = Instant::now();
                std::hint::black_box(index.top_k(&query, 10, |_| true));
                started.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        rows.push(Row {
            what: format!("exact top-10 vector scan, {size} vectors, p50"),
            value: ms(times[20]),
            unit: "ms",
        });
        rows.push(Row {
            what: format!("exact top-10 vector scan, {size} vectors, p95"),
            value: ms(times[38]),
            unit: "ms",
        });
        if size == 100_000 {
            let vectors: Vec<Vec<f32>> = (0..size as u64).map(unit_vector).collect();
            let int8 = Int8Vectors::new(&vectors);
            let (mut times, mut kept) = (Vec::new(), 0usize);
            for q in 0..41 {
                let query = unit_vector((size + q) as u64);
                let started = Instant::now();
                let approx = std::hint::black_box(int8.top_10(&query));
                times.push(started.elapsed());
                let exact = index.top_k(&query, 10, |_| true);
                kept += exact
                    .iter()
                    .filter(|s| approx.contains(&s.id[1..].parse::<usize>().unwrap_or(usize::MAX)))
                    .count();
            }
            times.sort();
            rows.push(Row {
                what: "int8 top-10 scan, 100000 vectors, p50".into(),
                value: ms(times[20]),
                unit: "ms",
            });
            rows.push(Row {
                what: "int8 top-10 agreement with exact f32".into(),
                value: kept as f64 / 410.0 * 100.0,
                unit: "%",
            });
        }
    }

    println!("| benchmark | value | unit |\n|---|---:|---|");
    for row in rows {
        println!("| {} | {:.1} | {} |", row.what, row.value, row.unit);
    }
    Ok(())
}
