//! Embeddings against sentence-transformers' own output, batching, the service's queues and
//! its recovery from a panicking model.

use std::sync::atomic::Ordering;

use annal_engine::embed::{EmbedError, EmbedService, MiniLm, ModelSearch, Priority};
use serde::Deserialize;

use crate::util::{PANIC_TRIGGER, embedder, model_dir, panicking_embedder};

#[derive(Deserialize)]
struct Reference {
    texts: Vec<String>,
    token_counts_before_truncation: Vec<usize>,
    embeddings: Vec<Vec<f32>>,
    cosine: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm-reference.json");
    let text = std::fs::read_to_string(&path).expect("reference file");
    serde_json::from_str(&text).expect("reference json")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn embeddings_match_sentence_transformers() {
    let reference = reference();
    assert!(reference.token_counts_before_truncation.iter().any(|&n| n > 256));
    assert!(reference.texts.iter().any(|t| !t.is_ascii()), "a non-ASCII text is covered");
    let vectors = embedder().embed(reference.texts.clone(), Priority::Bulk).await.expect("embed");
    assert_eq!(vectors.len(), reference.texts.len());
    for (i, (got, want)) in vectors.iter().zip(&reference.embeddings).enumerate() {
        assert_eq!(got.len(), 384);
        let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "text {i}: max component difference {worst}");
    }
    for i in 0..vectors.len() {
        for j in 0..vectors.len() {
            let got = cosine(&vectors[i], &vectors[j]);
            let want = reference.cosine[i][j];
            assert!((got - want).abs() < 1e-4, "cosine({i},{j}) = {got}, expected {want}");
        }
    }
}

#[tokio::test]
async fn a_batch_equals_single_embeddings() {
    let texts = reference().texts;
    let batch = embedder().embed(texts.clone(), Priority::Interactive).await.expect("batch");
    for (text, from_batch) in texts.into_iter().zip(batch) {
        let single = embedder().embed_one(text).await.expect("single");
        let worst = single.iter().zip(&from_batch).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-6, "batch and single differ by {worst}");
    }
}

/// A long job is cut into slices that every general lane takes a share of; the answer still
/// holds each text's own vector, in the caller's order, whichever lane embedded it.
#[tokio::test]
async fn a_job_shared_by_the_lanes_answers_in_the_callers_order() {
    let search = ModelSearch { env_dir: Some(model_dir()), ..Default::default() };
    // 16-token slices: a slice or two of these texts each, spread over the lanes.
    let sliced = EmbedService::minilm_sliced(search, 16);
    let texts: Vec<String> = (0..40)
        .map(|i| format!("Note {i}: {}", "the watcher debounces events ".repeat(1 + i % 5)))
        .collect();
    let whole_service = embedder();
    let (shared, whole) = tokio::join!(
        sliced.embed(texts.clone(), Priority::Bulk),
        whole_service.embed(texts.clone(), Priority::Interactive)
    );
    let (shared, whole) = (shared.expect("sliced"), whole.expect("whole"));
    assert_eq!(shared.len(), texts.len());
    for (i, (a, b)) in shared.iter().zip(&whole).enumerate() {
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-6, "text {i} differs by {worst}");
    }
}

#[tokio::test]
async fn an_interactive_request_does_not_wait_for_a_bulk_job() {
    let service = embedder();
    let texts: Vec<String> = (0..160)
        .map(|i| format!("Indexing chunk {i}: the watcher re-embeds changed sections of docs."))
        .collect();
    let bulk_service = service.clone();
    let bulk = tokio::spawn(async move { bulk_service.embed(texts, Priority::Bulk).await });
    // Both are queued before the worker can get through ten slices of the bulk job; the
    // interactive request is served after at most the slice in progress.
    let query = service.embed_one("what did we decide about the watcher?".into()).await;
    assert!(query.is_ok());
    assert!(!bulk.is_finished(), "the query waited for the whole bulk job");
    assert_eq!(bulk.await.expect("join").expect("bulk").len(), 160);
}

/// Another session's `store_batch` is interactive work too: a query beside it takes its turn
/// (or the other lane) instead of waiting for the whole batch.
#[tokio::test]
async fn a_query_does_not_wait_for_another_sessions_batch() {
    let service = embedder();
    let sentence = "The indexer walks every watch path and embeds each heading section. ";
    let texts: Vec<String> =
        (0..60).map(|i| format!("Memory {i}. {}", sentence.repeat(400))).collect();
    let batch_service = service.clone();
    let batch =
        tokio::spawn(async move { batch_service.embed(texts, Priority::Interactive).await });
    tokio::task::yield_now().await;
    let query = service.embed_one("what did we decide about the watcher?".into()).await;
    assert!(query.is_ok());
    assert!(!batch.is_finished(), "the query waited for the whole batch of 60 long texts");
    assert_eq!(batch.await.expect("join").expect("batch").len(), 60);
}

