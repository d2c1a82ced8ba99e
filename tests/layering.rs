//! The engine knows nothing of transports: engine modules never import tauri, rmcp or axum.

use crate::util::repo_dir;

const ADAPTERS: &[&str] = &["main.rs", "mcp", "jsonrpc", "http", "cli", "owner", "sidecar"];
const TRANSPORT_CRATES: &[&str] = &["tauri", "rmcp", "axum"];

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn engine_modules_import_no_transport_crate() {
    let src = repo_dir().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5);
    let mut offenders = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("component");
        let first = first.as_os_str().to_string_lossy();
        let first = first.trim_end_matches(".rs");
        if ADAPTERS.iter().any(|a| a.trim_end_matches(".rs") == first) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        for krate in TRANSPORT_CRATES {
            if text.contains(&format!("{krate}::")) {
                offenders.push(format!("{} uses {krate}", relative.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "engine modules import transports: {offenders:?}");
}
