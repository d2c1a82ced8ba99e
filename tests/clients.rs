//! The real clients read what `annal install` wrote: Claude Code, Codex and Gemini CLI (the
//! pinned npm packages in `tests/clients`, installed by `scripts/test`) list Annal after an
//! install — Claude Code and Gemini CLI after starting it and completing the MCP handshake —
//! and no longer after `annal uninstall`. Everything runs in a temp home.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::model_dir;

/// The clients' `node_modules/.bin`, or `None` (after saying so loudly) when `npm ci` has not
/// been run there: the other tests need no network, these need the packages installed once.
fn clients_bin() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node_modules/.bin");
    let installed = ["claude", "codex", "gemini"].iter().all(|c| bin.join(c).exists());
    if !installed {
        eprintln!(
            "\n\n!!! SKIPPED: the real agent clients are not installed in {}.\n!!! Run \
             scripts/test, or `npm ci` in tests/clients, to check that Claude Code, Codex and \
             Gemini CLI read what `annal install` writes.\n",
            bin.display()
        );
    }
    installed.then_some(bin)
}

/// A temp home the clients and Annal share; an owner a sidecar starts there is stopped on drop.
struct Home {
    dir: tempfile::TempDir,
    /// Where the clients run: a project folder Gemini CLI is told to trust (it starts no
    /// server in an untrusted one).
    project: PathBuf,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("home");
        // Port 0: never collide with another owner's HTTP port.
        std::fs::write(dir.path().join("config.yaml"), "port: 0\n").expect("config");
        let project = dir.path().join("project");
        std::fs::create_dir_all(&project).expect("project");
        let gemini = dir.path().join(".gemini");
        std::fs::create_dir_all(&gemini).expect(".gemini");
        let trusted = serde_json::json!({ project.display().to_string(): "TRUST_FOLDER" });
        std::fs::write(gemini.join("trustedFolders.json"), trusted.to_string()).expect("trust");
        Self { dir, project }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `program` with this home, the model, no network chatter, and `path` as PATH.
    fn command(&self, program: &Path, path: &str) -> Command {
        let mut cmd = Command::new(program);
        crate::util::isolate(&mut cmd, self.path())
            .env("CODEX_HOME", self.path().join(".codex"))
            .env("ANNAL_MODEL_DIR", model_dir())
            .env("PATH", path)
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("GEMINI_CLI_NO_RELAUNCH", "1")
            .env_remove("CLAUDE_CONFIG_DIR")
            .current_dir(&self.project);
        cmd
    }

    fn annal(&self, args: &[&str], path: &str) -> String {
        let out = self
            .command(Path::new(env!("CARGO_BIN_EXE_annal")), path)
            .args(args)
            .output()
            .expect("run annal");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "annal {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `<client> mcp list`'s output (stdout and stderr: the clients print to either).
    fn list(&self, bin: &Path, client: &str, path: &str) -> String {
        let out = self
            .command(&bin.join(client), path)
            .args(["mcp", "list"])
            .output()
            .unwrap_or_else(|e| panic!("run {client}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{client} mcp list: {text}");
        text
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let Ok(lock) = std::fs::read_to_string(self.path().join("data/owner.lock")) else { return };
        let Some(pid) = lock.lines().next().map(str::to_owned) else { return };
        let _ = Command::new("kill").arg(&pid).status();
        crate::util::wait_until("the owner stopped", std::time::Duration::from_secs(30), || {
            !Path::new("/proc").join(&pid).exists()
        });
    }
}

/// The line a client prints for the server named `annal`.
fn annal_line(list: &str) -> Option<&str> {
    list.lines().find(|l| l.trim_start_matches(['✓', '✗', '○', ' ']).starts_with("annal"))
}

fn system_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
}

/// With the clients on PATH they are detected; Claude Code's entry goes through `claude mcp`.
#[test]
fn claude_codex_and_gemini_list_annal_after_install_and_not_after_uninstall() {
    let Some(bin) = clients_bin() else { return };
    let home = Home::new();
    let path = format!("{}:{}", bin.display(), system_path());
    let table = home.annal(&["install"], &path);
    for client in ["Claude Code", "Codex CLI", "Gemini CLI"] {
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with(client)).collect();
        assert_eq!(rows.len(), 3, "the config, the hooks and the instruction file: {table}");
        assert!(rows.iter().all(|r| r.ends_with("added")), "{client}: {table}");
    }
    let claude_json =
        std::fs::read_to_string(home.path().join(".claude.json")).expect(".claude.json");
    let claude_json: serde_json::Value = serde_json::from_str(&claude_json).expect("json");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_annal")).expect("exe");
    assert_eq!(claude_json["mcpServers"]["annal"]["command"], exe.display().to_string());
    // Written by `claude mcp add-json`, not by Annal: Claude Code's own keys are there.
    assert!(claude_json.get("firstStartVersion").is_some(), "{claude_json}");

