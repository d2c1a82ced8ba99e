//! Inputs the fuzz targets (fuzz/, `scripts/fuzz`) found, kept as regression tests.

use annal_engine::config::{Config, ConfigError, ConfigFile, PathInputs};

/// serde_yaml reads a mapping key that is itself a one-entry mapping (`? {a: 1}`) or tagged,
/// but cannot write one. A config whose unknown setting holds such a key loaded, yet every save failed with
/// the emitter's "expected SCALAR, SEQUENCE-START, MAPPING-START, or ALIAS". Saving now names
/// the setting, and the file is left as it was.
#[tokio::test]
async fn a_config_setting_that_cannot_be_written_back_is_named_and_the_file_kept() {
    let path = std::path::Path::new("config.yaml");
    // The fuzzer's input, minimised: `p` maps the key `{":": null}` to null.
    let config = Config::parse("p:\n ? ::\n", path).expect("it parses");
    match config.to_yaml(path) {
        Err(ConfigError::Unwritable { key, .. }) => assert_eq!(key, "p"),
        other => panic!("expected an error naming `p`, got {other:?}"),
    }
    let nested = "projects:\n  app:\n    custom: {? {a: 1}: x}\n";
    match Config::parse(nested, path).expect("it parses").to_yaml(path) {
        Err(ConfigError::Unwritable { key, .. }) => assert_eq!(key, "projects.app.custom"),
        other => panic!("expected an error naming the project setting, got {other:?}"),
    }

    let home = tempfile::tempdir().expect("home");
    let text = "port: 0\nlayout:\n  ? {x: 1}\n  : corner\n";
    let file = home.path().join("config.yaml");
    std::fs::write(&file, text).expect("config");
    let paths = PathInputs { annal_home: Some(home.path().to_path_buf()), ..Default::default() }
        .resolve()
        .expect("paths");
    let config = ConfigFile::load(paths).expect("the config loads");
    let saved = config
        .update(|c| {
            c.port = 1;
            Ok(())
        })
        .await;
    let message = saved.expect_err("the save is refused").to_string();
    assert!(
        message.contains("`layout` cannot be written back") && !message.contains("invalid"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&file).expect("config"), text, "the file is untouched");
    assert_eq!(config.snapshot().port, 0, "nothing changed in memory either");
}
