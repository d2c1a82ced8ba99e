//! Config parsing on any text: no panic, and whatever parses survives a save unchanged (the
//! owner rewrites the file on every `init_project`, so a lossy round trip loses user settings)
//! or is refused naming the setting serde_yaml cannot write back.
#![no_main]

use std::path::Path;

use annal::config::{Config, ConfigError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("config.yaml");
    let Ok(config) = Config::parse(text, path) else { return };
    let saved = match config.to_yaml(path) {
        Ok(saved) => saved,
        Err(ConfigError::Unwritable { key, .. }) => {
            assert!(config.extra.contains_key(&key) || key.starts_with("projects."), "{key}");
            return;
        }
        Err(err) => panic!("a parsed config does not serialise: {err}"),
    };
    let reread = Config::parse(&saved, path)
        .unwrap_or_else(|err| panic!("the saved config does not parse: {err}\n{saved}"));
    assert_eq!(reread, config, "the round trip changed the config:\n{saved}");
});
