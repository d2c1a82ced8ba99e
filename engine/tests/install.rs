//! `install`: every client's config written the way users have them (other servers, comments
//! where the format allows, other settings but no servers yet, trailing newline or not, CRLF,
//! tabs, an `annal` entry running something else, empty, missing, unparsable, read-only),
//! planned (the dry run), installed into a temp home and
//! compared byte for byte with the snapshots beside the fixtures
//! (`data/install/<client>/<case>.installed.<ext>`; `UPDATE_SNAPSHOTS=1` rewrites them, to be
//! read before committing).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use annal_engine::install::{
    self, Action, Client, Environment, FileKind, Operation, Plan, Request, Scope, backup_path,
};
use tempfile::TempDir;

const COMMAND: &str = "/opt/annal/bin/annal";

/// A temp home with nothing in it, and a fake `annal` binary in its `bin`.
struct Home {
    dir: TempDir,
    env: Environment,
}

fn home() -> Home {
    let dir = tempfile::tempdir().expect("home");
    let exe = dir.path().join("bin/annal");
    std::fs::create_dir_all(exe.parent().expect("bin")).expect("bin");
    std::fs::write(&exe, "#!/bin/sh\n").expect("exe");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let env = Environment::in_home(dir.path(), &exe);
    Home { dir, env }
}

fn data(client: Client) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/install").join(client.id())
}

fn ext(client: Client) -> &'static str {
    if client == Client::Codex { "toml" } else { "json" }
}

fn fixture(client: Client, case: &str) -> Vec<u8> {
    let file = data(client).join(format!("{case}.{}", ext(client)));
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// `actual` must be the snapshot `<case>.<ext>`.
fn snapshot(client: Client, case: &str, actual: &[u8]) {
    let file = data(client).join(format!("{case}.{}", ext(client)));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&file, actual).expect("update snapshot");
        return;
    }
    let expected = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(&expected),
        "{} differs from {}",
        client.id(),
        file.display()
    );
}

/// The config file only: the instruction block has its own tests (`instructions.rs`).
fn request(client: Client) -> Request {
    Request {
        clients: vec![client],
        command: Some(COMMAND.into()),
        instructions: false,
        hooks: false,
        ..Request::default()
    }
}

fn run(env: &Environment, operation: Operation, request: &Request) -> Plan {
    install::apply(env, install::plan(env, operation, request).expect("plan"))
}

/// The one config row of a single-client plan.
fn config_action(plan: &Plan) -> &Action {
    let rows: Vec<_> = plan.rows.iter().filter(|r| r.kind == FileKind::Config).collect();
    assert_eq!(rows.len(), 1, "{:?}", plan.rows);
    &rows[0].action
}

fn config_file(home: &Home, client: Client) -> PathBuf {
    client.config_file(&home.env, Scope::User).expect("user scope")
}

fn put(file: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(file.parent().expect("parent")).expect("dir");
    std::fs::write(file, bytes).expect("write");
}

