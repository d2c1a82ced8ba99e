//! The engine knows nothing of transports. Cargo enforces it — `annal-engine` does not depend
//! on axum, rmcp or tauri, so an import of them does not compile — and this test keeps it so:
//! none of them may enter the engine's dependency tree, directly or through another crate.

use crate::util::workspace_dir;

const TRANSPORT_CRATES: &[&str] = &["tauri", "rmcp", "axum", "hyper", "tower"];

#[test]
fn the_engine_crate_depends_on_no_transport() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .current_dir(workspace_dir())
        .args(["tree", "--offline", "--locked", "-p", "annal-engine", "-e", "normal,build"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.lines().any(|l| l.starts_with("candle-core ")), "a real tree:\n{tree}");
    let offenders: Vec<&str> = tree
        .lines()
        .filter(|line| {
            let name = line.split_whitespace().next().unwrap_or_default();
            TRANSPORT_CRATES.iter().any(|t| name == *t || name.starts_with(&format!("{t}-")))
        })
        .collect();
    assert!(offenders.is_empty(), "the engine pulls in transports: {offenders:?}");
}
