//! Another account on the machine gets nothing: every file under the data dir is the user's
//! alone (created so, and tightened for an older install), and every HTTP route refuses a
//! request without a credential — checked as the real `nobody` account where the tests run
//! as root.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::util::{isolate, model_dir, wait_until};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn wait_for(what: &str, condition: impl Fn() -> bool) {
    wait_until(what, Duration::from_secs(60), condition);
}

/// Runs an agent session through a sidecar: it starts an owner (which logs to `annal.log`
/// and keeps running after the agent leaves) and calls `init_project` (so the config file
/// is saved).
fn run_agent(home: &Path) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_annal"));
    isolate(&mut command, home).env("ANNAL_MODEL_DIR", model_dir());
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("sidecar");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let docs = home.join("docs");
    std::fs::create_dir_all(&docs).expect("docs");
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "init_project", "arguments": {"project_name": "app", "watch_paths": [docs]}}}),
    ] {
        writeln!(stdin, "{message}").expect("send");
    }
    let mut answered = 0;
    while answered < 2 {
        let line = lines.next().expect("an answer").expect("read");
        assert!(!line.contains("\"isError\":true"), "{line}");
        answered += 1;
    }
    drop(stdin);
    let _ = child.wait();
}

fn stop_owner(data_dir: &Path) {
    let lock = std::fs::read_to_string(data_dir.join("owner.lock")).expect("lock");
    let pid = lock.lines().next().expect("pid").to_owned();
    let _ = Command::new("kill").arg(&pid).status();
    wait_for("the owner to exit", || !Path::new("/proc").join(&pid).exists());
}

fn private_files(data_dir: &Path) -> Vec<PathBuf> {
    ["annal.db", "annal.db-wal", "annal.db-shm", "owner.lock", "http-token", "http-address"]
        .iter()
        .chain(&["annal.log"])
        .map(|name| data_dir.join(name))
        .collect()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs `program` as the `nobody` account.
fn as_nobody(program: &str, args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", program])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("setpriv")
}

#[test]
fn another_account_can_read_no_file_and_use_no_route() {
    let home = tempfile::tempdir().expect("home");
    let data_dir = home.path().join("data");
    std::fs::write(home.path().join("config.yaml"), "port: 0\n").expect("config");
    run_agent(home.path());
    wait_for("the HTTP address", || data_dir.join("http-address").exists());

    assert_eq!(mode(&data_dir), 0o700, "the data dir");
    for file in private_files(&data_dir) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&home.path().join("config.yaml")), 0o600, "the config file");
    let address = std::fs::read_to_string(data_dir.join("http-address")).expect("address");
    let token = std::fs::read_to_string(data_dir.join("http-token")).expect("token");

    if !is_root() {
        eprintln!("skipped the other-account part: it needs root to become `nobody`");
    } else {
        // The temp dir above the data dir must be passable for the check to mean anything.
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755))
            .expect("open the temp dir");
        for file in private_files(&data_dir).iter().chain([&home.path().join("config.yaml")]) {
            let read = as_nobody("cat", &[&file.display().to_string()]);
            assert!(!read.status.success(), "nobody read {}", file.display());
        }
        let listing = as_nobody("ls", &[&data_dir.display().to_string()]);
        assert!(!listing.status.success(), "nobody listed the data dir");
        let probe = r#"
import sys, urllib.request, urllib.error
address, token = sys.argv[1], sys.argv[2]
for method, path in [("GET", "/"), ("GET", "/api/projects"), ("GET", "/api/projects/app/memories"),
                     ("GET", "/api/projects/app/search?query=x"), ("GET", "/api/events"),
                     ("GET", "/api/events/recent"), ("GET", "/api/activity"), ("POST", "/mcp"),
                     ("POST", "/api/projects/app/memories")]:
    request = urllib.request.Request(f"http://{address}{path}", method=method,
                                     data=b"{}" if method == "POST" else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(f"{method} {path} answered {response.status}")
            sys.exit(1)
    except urllib.error.HTTPError as refused:
        body = refused.read().decode("utf-8", "replace")
        if refused.code not in (401, 403) or token in body:
            print(f"{method} {path}: {refused.code} {body[:200]}")
            sys.exit(1)
print("all refused")
"#;
        let out = as_nobody("python3", &["-c", probe, address.trim(), token.trim()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("all refused"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stop_owner(&data_dir);
    // The vector index's snapshot exists between an owner's close and the next open.
    let snapshot = data_dir.join("vector-index.snapshot");
    assert_eq!(mode(&snapshot), 0o600, "the vector index snapshot");
    if is_root() {
        let read = as_nobody("cat", &[&snapshot.display().to_string()]);
        assert!(!read.status.success(), "nobody read the snapshot");
    }
}

#[test]
fn an_install_with_wide_permissions_is_tightened_on_start() {
    let home = tempfile::tempdir().expect("home");
    let data_dir = home.path().join("data");
    std::fs::write(home.path().join("config.yaml"), "port: 0\n").expect("config");
    run_agent(home.path());
    wait_for("the HTTP address", || data_dir.join("http-address").exists());
    stop_owner(&data_dir);

    // As an older version left them.
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = home.path().join("config.yaml");
    for file in private_files(&data_dir).iter().chain([&config]) {
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
    run_agent(home.path());
    assert_eq!(mode(&data_dir), 0o700);
    for file in private_files(&data_dir).iter().chain([&config]) {
        if file.exists() {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
    }
    let log = std::fs::read_to_string(data_dir.join("annal.log")).expect("log");
    assert!(log.contains("tightened permissions"), "the log says what changed:\n{log}");
    stop_owner(&data_dir);
}