#[test]
fn a_missing_model_names_every_place_searched() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().expect("dir")).collect();
    let search = ModelSearch {
        env_dir: Some(dirs[0].path().to_path_buf()),
        config_dir: Some(dirs[1].path().to_path_buf()),
        bundled_dir: None,
        data_dir: Some(dirs[2].path().to_path_buf()),
        hf_cache: Some(dirs[3].path().to_path_buf()),
    };
    let err = search.locate().expect_err("no model anywhere");
    let text = err.to_string();
    for dir in &dirs {
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
    }
    assert!(text.contains("annal model fetch"), "the error names the fix: {text}");
}

#[test]
fn the_lookup_order_prefers_the_first_place_with_all_files() {
    let partial = tempfile::tempdir().expect("dir");
    std::fs::write(partial.path().join("config.json"), "{}").expect("write");
    let search = ModelSearch {
        env_dir: Some(partial.path().to_path_buf()),
        config_dir: Some(model_dir()),
        ..Default::default()
    };
    assert_eq!(search.locate().expect("found"), model_dir());
}

#[tokio::test]
async fn a_broken_model_fails_every_request_clearly() {
    let dir = tempfile::tempdir().expect("dir");
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(dir.path().join(file), "not a model").expect("write");
    }
    let path = dir.path().to_path_buf();
    let service = EmbedService::start(move || MiniLm::load(&path));
    for _ in 0..2 {
        match service.embed_one("hello".into()).await {
            Err(EmbedError::Load { dir: failed, .. }) => assert_eq!(failed, dir.path()),
            other => panic!("expected a load error, got {other:?}"),
        }
    }
}

/// Weights cut short (a download that stopped) are refused at load with the file named, and
/// nothing is embedded with half a model.
#[test]
fn truncated_weights_are_refused_at_load() {
    let dir = tempfile::tempdir().expect("dir");
    for file in ["config.json", "tokenizer.json"] {
        std::os::unix::fs::symlink(model_dir().join(file), dir.path().join(file)).expect("link");
    }
    let weights = std::fs::read(model_dir().join("model.safetensors")).expect("weights");
    for keep in [4, 1 << 20, weights.len() - 1] {
        std::fs::write(dir.path().join("model.safetensors"), &weights[..keep]).expect("write");
        match MiniLm::load(dir.path()) {
            Err(EmbedError::Load { message, .. }) => {
                assert!(message.contains("model.safetensors"), "{keep} bytes: {message}");
            }
            other => panic!("{keep} bytes: expected a load error, got {other:?}"),
        }
    }
}

#[test]
fn a_model_of_another_kind_is_refused_at_load_naming_what_differs() {
    let original: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(model_dir().join("config.json")).expect("config"),
    )
    .expect("config json");
    let cases = [
        ("hidden_act", serde_json::json!("relu"), "hidden_act"),
        ("position_embedding_type", serde_json::json!("relative_key"), "position_embedding_type"),
        ("num_attention_heads", serde_json::json!(7), "num_attention_heads"),
        ("hidden_size", serde_json::json!("wide"), "config.json"),
    ];
    for (key, value, named) in cases {
        let dir = tempfile::tempdir().expect("dir");
        for file in ["tokenizer.json", "model.safetensors"] {
            std::os::unix::fs::symlink(model_dir().join(file), dir.path().join(file))
                .expect("link");
        }
        let mut config = original.clone();
        config[key] = value;
        std::fs::write(dir.path().join("config.json"), config.to_string()).expect("write");
        match MiniLm::load(dir.path()) {
            Err(EmbedError::Load { message, .. }) => {
                assert!(message.contains(named), "{key}: {message}");
            }
            other => panic!("{key}: expected a load error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_panic_in_the_model_fails_the_request_it_held_and_later_ones_work() {
    let (service, loads) = panicking_embedder();
    let before = service.embed_one("the deploy runs at noon".into()).await.expect("before");
    assert_eq!(loads.load(Ordering::SeqCst), 1);

    // A bulk job holding the trigger and interactive requests queued beside it: only the job
    // that met the panic fails, with the panic's text; the others are served.
    let texts = vec!["a fine text".to_string(), format!("boom {PANIC_TRIGGER}")];
    let bulk = tokio::spawn({
        let service = service.clone();
        async move { service.embed(texts, Priority::Bulk).await }
    });
    let queries: Vec<_> = (0..4)
        .map(|i| {
            let service = service.clone();
            tokio::spawn(async move { service.embed_one(format!("query {i}")).await })
        })
        .collect();
    match bulk.await.expect("join") {
        Err(EmbedError::Panicked(message)) => assert!(message.contains(PANIC_TRIGGER), "{message}"),
        other => panic!("expected the panic as an error, got {other:?}"),
    }
    for query in queries {
        assert_eq!(query.await.expect("join").expect("a query beside the panic").len(), 384);
    }

    // Again and again: each panic is one failed request, never a stuck or dead service.
    for _ in 0..2 {
        let failed = service.embed_one(format!("{PANIC_TRIGGER} again")).await;
        let text = failed.expect_err("panics").to_string();
        assert!(
            text.contains("crashed") && text.contains("later ones use a fresh model"),
            "{text}"
        );
    }
    let after = service.embed_one("the deploy runs at noon".into()).await.expect("after");
    assert_eq!(before, after, "the fresh model gives the same vectors");
    assert_eq!(loads.load(Ordering::SeqCst), 4, "one fresh model after each of the 3 panics");
}
