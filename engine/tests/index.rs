//! File indexing on real trees in temp dirs with the real model: reconcile exactness over
//! random edit sequences, incremental re-embedding, skips, and failures.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use annal_engine::config::ProjectConfig;
use annal_engine::embed::{EmbedError, EmbedService, Embedder, MiniLm};
use annal_engine::index::{IndexError, reconcile};
use annal_engine::memory::ChunkType;
use annal_engine::project::ProjectName;
use annal_engine::store::Store;

use crate::util::{embedder, model_dir};

fn project() -> ProjectName {
    ProjectName::parse("docs").expect("name")
}

fn config(paths: &[&Path]) -> ProjectConfig {
    ProjectConfig {
        watch_paths: paths.iter().map(|p| p.to_path_buf()).collect(),
        ..Default::default()
    }
}

/// (source, content) of every file chunk: what must equal a fresh index of the same tree.
async fn file_chunks(store: &Store) -> BTreeSet<(String, String, Vec<String>)> {
    match crate::util::memories_of_type(store, &project(), ChunkType::FileIndexed).await {
        Ok(chunks) => chunks.into_iter().map(|m| (m.source, m.content, m.tags)).collect(),
        Err(_) => BTreeSet::new(),
    }
}

async fn fresh_index(config: &ProjectConfig) -> BTreeSet<(String, String, Vec<String>)> {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).await.expect("store");
    reconcile(&store, &embedder(), &project(), config, &|_| {}).await.expect("fresh reconcile");
    file_chunks(&store).await
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn markdown(rng: &mut Rng, version: usize) -> String {
    let sections = 1 + rng.below(3);
    (0..sections)
        .map(|s| {
            format!(
                "# Part {s}\nSection {s} of version {version}: {}.\n",
                ["cache", "deploy", "schema"][rng.below(3)]
            )
        })
        .collect()
}

#[tokio::test]
async fn reconcile_equals_a_fresh_index_after_random_edits() {
    for seed in [7u64, 1234] {
        let mut rng = Rng(seed);
        let root = tempfile::tempdir().expect("root");
        let second = tempfile::tempdir().expect("second root");
        let data = tempfile::tempdir().expect("data");
        let store = Store::open(data.path()).await.expect("store");
        let mut cfg = config(&[root.path(), second.path()]);
        let names = ["a.md", "b.md", "sub/c.md", "sub/d.yaml", "docs/e.md", "CLAUDE.md", "f.txt"];
        std::fs::create_dir_all(root.path().join("sub")).expect("mkdir");
        std::fs::create_dir_all(root.path().join("docs")).expect("mkdir");
        std::fs::write(second.path().join("other.md"), "# Other\nIn the second watch path.\n")
            .expect("write");
        for step in 0..14 {
            let name = names[rng.below(names.len())];
            let path = root.path().join(name);
            match rng.below(7) {
                0 | 1 => std::fs::write(&path, markdown(&mut rng, step)).expect("write"),
                2 => {
                    let _ = std::fs::remove_file(&path);
                }
                3 => {
                    let target = root.path().join(names[rng.below(names.len())]);
                    let _ = std::fs::rename(&path, target);
                }
                4 => {
                    // Atomic save: write a temp file, rename it over the target.
                    let tmp = root.path().join(".tmp-save");
                    std::fs::write(&tmp, markdown(&mut rng, step)).expect("write");
                    std::fs::rename(&tmp, &path).expect("rename");
                }
                5 => {
                    cfg.watch_exclude = if cfg.watch_exclude.iter().any(|p| p == "**/sub/**") {
                        ProjectConfig::default().watch_exclude
                    } else {
                        let mut exclude = ProjectConfig::default().watch_exclude;
                        exclude.push("**/sub/**".into());
                        exclude
                    };
                }
                _ => {
                    cfg.watch_paths = if cfg.watch_paths.len() == 2 {
                        vec![root.path().to_path_buf()]
                    } else {
                        config(&[root.path(), second.path()]).watch_paths
                    };
                }
            }
            reconcile(&store, &embedder(), &project(), &cfg, &|_| {}).await.expect("reconcile");
            assert_eq!(
                file_chunks(&store).await,
                fresh_index(&cfg).await,
                "seed {seed}, step {step}"
            );
        }
    }
}

/// Counts the texts embedded, to prove unchanged chunks are not embedded again.
struct Counting {
    inner: MiniLm,
    texts: Arc<AtomicUsize>,
}

impl Embedder for Counting {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        self.inner.embed(texts)
    }
}

