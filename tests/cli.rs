//! The `annal` binary as a subprocess, always with a temp ANNAL_HOME.

use std::process::Command;

use crate::util::model_dir;

fn annal(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_annal"));
    crate::util::isolate(&mut cmd, home).env_remove("ANNAL_MODEL_DIR");
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
    assert!(stderr.contains("annal model fetch"), "the error names the fix: {stderr}");
}

/// `annal model fetch` puts the model where an `annal` with no environment finds it; a wrong
/// source is refused and installs nothing.
#[test]
fn model_fetch_installs_where_a_bare_annal_finds_it() {
    let home = tempfile::tempdir().expect("home");
    let out = annal(home.path())
        .args(["model", "fetch", "--from"])
        .arg(home.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config.json is not in"), "{stderr}");

    let out = annal(home.path())
        .args(["model", "fetch", "--from"])
        .arg(model_dir())
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("model installed in"), "{stdout}");
    let out = annal(home.path()).args(["model", "check"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&home.path().join("data/models").display().to_string()), "{stdout}");
    let out = annal(home.path())
        .args(["model", "fetch", "--from"])
        .arg(model_dir())
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("already installed"));
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

/// What the desktop package installs: `<prefix>/bin/annal` and the model in
/// `<prefix>/lib/Annal/models/`. A headless owner started from there finds the model with no
/// environment or config pointing at it.
#[test]
fn an_installed_annal_finds_the_model_the_package_installed() {
    let prefix = tempfile::tempdir().expect("prefix");
    let home = tempfile::tempdir().expect("home");
    let bin = prefix.path().join("bin");
    let bundled = prefix.path().join("lib/Annal/models/all-MiniLM-L6-v2");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(&bundled).expect("lib");
    // A copy, not a link: the lookup starts from the running executable's real path.
    std::fs::copy(env!("CARGO_BIN_EXE_annal"), bin.join("annal")).expect("install annal");
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::os::unix::fs::symlink(model_dir().join(file), bundled.join(file)).expect("model");
    }

    let mut installed = Command::new(bin.join("annal"));
    installed
        .env("ANNAL_HOME", home.path())
        .env_remove("ANNAL_MODEL_DIR")
        .env("HF_HUB_CACHE", home.path().join("hf"));
    let out = installed.args(["model", "check"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&bundled.display().to_string()), "{stdout}");
    assert!(stdout.contains("384 dimensions"), "{stdout}");
}

/// The rule above must name the directory the package really uses: Tauri installs resources in
/// `lib/<productName>`.
#[test]
fn the_bundled_model_dir_follows_the_desktop_package_name() {
    let conf = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src-tauri/tauri.conf.json"),
    )
    .expect("tauri.conf.json");
    let conf: serde_json::Value = serde_json::from_str(&conf).expect("json");
    assert_eq!(conf["productName"], annal::embed::PACKAGE_NAME);
    assert_eq!(
        annal::embed::bundled_model_dir(std::path::Path::new("/usr/bin/annal")),
        Some(std::path::PathBuf::from("/usr/lib/Annal/models/all-MiniLM-L6-v2"))
    );
    assert_eq!(annal::embed::bundled_model_dir(std::path::Path::new("/annal")), None);
}

/// `annal dashboard` with no owner running starts one (as a sidecar would) and prints a sign-in
/// URL that works once.
#[test]
fn dashboard_starts_an_owner_and_prints_a_one_time_sign_in_url() {
    let home = tempfile::tempdir().expect("home");
    std::fs::write(home.path().join("config.yaml"), "port: 0\n").expect("config");
    let out = annal(home.path())
        .args(["dashboard", "--no-open"])
        .env("ANNAL_MODEL_DIR", model_dir())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let url = stdout.lines().find(|l| l.starts_with("http://")).expect("a URL").to_owned();
    let rest = url.strip_prefix("http://").expect("http");
    let (address, path) = rest.split_at(rest.find('/').expect("path"));
    let (status, headers, _) = crate::util::http_response(address, "GET", path, &[], "");
    assert_eq!(status, 303, "{url}");
    assert!(headers.iter().any(|(n, v)| n == "set-cookie" && v.contains("HttpOnly")));
    assert_eq!(crate::util::http_response(address, "GET", path, &[], "").0, 401, "used once");

    let data_dir = home.path().join("data");
    let lock = std::fs::read_to_string(data_dir.join("owner.lock")).expect("lock");
    let pid = lock.lines().next().expect("pid").to_owned();
    let _ = Command::new("kill").arg(&pid).status();
    crate::util::wait_until("the owner stopped", std::time::Duration::from_secs(30), || {
        !std::path::Path::new("/proc").join(&pid).exists()
    });
}