fn read(file: &Path) -> Vec<u8> {
    std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn every_client_installs_into_every_kind_of_file_and_uninstalls_to_the_same_bytes() {
    for client in Client::ALL {
        for case in ["others", "settings", "no-newline", "crlf", "tabs", "empty"] {
            let home = home();
            let file = config_file(&home, client);
            let original = fixture(client, case);
            put(&file, &original);
            let context = format!("{} {case}", client.id());

            // The dry run: a diff of this file, nothing written.
            let planned =
                install::plan(&home.env, Operation::Install, &request(client)).expect("plan");
            let name = file.display().to_string();
            let diff = &planned.rows[0].diff;
            assert!(diff.starts_with(&format!("--- {name}\n+++ {name}\n@@ ")), "{context}: {diff}");
            assert!(diff.contains(COMMAND), "{context}: {diff}");
            assert_eq!(read(&file), original, "{context}: planning writes nothing");
            assert!(!backup_path(&file).exists(), "{context}: nor a backup");

            let plan = install::apply(&home.env, planned.clone());
            assert_eq!(config_action(&plan), &Action::Added, "{context}");
            let installed = read(&file);
            assert_eq!(
                Some(installed.as_slice()),
                planned.rows[0].new_bytes(),
                "{context}: the planned bytes"
            );
            snapshot(client, &format!("{case}.installed"), &installed);
            assert_eq!(read(&backup_path(&file)), original, "{context}: backup");

            let again = run(&home.env, Operation::Install, &request(client));
            assert_eq!(config_action(&again), &Action::AlreadyConfigured, "{context}");
            assert!(again.rows.iter().all(|r| !r.changes() && r.diff.is_empty()), "{context}");
            assert_eq!(read(&file), installed, "{context}: second install");

            let removed = run(&home.env, Operation::Uninstall, &request(client));
            assert_eq!(config_action(&removed), &Action::Removed, "{context}");
            assert_eq!(read(&file), original, "{context}: uninstall gives the original back");
            let none = run(&home.env, Operation::Uninstall, &request(client));
            assert_eq!(config_action(&none), &Action::NotConfigured, "{context}");
        }
    }
}

/// An `annal` entry running another binary gets our command; its other settings (env,
/// timeouts, trust) stay. Uninstall then removes the whole entry — for Codex with its `.env`
/// subtable — and nothing else.
#[test]
fn an_entry_running_another_binary_is_updated_and_keeps_its_settings() {
    for client in Client::ALL {
        let home = home();
        let file = config_file(&home, client);
        put(&file, &fixture(client, "elsewhere"));
        let plan = run(&home.env, Operation::Install, &request(client));
        assert_eq!(config_action(&plan), &Action::Updated, "{}", client.id());
        snapshot(client, "elsewhere.installed", &read(&file));
        let again = run(&home.env, Operation::Install, &request(client));
        assert_eq!(config_action(&again), &Action::AlreadyConfigured, "{}", client.id());

        run(&home.env, Operation::Uninstall, &request(client));
        let uninstalled = read(&file);
        snapshot(client, "elsewhere.uninstalled", &uninstalled);
        assert!(!String::from_utf8_lossy(&uninstalled).contains("annal\""), "{}", client.id());
    }
    let home = home();
    let file = config_file(&home, Client::Codex);
    put(&file, &fixture(Client::Codex, "elsewhere"));
    run(&home.env, Operation::Uninstall, &request(Client::Codex));
    let left = String::from_utf8(read(&file)).expect("utf-8");
    assert!(!left.contains("mcp_servers.annal") && !left.contains("ANNAL_HOME"), "{left}");
    assert!(left.contains("[mcp_servers.docs]") && left.contains("model = "), "{left}");
}

#[test]
fn a_missing_file_is_created_with_its_folder_and_uninstall_takes_it_away_again() {
    for client in Client::ALL {
        let home = home();
        let file = config_file(&home, client);
        let none = run(&home.env, Operation::Uninstall, &request(client));
        assert_eq!(config_action(&none), &Action::NotConfigured, "{}", client.id());
        assert!(!file.exists(), "uninstall creates nothing");

        let plan = run(&home.env, Operation::Install, &request(client));
        assert_eq!(config_action(&plan), &Action::Added, "{}", client.id());
        snapshot(client, "missing.installed", &read(&file));
        assert!(!backup_path(&file).exists(), "nothing to back up");

        let removed = run(&home.env, Operation::Uninstall, &request(client));
        assert_eq!(config_action(&removed), &Action::Removed, "{}", client.id());
        assert!(!file.exists(), "{}: the file install created is gone", client.id());
    }
}

#[test]
fn an_unparsable_file_is_never_written_and_the_row_names_line_and_column() {
    // (client, what its broken fixture's error says): strict JSON stops at the trailing comma,
    // JSONC (which allows it) at the object left open, TOML at the unclosed table header.
    let expected = [
        (Client::ClaudeCode, "line 3, column 32"),
        (Client::Gemini, "line 2, column 17"),
        (Client::Codex, "line 2, column 20"),
        (Client::Cursor, "line 3, column 32"),
        (Client::VsCode, "line 2, column 17"),
        (Client::ClaudeDesktop, "line 3, column 32"),
        (Client::Windsurf, "line 3, column 32"),
        (Client::Zed, "line 2, column 17"),
        (Client::Opencode, "line 2, column 17"),
    ];
    for (client, position) in expected {
        let home = home();
        let file = config_file(&home, client);
        let broken = fixture(client, "broken");
        put(&file, &broken);
        for operation in [Operation::Install, Operation::Uninstall] {
            let plan = run(&home.env, operation, &request(client));
            let Action::Failed(reason) = config_action(&plan) else {
                panic!("{}: {:?}", client.id(), plan.rows)
            };
            assert!(
                reason.contains("cannot parse") && reason.contains(position),
                "{}: {reason}",
                client.id()
            );
            assert_eq!(read(&file), broken, "{}", client.id());
            assert!(!backup_path(&file).exists());
        }
    }
}

#[test]
fn a_file_that_is_not_utf8_is_never_written() {
    for client in [Client::Codex, Client::Zed] {
        let home = home();
        let file = config_file(&home, client);
        let bytes = b"{\n  \"theme\": \"caf\xe9\"\n}\n";
        put(&file, bytes);
        let plan = run(&home.env, Operation::Install, &request(client));
        let Action::Failed(reason) = config_action(&plan) else { panic!("{:?}", plan.rows) };
        assert!(reason.contains("not UTF-8") && reason.contains("line 2, column 16"), "{reason}");
        assert_eq!(read(&file), bytes);
        let status = install::status(&home.env, Scope::User);
        let status = status.iter().find(|s| s.client == client).expect("status");
        assert!(status.problem.as_deref().is_some_and(|p| p.contains("UTF-8")), "{status:?}");
    }
}

/// Claude Code, Cursor, Claude Desktop and Windsurf read strict JSON: a comment there is an
/// error the row reports, not something to keep.
#[test]
fn a_comment_in_a_strict_json_file_is_reported_not_kept() {
    let home = home();
    let file = config_file(&home, Client::Cursor);
    let text = b"{\n  // mine\n  \"mcpServers\": {}\n}\n";
    put(&file, text);
    let plan = run(&home.env, Operation::Install, &request(Client::Cursor));
    let Action::Failed(reason) = config_action(&plan) else { panic!("{:?}", plan.rows) };
    assert!(
        reason.contains("Comments are not allowed") && reason.contains("line 2, column 3"),
        "{reason}"
    );
    assert_eq!(read(&file), text);
}

#[test]
fn a_top_level_that_is_not_an_object_is_refused() {
    let home = home();
    let file = config_file(&home, Client::Windsurf);
    put(&file, b"[1, 2]\n");
    let plan = run(&home.env, Operation::Install, &request(Client::Windsurf));
    assert!(matches!(config_action(&plan), Action::Failed(r) if r.contains("not an object")));
    put(&file, b"{\"mcpServers\": [\"annal\"]}\n");
    let plan = run(&home.env, Operation::Install, &request(Client::Windsurf));
    assert!(
        matches!(config_action(&plan), Action::Failed(r) if r.contains("\"mcpServers\" is not an object")),
        "{:?}",
        plan.rows
    );
    assert_eq!(read(&file), b"{\"mcpServers\": [\"annal\"]}\n");
}

#[test]
fn a_read_only_file_is_left_alone_with_a_clear_row() {
    let mode = |f: &Path| std::fs::metadata(f).expect("meta").permissions().mode() & 0o777;
    for client in Client::ALL {
        let home = home();
        let file = config_file(&home, client);
        let original = fixture(client, "others");
        put(&file, &original);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        let plan = run(&home.env, Operation::Install, &request(client));
        let action = config_action(&plan);
        assert!(
            matches!(action, Action::Failed(r) if r.contains("read-only")),
            "{}: {action:?}",
            client.id()
        );
        assert_eq!(read(&file), original, "{}", client.id());
        assert!(!backup_path(&file).exists());
        assert_eq!(mode(&file), 0o444);

        // Installed while writable, then made read-only: uninstall refuses the same way.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        run(&home.env, Operation::Install, &request(client));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        let installed = read(&file);
        let plan = run(&home.env, Operation::Uninstall, &request(client));
        assert!(
            matches!(config_action(&plan), Action::Failed(r) if r.contains("read-only")),
            "{}",
            client.id()
        );
        assert_eq!(read(&file), installed, "{}", client.id());
    }
}

#[test]
fn a_dry_run_shows_the_diff_and_writes_nothing() {
    let home = home();
    let file = config_file(&home, Client::Zed);
    let original = fixture(Client::Zed, "others");
    put(&file, &original);
    let plan = install::plan(&home.env, Operation::Install, &request(Client::Zed)).expect("plan");
    let row = &plan.rows[0];
    assert_eq!(row.action, Action::Added);
    let name = file.display().to_string();
    assert!(row.diff.starts_with(&format!("--- {name}\n+++ {name}\n@@ ")), "{}", row.diff);
    assert!(row.diff.contains(&format!("+      \"command\": \"{COMMAND}\",\n")), "{}", row.diff);
    assert!(row.diff.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).count() <= 1);
    let installed = run(&home.env, Operation::Install, &request(Client::Zed));
    assert_eq!(Some(read(&file).as_slice()), plan.rows[0].new_bytes(), "the plan's bytes");
    // Planned before the install ran: nothing had been written by planning.
    assert_eq!(installed.rows[0].action, Action::Added);

    let home = self::home();
    let file = config_file(&home, Client::Codex);
    let plan = install::plan(&home.env, Operation::Install, &request(Client::Codex)).expect("plan");
    assert!(plan.rows[0].diff.starts_with(&format!("--- /dev/null\n+++ {}\n", file.display())));
    assert!(!file.exists() && !file.parent().expect("dir").exists(), "planning wrote nothing");
}