#[tokio::test]
async fn editing_one_section_re_embeds_one_chunk() {
    let texts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&texts);
    let counting = EmbedService::start(move || {
        Ok(Counting { inner: MiniLm::load(&model_dir())?, texts: Arc::clone(&counter) })
    });
    let root = tempfile::tempdir().expect("root");
    let data = tempfile::tempdir().expect("data");
    let store = Store::open(data.path()).await.expect("store");
    let cfg = config(&[root.path()]);
    let file = root.path().join("big.md");
    let sections: Vec<String> =
        (0..50).map(|i| format!("## Section {i}\nBody of section {i}.\n")).collect();
    std::fs::write(&file, sections.concat()).expect("write");

    let first = reconcile(&store, &counting, &project(), &cfg, &|_| {}).await.expect("first");
    assert_eq!((first.chunks_embedded, texts.load(Ordering::SeqCst)), (50, 50));

    let unchanged = reconcile(&store, &counting, &project(), &cfg, &|_| {}).await.expect("again");
    assert_eq!((unchanged.files_unchanged, unchanged.files_indexed), (1, 0));
    assert_eq!(texts.load(Ordering::SeqCst), 50, "an unchanged file is not read or embedded");

    let mut edited = sections.clone();
    edited[17] = "## Section 17\nA rewritten body.\n".into();
    std::fs::write(&file, edited.concat()).expect("write");
    let report = reconcile(&store, &counting, &project(), &cfg, &|_| {}).await.expect("edit");
    assert_eq!((report.chunks_embedded, report.chunks_kept, report.chunks_removed), (1, 49, 1));
    assert_eq!(texts.load(Ordering::SeqCst), 51);
    assert_eq!(
        crate::util::memories_of_type(&store, &project(), ChunkType::FileIndexed)
            .await
            .expect("chunks")
            .len(),
        50
    );
}

#[tokio::test]
async fn bad_files_are_skipped_with_a_reason_and_never_stop_the_run() {
    let root = tempfile::tempdir().expect("root");
    let data = tempfile::tempdir().expect("data");
    let store = Store::open(data.path()).await.expect("store");
    let r = root.path();
    std::fs::write(r.join("good.md"), "# Good\nIndexed fine.\n").expect("write");
    std::fs::write(r.join("binary.md"), b"# Bin\n\x00\x01\x02").expect("write");
    std::fs::write(r.join("latin1.md"), b"# Caf\xe9\n").expect("write");
    std::fs::write(r.join("huge.md"), "x".repeat(2 * 1024 * 1024 + 1)).expect("write");
    std::os::unix::fs::symlink(r.join("missing.md"), r.join("broken.md")).expect("link");
    std::fs::create_dir(r.join("loop")).expect("mkdir");
    std::os::unix::fs::symlink(r, r.join("loop/back")).expect("loop link");
    std::fs::create_dir_all(r.join("node_modules/pkg")).expect("mkdir");
    std::fs::write(r.join("node_modules/pkg/readme.md"), "# Excluded\nnever indexed\n")
        .expect("write");

    let report = reconcile(&store, &embedder(), &project(), &config(&[r]), &|_| {})
        .await
        .expect("run completes");
    let reasons: Vec<String> =
        report.skipped.iter().map(|s| format!("{} {}", s.path, s.reason)).collect();
    for (file, reason) in [
        ("binary.md", "binary"),
        ("latin1.md", "not UTF-8"),
        ("huge.md", "larger than"),
        ("broken.md", ""),
        ("back", "loop"),
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(file) && r.contains(reason)),
            "{file}: {reasons:?}"
        );
    }
    let chunks = file_chunks(&store).await;
    let sources: Vec<&str> = chunks.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert!(sources[0].ends_with("good.md|good.md > Good"));
}

#[tokio::test]
async fn a_missing_watch_path_fails_the_run() {
    let data = tempfile::tempdir().expect("data");
    let store = Store::open(data.path()).await.expect("store");
    let gone = PathBuf::from("/nonexistent/annal-watch-path");
    match reconcile(&store, &embedder(), &project(), &config(&[&gone]), &|_| {}).await {
        Err(IndexError::WatchPath { path, .. }) => assert_eq!(path, gone),
        other => panic!("expected a watch path error, got {other:?}"),
    }
}

#[tokio::test]
async fn tags_and_sources_follow_the_file() {
    let root = tempfile::tempdir().expect("root");
    let data = tempfile::tempdir().expect("data");
    let store = Store::open(data.path()).await.expect("store");
    std::fs::create_dir(root.path().join("docs")).expect("mkdir");
    std::fs::write(root.path().join("CLAUDE.md"), "# Rules\nUse pnpm.\n").expect("write");
    std::fs::write(root.path().join("docs/guide.md"), "# Guide\nRead me.\n").expect("write");
    std::fs::write(root.path().join("app.toml"), "name = \"x\"\n").expect("write");
    reconcile(&store, &embedder(), &project(), &config(&[root.path()]), &|_| {})
        .await
        .expect("run");
    let chunks = file_chunks(&store).await;
    let find =
        |suffix: &str| chunks.iter().find(|(s, _, _)| s.ends_with(suffix)).cloned().expect(suffix);
    assert_eq!(find("CLAUDE.md|CLAUDE.md > Rules").2, ["indexed", "agent-config"]);
    assert_eq!(find("guide.md|guide.md > Guide").2, ["indexed", "docs"]);
    let toml = find("app.toml|app.toml");
    assert_eq!(toml.2, ["indexed"]);
    assert_eq!(toml.1, "app.toml\n\nname = \"x\"");
}
