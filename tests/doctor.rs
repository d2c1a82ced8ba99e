//! `annal doctor` as a subprocess over real broken setups: each failure is reported with its
//! fix and sets the exit status; a harmless leftover is a warning.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::util::{KillOnDrop, isolate, model_dir, wait_until};

fn annal(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_annal"));
    isolate(&mut cmd, home).env("ANNAL_MODEL_DIR", model_dir());
    cmd
}

fn doctor(cmd: &mut Command) -> (Output, Vec<Value>) {
    let out = cmd.args(["doctor", "--json"]).output().expect("run doctor");
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out, checks)
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} in {checks:?}"))
}

fn verdict(checks: &[Value], name: &str) -> String {
    check(checks, name)["verdict"].as_str().unwrap_or_default().to_owned()
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill");
    assert!(status.success());
}

fn serve(home: &Path) -> KillOnDrop {
    std::fs::write(home.join("config.yaml"), "port: 0\n").expect("config");
    let owner = KillOnDrop(annal(home).arg("serve").spawn().expect("serve"));
    let socket = annal::owner::socket_path(&home.join("data"));
    wait_until("the owner listens", Duration::from_secs(60), || socket.exists());
    owner
}

#[test]
fn a_healthy_owner_passes_a_hung_one_fails_and_a_dead_ones_leftovers_warn() {
    let home = tempfile::tempdir().expect("home");
    let mut owner = serve(home.path());
    let pid = owner.0.id();

    let (out, checks) = doctor(&mut annal(home.path()));
    assert!(out.status.success(), "{checks:#?}");
    for name in ["config", "model", "database", "owner", "http"] {
        assert_eq!(verdict(&checks, name), "ok", "{checks:#?}");
    }
    assert!(check(&checks, "model")["detail"].as_str().unwrap_or_default().contains("cosine"));

    // Stopped, it still holds the lock and the kernel still queues connections: only a ping
    // tells.
    signal(pid, "-STOP");
    let (out, checks) = doctor(&mut annal(home.path()));
    signal(pid, "-CONT");
    assert_eq!(out.status.code(), Some(1), "{checks:#?}");
    assert_eq!(verdict(&checks, "owner"), "fail");
    let fix = check(&checks, "owner")["fix"].as_str().unwrap_or_default().to_owned();
    assert!(fix.contains(&format!("kill {pid}")), "{fix}");

    let _ = owner.0.kill();
    let _ = owner.0.wait();
    let (out, checks) = doctor(&mut annal(home.path()));
    assert!(out.status.success(), "a dead owner's leftovers are no failure: {checks:#?}");
    assert_eq!(verdict(&checks, "owner"), "warn");
    let detail = check(&checks, "owner")["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains(&format!("pid {pid}, which died")), "{detail}");

    // The text form: one line per check, the fix under it.
    let out = annal(home.path()).arg("doctor").output().expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("warn  owner")), "{text}");
    assert!(text.contains("fix: nothing to do"), "{text}");
}

#[test]
fn a_broken_model_a_corrupt_database_and_a_bad_config_fail_with_their_fixes() {
    let home = tempfile::tempdir().expect("home");
    let mut owner = serve(home.path());
    let db = home.path().join("data").join(annal::store::DATABASE_FILE);
    wait_until("the database exists", Duration::from_secs(30), || db.exists());
    // A clean stop checkpoints the WAL into the file.
    signal(owner.0.id(), "-TERM");
    let _ = owner.0.wait();

    // A model whose weights were cut short (an interrupted copy).
    let model = home.path().join("broken-model");
    std::fs::create_dir(&model).expect("dir");
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(file), model.join(file)).expect("copy");
    }
    let weights = std::fs::read(model.join("model.safetensors")).expect("read");
    std::fs::write(model.join("model.safetensors"), &weights[..weights.len() / 2]).expect("cut");

    // A database whose pages after the first were overwritten.
    let mut bytes = std::fs::read(&db).expect("read db");
    assert!(bytes.len() > 8192, "{} bytes", bytes.len());
    for (i, byte) in bytes.iter_mut().enumerate().skip(4096) {
        *byte = (i % 251) as u8;
    }
    std::fs::write(&db, &bytes).expect("corrupt");
    let _ = std::fs::remove_file(db.with_extension("db-wal"));

    let (out, checks) = doctor(annal(home.path()).env("ANNAL_MODEL_DIR", &model));
    assert_eq!(out.status.code(), Some(1), "{checks:#?}");
    assert_eq!(verdict(&checks, "model"), "fail", "{checks:#?}");
    assert!(
        check(&checks, "model")["fix"].as_str().unwrap_or_default().contains("annal model fetch")
    );
    assert_eq!(verdict(&checks, "database"), "fail", "{checks:#?}");
    assert!(
        check(&checks, "database")["fix"].as_str().unwrap_or_default().contains("annal export")
    );
    assert_eq!(verdict(&checks, "config"), "ok");
    assert_eq!(std::fs::read(&db).expect("reread"), bytes, "the doctor only looks");

    // An unparsable config fails, and the other checks still run (on the default paths).
    std::fs::write(home.path().join("config.yaml"), "port: [\n").expect("config");
    let (out, checks) = doctor(&mut annal(home.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(verdict(&checks, "config"), "fail");
    assert!(check(&checks, "config")["detail"].as_str().unwrap_or_default().contains("line"));
    assert_eq!(verdict(&checks, "model"), "ok", "{checks:#?}");
    assert_eq!(verdict(&checks, "database"), "fail", "the default data dir is still checked");
}

#[test]
fn a_port_taken_by_another_program_fails() {
    let home = tempfile::tempdir().expect("home");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    std::fs::write(home.path().join("config.yaml"), format!("port: {port}\n")).expect("config");
    let (out, checks) = doctor(&mut annal(home.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(verdict(&checks, "http"), "fail", "{checks:#?}");
    assert!(check(&checks, "http")["fix"].as_str().unwrap_or_default().contains("port:"));
}

#[test]
fn a_client_pointing_at_a_missing_binary_fails_until_install_repoints_it() {
    let home = tempfile::tempdir().expect("home");
    let config = home.path().join(".cursor/mcp.json");
    std::fs::create_dir_all(config.parent().expect("dir")).expect("mkdir");
    std::fs::write(&config, r#"{"mcpServers": {"annal": {"command": "/gone/bin/annal"}}}"#)
        .expect("write");
    let env = |cmd: &mut Command| {
        cmd.env("PATH", "/usr/bin:/bin").env("CODEX_HOME", home.path().join(".codex"));
    };
    let mut cmd = annal(home.path());
    env(&mut cmd);
    let (out, checks) = doctor(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{checks:#?}");
    assert_eq!(verdict(&checks, "cursor"), "fail");
    let detail = check(&checks, "cursor")["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("/gone/bin/annal, which does not exist"), "{detail}");
    let fix = check(&checks, "cursor")["fix"].as_str().unwrap_or_default().to_owned();
    assert!(fix.contains("annal install --client cursor"), "{fix}");
    assert!(checks.iter().all(|c| c["name"] != "codex"), "a client not there is not listed");

    let mut install = annal(home.path());
    env(&mut install);
    let out = install.args(["install", "--client", "cursor"]).output().expect("install");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut cmd = annal(home.path());
    env(&mut cmd);
    let (out, checks) = doctor(&mut cmd);
    assert!(out.status.success(), "{checks:#?}");
    assert_eq!(verdict(&checks, "cursor"), "ok");
}