#[test]
fn a_file_changed_after_planning_is_not_overwritten() {
    let home = home();
    let file = config_file(&home, Client::Cursor);
    put(&file, &fixture(Client::Cursor, "others"));
    let plan =
        install::plan(&home.env, Operation::Install, &request(Client::Cursor)).expect("plan");
    let theirs = b"{\"mcpServers\": {\"theirs\": {\"command\": \"x\"}}}\n";
    std::fs::write(&file, theirs).expect("a client writes");
    let applied = install::apply(&home.env, plan);
    assert!(matches!(config_action(&applied), Action::Failed(r) if r.contains("changed since")));
    assert_eq!(read(&file), theirs);
}

#[test]
fn the_backup_is_written_once_and_never_overwritten() {
    let home = home();
    let file = config_file(&home, Client::Windsurf);
    let original = fixture(Client::Windsurf, "others");
    put(&file, &original);
    run(&home.env, Operation::Install, &request(Client::Windsurf));
    run(&home.env, Operation::Uninstall, &request(Client::Windsurf));
    // The user edits the file; the next install keeps the first backup.
    let edited =
        String::from_utf8(original.clone()).expect("utf-8").replace("ghp_example", "ghp_new");
    std::fs::write(&file, &edited).expect("edit");
    run(&home.env, Operation::Install, &request(Client::Windsurf));
    assert_eq!(read(&backup_path(&file)), original);
    let now = String::from_utf8(read(&file)).expect("utf-8");
    assert!(now.contains("ghp_new") && now.contains(COMMAND), "{now}");
    // Uninstall cannot restore the backup (the file changed since): it removes our entry only.
    run(&home.env, Operation::Uninstall, &request(Client::Windsurf));
    assert_eq!(String::from_utf8(read(&file)).expect("utf-8"), edited);
}