    let claude = home.list(&bin, "claude", &path);
    let line = annal_line(&claude).unwrap_or_else(|| panic!("claude lists annal: {claude}"));
    assert!(line.contains("✔ Connected"), "{claude}");
    let codex = home.list(&bin, "codex", &path);
    let line = annal_line(&codex).unwrap_or_else(|| panic!("codex lists annal: {codex}"));
    assert!(line.split_whitespace().any(|w| w == "enabled"), "{codex}");
    let gemini = home.list(&bin, "gemini", &path);
    let line = annal_line(&gemini).unwrap_or_else(|| panic!("gemini lists annal: {gemini}"));
    assert!(line.contains("Connected") && !line.contains("Disconnected"), "{gemini}");

    let table = home.annal(&["uninstall"], &path);
    assert!(table.contains("removed"), "{table}");
    for client in ["claude", "codex", "gemini"] {
        let list = home.list(&bin, client, &path);
        assert!(annal_line(&list).is_none(), "{client} still lists annal: {list}");
    }
}

/// Without `claude` on PATH the file is edited directly; Claude Code reads it the same.
#[test]
fn claude_reads_the_entry_annal_wrote_into_its_file_itself() {
    let Some(bin) = clients_bin() else { return };
    let home = Home::new();
    let path = system_path();
    let table = home.annal(&["install", "--client", "claude-code", "--no-instructions"], &path);
    assert!(table.lines().any(|l| l.starts_with("Claude Code") && l.ends_with("added")), "{table}");
    let written = std::fs::read_to_string(home.path().join(".claude.json")).expect(".claude.json");
    assert!(!written.contains("firstStartVersion"), "Annal's own edit: {written}");
    let claude = home.list(&bin, "claude", &path);
    let line = annal_line(&claude).unwrap_or_else(|| panic!("claude lists annal: {claude}"));
    assert!(line.contains("✔ Connected"), "{claude}");

    home.annal(&["uninstall", "--client", "claude-code"], &path);
    let claude = home.list(&bin, "claude", &path);
    assert!(annal_line(&claude).is_none(), "{claude}");
}

/// Claude Code runs the hooks `annal install` wrote: `claude -p` against a closed API port fires
/// SessionStart and UserPromptSubmit before its model call fails. The brief is kept empty
/// (a budget too small for it) so that the prompt's recall, not the brief, injects the memory,
/// which counts it as a hit.
#[test]
fn claude_runs_the_installed_hooks_and_the_recall_reaches_it() {
    let Some(bin) = clients_bin() else { return };
    let home = Home::new();
    let path = format!("{}:{}", bin.display(), system_path());
    let table = home.annal(&["install", "--client", "claude-code", "--no-instructions"], &path);
    assert!(table.contains("settings.json"), "{table}");
    let memory = "Login redirect loop: the session cookie was SameSite=Strict on the OAuth \
                  callback; it must be Lax.";
    std::fs::write(home.path().join("config.yaml"), "port: 0\nhooks:\n  brief_tokens: 50\n")
        .expect("config");
    home.annal(&["store", "--tags", "bug,auth", memory], &path);
    let debug = home.path().join("claude-debug.txt");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let out = home
        .command(&bin.join("claude"), &path)
        .args(["-p", "why does login keep redirecting back to itself after the oauth callback?"])
        .env("ANTHROPIC_API_KEY", "test-key-not-used")
        .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .arg("--debug-file")
        .arg(&debug)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("claude -p");
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let found = home.annal(&["search", "--json", "oauth callback login redirect loop"], &path);
    let found: serde_json::Value = serde_json::from_str(&found).expect("search json");
    let hits = found["hits"][0]["memory"]["hit_count"].as_u64().expect("hit_count");
    assert!(hits >= 1, "the prompt hook did not inject the memory (claude said: {said})");
    let debug = std::fs::read_to_string(&debug).unwrap_or_default();
    let ran = |event: &str| {
        debug.lines().any(|l| {
            l.contains(event) && l.contains("hook ") && l.contains("finished with status 0")
        })
    };
    assert!(ran("SessionStart") && ran("UserPromptSubmit"), "claude's log of its hooks:\n{debug}");
    let log = std::fs::read_to_string(home.path().join("data/annal.log")).unwrap_or_default();
    assert!(!log.contains("annal hook"), "a hook failed: {log}");
}
