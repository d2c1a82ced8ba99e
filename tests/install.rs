//! `annal install` / `annal uninstall` as a subprocess in a temp home: the table, `--dry-run`,
//! `--client` and `--scope` validation, the exit status.

use std::path::Path;
use std::process::{Command, Output};

fn annal(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_annal"));
    crate::util::isolate(&mut cmd, home)
        .env("CODEX_HOME", home.join(".codex"))
        .env("PATH", "/usr/bin:/bin")
        .env_remove("CLAUDE_CONFIG_DIR")
        .current_dir(home);
    cmd
}

fn run(home: &Path, args: &[&str]) -> (Output, String, String) {
    let out = annal(home).args(args).output().expect("run annal");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// The table's rows as (client, file, action), header first.
fn table(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .take_while(|l| !l.starts_with("entries run:") && !l.starts_with("dry run:"))
        .map(|l| {
            l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
        })
        .collect()
}

#[test]
fn install_prints_a_table_and_a_second_run_changes_nothing() {
    let home = tempfile::tempdir().expect("home");
    let args =
        ["install", "--client", "cursor", "--client", "codex", "--command", "/opt/annal/bin/annal"];
    let (out, stdout, stderr) = run(home.path(), &args);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        table(&stdout),
        [
            vec!["client", "file", "action"],
            vec!["Codex CLI", "~/.codex/config.toml", "added"],
            vec!["Codex CLI", "~/.codex/hooks.json", "added"],
            vec!["Codex CLI", "~/.codex/AGENTS.md", "added"],
            vec!["Cursor", "~/.cursor/mcp.json", "added"],
        ]
    );
    assert!(
        stdout.contains("Codex runs new or changed hooks only once you trust them"),
        "{stdout}"
    );
    assert!(stdout.contains("entries run: /opt/annal/bin/annal"), "{stdout}");
    let codex = std::fs::read_to_string(home.path().join(".codex/config.toml")).expect("config");
    assert_eq!(codex, "[mcp_servers.annal]\ncommand = \"/opt/annal/bin/annal\"\nargs = []\n");

    let (out, stdout, _) = run(home.path(), &args);
    assert!(out.status.success());
    let actions: Vec<String> = table(&stdout).into_iter().skip(1).map(|r| r[2].clone()).collect();
    assert_eq!(actions, ["already configured"; 4]);

    let (out, stdout, _) =
        run(home.path(), &["uninstall", "--client", "cursor", "--no-instructions"]);
    assert!(out.status.success());
    assert_eq!(table(&stdout)[1], ["Cursor", "~/.cursor/mcp.json", "removed"]);
    assert!(!home.path().join(".cursor/mcp.json").exists());
}

#[test]
fn without_a_client_every_detected_one_is_configured_with_this_binary() {
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".codeium/windsurf")).expect("windsurf");
    let (out, stdout, stderr) = run(home.path(), &["install"]);
    assert!(out.status.success(), "{stdout}{stderr}");
    let rows = table(&stdout);
    assert_eq!(rows.len(), 10, "{stdout}");
    for row in &rows[1..] {
        let expected = if row[0] == "Windsurf" { "added" } else { "skipped: not detected" };
        assert_eq!(row[2], expected, "{row:?}");
    }
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_annal")).expect("exe");
    let written = std::fs::read_to_string(home.path().join(".codeium/windsurf/mcp_config.json"))
        .expect("windsurf config");
    let config: serde_json::Value = serde_json::from_str(&written).expect("json");
    assert_eq!(config["mcpServers"]["annal"]["command"], exe.display().to_string());
}

#[test]
fn a_dry_run_prints_the_diff_and_writes_nothing() {
    let home = tempfile::tempdir().expect("home");
    let (out, stdout, stderr) =
        run(home.path(), &["install", "--dry-run", "--client", "zed", "--command", "/x/annal"]);
    assert!(out.status.success(), "{stderr}");
    let file = home.path().join(".config/zed/settings.json");
    assert!(stdout.starts_with(&format!("--- /dev/null\n+++ {}\n", file.display())), "{stdout}");
    assert!(stdout.contains("+      \"command\": \"/x/annal\","), "{stdout}");
    assert!(stdout.contains("added (dry run)"), "{stdout}");
    assert!(stdout.ends_with("dry run: nothing was written\n"), "{stdout}");
    assert!(!file.exists() && !home.path().join(".config/zed").exists());
}

#[test]
fn bad_selections_are_clear_errors() {
    let home = tempfile::tempdir().expect("home");
    let (out, stdout, stderr) = run(home.path(), &["install", "--client", "cursorr"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("unknown client \"cursorr\"; the clients are: claude-code, codex, gemini"),
        "{stderr}"
    );
    let (out, _, stderr) =
        run(home.path(), &["uninstall", "--scope", "project", "--client", "zed"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("zed has no project scope; clients with one: claude-code"), "{stderr}");
    assert!(std::fs::read_dir(home.path()).expect("home").next().is_none(), "nothing written");
}

#[test]
fn a_failed_row_is_shown_and_makes_the_exit_status_non_zero() {
    let home = tempfile::tempdir().expect("home");
    let file = home.path().join(".gemini/settings.json");
    std::fs::create_dir_all(file.parent().expect("dir")).expect("dir");
    std::fs::write(&file, "{\n  \"mcpServers\": {\n").expect("broken");
    let args = ["install", "--client", "gemini", "--client", "cursor", "--no-instructions"];
    let (out, stdout, stderr) = run(home.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let rows = table(&stdout);
    assert_eq!(rows[1][0], "Gemini CLI");
    assert!(rows[1][2].starts_with("failed: cannot parse it (line 2, column 17)"), "{rows:?}");
    assert_eq!(rows[2][0], "Gemini CLI");
    assert!(rows[2][2].starts_with("failed: cannot parse it"), "its hooks too: {rows:?}");
    assert_eq!(rows[3], ["Cursor", "~/.cursor/mcp.json", "added"], "the others still go ahead");
    assert!(stderr.contains("2 of 3 files could not be changed"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "{\n  \"mcpServers\": {\n");
}

#[test]
fn project_scope_writes_into_the_current_directory() {
    let home = tempfile::tempdir().expect("home");
    let project = home.path().join("src/app");
    std::fs::create_dir_all(&project).expect("project");
    let out = annal(home.path())
        .current_dir(&project)
        .args(["install", "--scope", "project", "--client", "claude-code", "--command", "/x/annal"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mcp = std::fs::read_to_string(project.join(".mcp.json")).expect(".mcp.json");
    let mcp: serde_json::Value = serde_json::from_str(&mcp).expect("json");
    assert_eq!(
        mcp,
        serde_json::json!({"mcpServers": {"annal": {"type": "stdio", "command": "/x/annal", "args": [], "env": {}}}})
    );
    assert!(!home.path().join(".claude").exists(), "no instruction file at project scope");
}