#[test]
fn the_file_is_replaced_atomically_keeps_its_mode_and_links_stay_links() {
    use std::os::unix::fs::MetadataExt as _;
    let home = home();
    let file = config_file(&home, Client::ClaudeDesktop);
    put(&file, &fixture(Client::ClaudeDesktop, "others"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let inode = std::fs::metadata(&file).expect("meta").ino();
    run(&home.env, Operation::Install, &request(Client::ClaudeDesktop));
    let mode = |f: &Path| std::fs::metadata(f).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o640);
    assert_eq!(mode(&backup_path(&file)), 0o640);
    // A new file renamed over the old one (a reader sees the old bytes or the new, never half),
    // and no temp file left beside it.
    assert_ne!(std::fs::metadata(&file).expect("meta").ino(), inode);
    let mut names: Vec<_> = std::fs::read_dir(file.parent().expect("dir"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["claude_desktop_config.json", "claude_desktop_config.json.annal-backup"]);

    // A file install creates is private: agents' configs can hold credentials.
    let home = self::home();
    run(&home.env, Operation::Install, &request(Client::Cursor));
    assert_eq!(mode(&config_file(&home, Client::Cursor)), 0o600);

    // A dotfiles repository: the config is a link to the real file.
    let home = self::home();
    let real = home.dir.path().join("dotfiles/opencode.json");
    put(&real, &fixture(Client::Opencode, "others"));
    let file = config_file(&home, Client::Opencode);
    std::fs::create_dir_all(file.parent().expect("dir")).expect("dir");
    std::os::unix::fs::symlink(&real, &file).expect("link");
    run(&home.env, Operation::Install, &request(Client::Opencode));
    assert!(std::fs::symlink_metadata(&file).expect("meta").file_type().is_symlink());
    assert!(String::from_utf8(read(&real)).expect("utf-8").contains(COMMAND));
}

#[test]
fn opencode_edits_the_jsonc_file_when_that_is_the_one_there() {
    let home = home();
    let jsonc = home.env.config_home.join("opencode/opencode.jsonc");
    put(&jsonc, &fixture(Client::Opencode, "others"));
    assert_eq!(config_file(&home, Client::Opencode), jsonc);
    run(&home.env, Operation::Install, &request(Client::Opencode));
    assert!(String::from_utf8(read(&jsonc)).expect("utf-8").contains(COMMAND));
    assert!(!jsonc.with_extension("json").exists());
}

#[test]
fn no_client_named_means_every_detected_one() {
    let home = home();
    std::fs::create_dir_all(home.env.codex_home.clone()).expect("codex");
    std::fs::create_dir_all(home.dir.path().join(".cursor")).expect("cursor");
    let request =
        Request { command: Some(COMMAND.into()), instructions: true, ..Request::default() };
    let plan = run(&home.env, Operation::Install, &request);
    for row in &plan.rows {
        let expected = match (row.client, row.kind) {
            (Client::Codex | Client::Cursor, _) => Action::Added,
            _ => Action::Skipped("not detected".into()),
        };
        assert_eq!(row.action, expected, "{row:?}");
    }
    let kinds: Vec<_> =
        plan.rows.iter().filter(|r| r.client == Client::Codex).map(|r| r.kind).collect();
    assert_eq!(kinds, [FileKind::Config, FileKind::Hooks, FileKind::Instructions]);
    assert_eq!(plan.rows.len(), 11, "nine clients, Codex's hooks.json and AGENTS.md");

    // A program on PATH counts too.
    let mut env = home.env.clone();
    let bin = home.dir.path().join("tools");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::copy(home.env.exe.clone(), bin.join("zeditor")).expect("zed");
    env.path = Some(bin.into_os_string());
    assert!(Client::Zed.detected(&env) && !Client::Zed.detected(&home.env));
}

#[test]
fn project_scope_writes_into_the_project_and_is_refused_where_a_client_has_none() {
    let home = home();
    let mut env = home.env.clone();
    env.cwd = home.dir.path().join("src/app");
    std::fs::create_dir_all(&env.cwd).expect("project");
    let request = Request {
        clients: vec![Client::ClaudeCode, Client::Gemini, Client::Cursor, Client::VsCode],
        scope: Scope::Project,
        command: Some(COMMAND.into()),
        instructions: true,
        hooks: false,
        hook_budget_ms: None,
    };
    let plan = run(&env, Operation::Install, &request);
    let files: Vec<_> = plan.rows.iter().map(|r| r.file.clone().expect("file")).collect();
    let project = |f: &str| env.cwd.join(f);
    assert_eq!(
        files,
        [
            project(".mcp.json"),
            project(".gemini/settings.json"),
            project(".cursor/mcp.json"),
            project(".vscode/mcp.json")
        ],
        "no instruction files at project scope"
    );
    assert!(plan.rows.iter().all(|r| r.action == Action::Added));

    let refused = Request { clients: vec![Client::Codex], ..request };
    let err =
        install::plan(&env, Operation::Install, &refused).expect_err("codex has no project scope");
    assert_eq!(
        err.to_string(),
        "codex has no project scope; clients with one: claude-code, gemini, cursor, vscode"
    );
}

#[test]
fn unknown_client_names_are_an_error_listing_the_valid_ones() {
    let err = install::parse_client("clode").expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "unknown client \"clode\"; the clients are: claude-code, codex, gemini, cursor, vscode, \
         claude-desktop, windsurf, zed, opencode"
    );
    assert_eq!(install::parse_client("Claude").expect("alias"), Client::ClaudeCode);
    assert_eq!(install::parse_client("vscode").expect("id"), Client::VsCode);
}

#[test]
fn entries_run_annal_when_path_finds_this_binary_and_its_absolute_path_otherwise() {
    let home = home();
    let exe = home.env.exe.canonicalize().expect("exe").display().to_string();
    assert_eq!(home.env.annal_command(), exe);
    let mut env = home.env.clone();
    env.path = Some(home.dir.path().join("bin").into_os_string());
    assert_eq!(env.annal_command(), "annal");

    // Another `annal` first on PATH: ours is named by its path.
    let other = home.dir.path().join("other");
    std::fs::create_dir_all(&other).expect("dir");
    std::fs::copy(&home.env.exe, other.join("annal")).expect("copy");
    let mut shadowed = home.env.clone();
    shadowed.path = Some(std::env::join_paths([other, home.dir.path().join("bin")]).expect("path"));
    assert_eq!(shadowed.annal_command(), exe);

    // Claude Desktop starts servers without the shell's PATH: always the absolute path.
    let request =
        Request { clients: vec![Client::Cursor, Client::ClaudeDesktop], ..Request::default() };
    let plan = run(&env, Operation::Install, &request);
    assert_eq!(plan.command, "annal");
    let cursor = String::from_utf8(read(&config_file(&home, Client::Cursor))).expect("utf-8");
    assert!(cursor.contains("\"command\": \"annal\""), "{cursor}");
    let desktop =
        String::from_utf8(read(&config_file(&home, Client::ClaudeDesktop))).expect("utf-8");
    assert!(desktop.contains(&format!("\"command\": \"{}\"", home.env.exe.display())), "{desktop}");

    let empty = Request { command: Some(" ".into()), ..request };
    assert!(install::plan(&env, Operation::Install, &empty).is_err());
}

#[test]
fn status_says_detected_configured_and_what_the_entry_runs() {
    let home = home();
    let env = home.env.clone();
    let before = install::status(&env, Scope::User);
    assert_eq!(before.len(), 9);
    assert!(before.iter().all(|s| !s.detected && !s.configured && !s.file_exists));
    let codex = before.iter().find(|s| s.client == Client::Codex).expect("codex");
    assert!(codex.snippet.contains("[mcp_servers.annal]"), "{}", codex.snippet);

    let exe = env.exe.display().to_string();
    let request = Request {
        clients: vec![Client::Codex, Client::Gemini],
        command: Some(exe.clone()),
        instructions: true,
        ..Request::default()
    };
    run(&env, Operation::Install, &request);
    put(&config_file(&home, Client::Cursor), &fixture(Client::Cursor, "elsewhere"));
    put(&config_file(&home, Client::Zed), &fixture(Client::Zed, "broken"));
    let after = install::status(&env, Scope::User);
    let of = |client| after.iter().find(|s| s.client == client).expect("client");
    let gemini = of(Client::Gemini);
    assert!(gemini.detected && gemini.configured && gemini.file_exists && gemini.command_found);
    assert_eq!(gemini.command.as_deref(), Some(exe.as_str()));
    let instructions = gemini.instructions.as_ref().expect("GEMINI.md");
    assert!(instructions.present && instructions.current);
    assert!(gemini.up_to_date && gemini.scope == Scope::User);
    let cursor = of(Client::Cursor);
    assert!(cursor.configured && !cursor.command_found && !cursor.up_to_date);
    assert_eq!(cursor.command.as_deref(), Some("/usr/local/bin/annal"));
    let zed = of(Client::Zed);
    assert!(
        !zed.configured && zed.problem.as_deref().is_some_and(|p| p.contains("line 2, column 17"))
    );
    assert_eq!(install::status(&env, Scope::Project).len(), 4);
}

#[test]
fn client_names_on_the_wire_are_the_names_the_cli_takes() {
    for client in Client::ALL {
        let json = serde_json::to_value(client).expect("serialise");
        assert_eq!(json, client.id(), "{client:?}");
        let back: Client = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, client);
    }
    let request: Request = serde_json::from_str(r#"{"clients": ["zed"]}"#).expect("request");
    assert_eq!(request.clients, [Client::Zed]);
    assert!(request.instructions && request.scope == Scope::User && request.command.is_none());
    assert!(serde_json::from_str::<Request>(r#"{"clients": ["zedd"]}"#).is_err());
}

/// The dashboard shows a plan, then confirms it: what is written is what was shown, and a file
/// that changed in between is refused with nothing written.
#[test]
fn a_confirmed_plan_is_applied_only_while_it_is_still_the_plan_that_was_shown() {
    let home = home();
    let file = config_file(&home, Client::Gemini);
    put(&file, &fixture(Client::Gemini, "others"));
    let shown =
        install::plan(&home.env, Operation::Install, &request(Client::Gemini)).expect("plan");
    let again =
        install::plan(&home.env, Operation::Install, &request(Client::Gemini)).expect("plan");
    assert_eq!(shown.fingerprint, again.fingerprint, "planning is deterministic");
    assert_eq!(shown.fingerprint.len(), 64);

    let theirs = fixture(Client::Gemini, "tabs");
    std::fs::write(&file, &theirs).expect("the client rewrites its file");
    let refused = install::apply_confirmed(
        &home.env,
        Operation::Install,
        &request(Client::Gemini),
        &shown.fingerprint,
    );
    assert!(matches!(refused, Err(install::InstallError::PlanChanged)), "{refused:?}");
    assert_eq!(read(&file), theirs);

    let shown =
        install::plan(&home.env, Operation::Install, &request(Client::Gemini)).expect("plan");
    let applied = install::apply_confirmed(
        &home.env,
        Operation::Install,
        &request(Client::Gemini),
        &shown.fingerprint,
    )
    .expect("confirmed");
    assert_eq!(config_action(&applied), &Action::Added);
    assert_eq!(Some(read(&file).as_slice()), shown.rows[0].new_bytes());
    let uninstall =
        install::plan(&home.env, Operation::Uninstall, &request(Client::Gemini)).expect("plan");
    assert_ne!(uninstall.fingerprint, shown.fingerprint);
}

/// The result types travel to the dashboard as JSON (and TypeScript); the change itself stays
/// in Rust.
#[test]
fn plans_and_statuses_serialise_without_the_bytes_they_carry() {
    use ts_rs::TS as _;
    let home = home();
    let plan =
        install::plan(&home.env, Operation::Install, &request(Client::Cursor)).expect("plan");
    let json = serde_json::to_value(&plan).expect("plan json");
    assert_eq!(json["operation"], "install");
    assert_eq!(json["rows"][0]["client"], "cursor");
    assert_eq!(json["rows"][0]["kind"], "config");
    assert_eq!(json["rows"][0]["action"], serde_json::json!({"kind": "added"}));
    assert!(json["rows"][0].get("change").is_none());
    let failed = serde_json::to_value(Action::Skipped("not detected".into())).expect("json");
    assert_eq!(failed, serde_json::json!({"kind": "skipped", "reason": "not detected"}));

    let status =
        serde_json::to_value(install::status(&home.env, Scope::User)).expect("status json");
    assert_eq!(status[0]["client"], "claude-code");
    assert_eq!(status[0]["scope"], "user");
    assert!(Plan::decl().contains("fingerprint: string"), "{}", Plan::decl());
    assert!(!install::Row::decl().contains("Change"), "{}", install::Row::decl());
    assert!(install::ClientStatus::decl().contains("command_found: boolean"));
}

/// The hooks: Claude Code's settings.json, Codex's hooks.json and Gemini's settings.json (the
/// file its MCP servers are in), written beside what the user has and undone to the byte.
#[test]
fn hooks_go_beside_the_users_own_and_uninstall_gives_back_the_original_bytes() {
    let home = home();
    let claude = home.dir.path().join(".claude/settings.json");
    let gemini = config_file(&home, Client::Gemini);
    let codex = home.dir.path().join(".codex/hooks.json");
    let claude_original = b"{\n  \"model\": \"opus\",\n  \"hooks\": {\n    \"UserPromptSubmit\": [\n      { \"hooks\": [{ \"type\": \"command\", \"command\": \"~/bin/log.sh\" }] }\n    ]\n  }\n}\n";
    let gemini_original = b"// my settings\n{ \"theme\": \"GitHub\" }\n";
    put(&claude, claude_original);
    put(&gemini, gemini_original);
    std::fs::create_dir_all(codex.parent().expect("dir")).expect("codex home");
    let request = Request {
        clients: vec![Client::ClaudeCode, Client::Gemini, Client::Codex],
        hooks: true,
        ..request(Client::ClaudeCode)
    };
    let plan = run(&home.env, Operation::Install, &request);
    let hook_rows: Vec<_> = plan.rows.iter().filter(|r| r.kind == FileKind::Hooks).collect();
    assert_eq!(hook_rows.len(), 3, "{:?}", plan.rows);
    assert!(hook_rows.iter().all(|r| r.action == Action::Added), "{:?}", hook_rows);
    let json = |file: &Path| -> serde_json::Value {
        let text = String::from_utf8(read(file)).expect("utf-8");
        let text: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
        serde_json::from_str(&text).expect("json")
    };
    let claude_now = json(&claude);
    assert_eq!(claude_now["model"], "opus");
    let prompt_hooks = claude_now["hooks"]["UserPromptSubmit"].as_array().expect("list");
    assert_eq!(prompt_hooks.len(), 2, "the user's hook stays: {claude_now}");
    assert_eq!(
        claude_now["hooks"]["SessionStart"][0]["hooks"][0]["command"],
        format!("{COMMAND} hook session-start --client claude-code")
    );
    assert_eq!(claude_now["hooks"]["SessionStart"][0]["hooks"][0]["timeout"], 1, "seconds");
    let gemini_now = json(&gemini);
    assert_eq!(gemini_now["theme"], "GitHub");
    assert!(gemini_now["mcpServers"]["annal"].is_object());
    assert_eq!(
        gemini_now["hooks"]["BeforeAgent"][0]["hooks"][0]["command"],
        format!("{COMMAND} hook prompt-submit --client gemini")
    );
    assert_eq!(gemini_now["hooks"]["BeforeAgent"][0]["hooks"][0]["timeout"], 900, "milliseconds");
    assert!(String::from_utf8(read(&gemini)).expect("utf-8").starts_with("// my settings"));
    assert_eq!(json(&codex)["hooks"]["UserPromptSubmit"][0]["hooks"][0]["timeout"], 1);
    // One backup per file, of the user's bytes (Gemini's file was changed by two rows).
    assert_eq!(read(&backup_path(&gemini)), gemini_original);
    assert_eq!(read(&backup_path(&claude)), claude_original);
    // Idempotent; the status sees them.
    let again = run(&home.env, Operation::Install, &request);
    assert!(again.rows.iter().all(|r| !r.changes()), "{:?}", again.rows);
    let status = install::status(&home.env, Scope::User);
    for client in [Client::ClaudeCode, Client::Gemini, Client::Codex] {
        let row = status.iter().find(|s| s.client == client).expect("row");
        let hooks = row.hooks.as_ref().expect("hooks");
        assert!(hooks.present && !hooks.current, "{client:?}: runs {COMMAND}, not this binary");
    }
    assert!(status.iter().find(|s| s.client == Client::Cursor).expect("cursor").hooks.is_none());
    // Uninstall: every file back to its bytes, the one install created gone.
    let removed = run(&home.env, Operation::Uninstall, &request);
    assert!(removed.rows.iter().all(|r| !r.action.is_failure()), "{:?}", removed.rows);
    assert_eq!(read(&claude), claude_original);
    assert_eq!(read(&gemini), gemini_original);
    assert!(!codex.exists(), "hooks.json was install's own");
}

#[test]
fn a_settings_file_that_does_not_parse_is_left_alone_and_no_hooks_means_none() {
    let home = home();
    let claude = home.dir.path().join(".claude/settings.json");
    put(&claude, b"{ \"hooks\": { \"SessionStart\": [ }\n");
    let with_hooks = Request { hooks: true, ..request(Client::ClaudeCode) };
    let plan = run(&home.env, Operation::Install, &with_hooks);
    let row = plan.rows.iter().find(|r| r.kind == FileKind::Hooks).expect("hooks row");
    match &row.action {
        Action::Failed(reason) => assert!(reason.contains("line 1"), "{reason}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(read(&claude), b"{ \"hooks\": { \"SessionStart\": [ }\n");
    assert_eq!(*config_action(&plan), Action::Added, "the MCP entry does not depend on it");
    let shaped = b"{ \"hooks\": [] }\n";
    put(&claude, shaped);
    let plan = run(&home.env, Operation::Install, &with_hooks);
    let row = plan.rows.iter().find(|r| r.kind == FileKind::Hooks).expect("hooks row");
    assert!(row.action.is_failure(), "{:?}", row.action);
    assert_eq!(read(&claude), shaped);
    let without = run(&home.env, Operation::Install, &request(Client::Gemini));
    assert!(without.rows.iter().all(|r| r.kind != FileKind::Hooks));
}
