//! The data commands (`status`, `store`, `search`, `topics`, `export`, `import`, `index`) as
//! subprocesses: through an owner they start when none runs, and through one already running.
//! Each home is a temp dir; owners are stopped when the test ends, pass or fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{model_dir, wait_until};

/// A temp home whose owner (whoever started it) is stopped on drop.
struct Home {
    dir: tempfile::TempDir,
    serve: Option<Child>,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("home");
        std::fs::write(dir.path().join("config.yaml"), "port: 0\n").expect("config");
        // Commands run in a directory whose name is a project name (temp dirs' are not).
        std::fs::create_dir(dir.path().join("work")).expect("work dir");
        Self { dir, serve: None }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.path().join("data")
    }

    fn annal(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_annal"));
        crate::util::isolate(&mut cmd, self.path()).env("ANNAL_MODEL_DIR", model_dir());
        cmd.current_dir(self.path().join("work"));
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.annal().args(args).stdin(Stdio::null()).output().expect("run annal")
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Runs a command that must fail with status 1; its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).expect("utf-8")
    }

    /// Runs a command that must succeed with a terminal for stdin, stdout and stderr
    /// (`script` gives it a pseudo-terminal); what the terminal showed.
    fn on_terminal(&self, args: &[&str]) -> String {
        let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_annal"))
            .chain(args.iter().copied())
            .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
            .collect();
        let mut cmd = Command::new("script");
        crate::util::isolate(&mut cmd, self.path()).env("ANNAL_MODEL_DIR", model_dir());
        let out = cmd
            .current_dir(self.path().join("work"))
            .args(["-qec", &quoted.join(" "), "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .expect("run script");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("JSON output")
    }

    fn owner_pid(&self) -> Option<u32> {
        annal::owner::current_owner(&self.data()).map(|(pid, _)| pid)
    }

    /// `annal serve` started by the test, answering HTTP.
    fn serve(&mut self) -> u32 {
        let child = self
            .annal()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("annal serve");
        let pid = child.id();
        self.serve = Some(child);
        let address = self.data().join(annal::http::ADDRESS_FILE);
        wait_until("the owner serves HTTP", Duration::from_secs(30), || address.exists());
        pid
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if let Some(mut child) = self.serve.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(pid) = self.owner_pid() {
            let _ = Command::new("kill").arg(pid.to_string()).stderr(Stdio::null()).status();
            let gone = std::time::Instant::now() + Duration::from_secs(20);
            while Path::new(&format!("/proc/{pid}")).exists() && std::time::Instant::now() < gone {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn data_commands_start_an_owner_and_then_use_it() {
    let home = Home::new();
    assert_eq!(home.owner_pid(), None);
    let stored = home.ok(&[
        "store",
        "--project",
        "demo",
        "--tags",
        "decision,db",
        "We keep SQLite in WAL mode.",
    ]);
    assert!(stored.starts_with("stored "), "{stored}");
    let pid = home.owner_pid().expect("the store started an owner");

    let text = "-";
    let mut child = home
        .annal()
        .args(["store", "--project", "demo", "--tags", "ops", text])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("store from stdin");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(b"Deploys go out on Thursdays.").expect("write");
    assert!(child.wait_with_output().expect("wait").status.success());

    let found = home.json(&["search", "--project", "demo", "which database do we use", "--json"]);
    assert_eq!(found["hits"][0]["memory"]["content"], "We keep SQLite in WAL mode.", "{found}");
    let text = home.ok(&["search", "--project", "demo", "--tags", "ops", "deploy day"]);
    assert!(text.contains("Thursdays") && !text.contains("SQLite"), "{text}");
    let everywhere = home.ok(&["search", "--all-projects", "deploy day"]);
    assert!(everywhere.contains("demo "), "{everywhere}");

    let topics = home.json(&["topics", "--project", "demo", "--json"]);
    let tags: Vec<&str> =
        topics.as_array().expect("list").iter().filter_map(|t| t["tag"].as_str()).collect();
    assert_eq!(tags.len(), 3, "{topics}");
    assert!(home.ok(&["topics", "--project", "empty"]).contains("no topics"));

    let status = home.json(&["status", "--json"]);
    assert_eq!(status["started_owner"], false, "{status}");
    assert_eq!(status["owner"]["pid"], pid, "{status}");
    assert_eq!(status["owner"]["role"], "headless");
    assert_eq!(status["owner"]["model"]["dir"], model_dir().display().to_string(), "{status}");
    assert_eq!(status["projects"][0]["project"], "demo");
    assert_eq!(status["projects"][0]["stats"]["agent_memories"], 2);
    let text = home.ok(&["status"]);
    assert!(
        text.contains(&format!("pid {pid}")) && text.contains("demo: 2 agent memories"),
        "{text}"
    );
    // Without --project, the current directory's basename, as agents name it.
    home.ok(&["store", "--tags", "here", "Stored from the work directory."]);
    let here = home.json(&["topics", "--json"]);
    assert_eq!(here[0]["tag"], "here", "{here}");
    assert_eq!(home.json(&["status", "--json"])["projects"][1]["project"], "work");
    assert_eq!(home.owner_pid(), Some(pid), "every command used the one owner");
}

#[test]
fn export_and_import_move_a_project_to_another_owner_unchanged() {
    let source = Home::new();
    source.ok(&["store", "--project", "app", "--tags", "db", "Postgres 16 with pgvector."]);
    source.ok(&["store", "--project", "app", "--tags", "ui", "The dashboard is plain TypeScript."]);
    source.ok(&["store", "--project", "other", "--tags", "x", "Another project's note."]);
    let file = source.path().join("app.jsonl");
    let file_arg = file.to_str().expect("path");
    source.ok(&["export", "--project", "app", "--out", file_arg]);
    let exported = std::fs::read_to_string(&file).expect("export file");
    assert_eq!(exported.lines().count(), 2, "{exported}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777, 0o600);
    // Progress: plain lines when stderr is not a terminal, an indicatif bar when it is.
    let out = source.run(&["export", "--project", "app", "--out", file_arg]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("export: 2 memories of 2 memories"), "{said}");
    let shown = source.on_terminal(&["export", "--project", "app", "--out", file_arg]);
    assert!(shown.contains("\u{1b}[") && !shown.contains("export: 2 memories"), "{shown:?}");
    assert_eq!(std::fs::read_to_string(&file).expect("export file"), exported);
    let to_stdout = source.ok(&["export", "--project", "app"]);
    assert_eq!(to_stdout, exported);
    let all = source.ok(&["export", "--all"]);
    assert_eq!(all.lines().count(), 3);
    assert!(all.contains("\"project\": \"other\""), "{all}");

    // Into an owner that is already running.
    let mut target = Home::new();
    let pid = target.serve();
    let report = target.json(&["import", "--project", "app", file_arg, "--json"]);
    assert_eq!(
        (&report["lines"], &report["stored"]),
        (&Value::from(2), &Value::from(2)),
        "{report}"
    );
    assert_eq!(target.owner_pid(), Some(pid));
    assert_eq!(target.ok(&["export", "--project", "app"]), exported, "byte-identical");
    let again = target.ok(&["import", "--project", "app", file_arg]);
    assert!(again.contains("0 stored, 0 replaced, 2 skipped"), "{again}");
    let found = target.json(&["search", "--project", "app", "vector database", "--json"]);
    assert_eq!(found["hits"][0]["memory"]["content"], "Postgres 16 with pgvector.");

    // From stdin, each line to the project it names.
    let mut child = target
        .annal()
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("import from stdin");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(all.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("1 stored, 0 replaced, 2 skipped (id exists) in other"), "{said}");
    // Progress goes to stderr as plain lines when it is not a terminal.
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains("import: sending: ") && progress.contains("import: storing: "),
        "{progress}"
    );
}

#[test]
fn bad_input_is_refused_with_a_clear_message_and_stores_nothing() {
    let home = Home::new();
    let missing = home.path().join("no-such-file.jsonl");
    let missing = missing.to_str().expect("path");
    let err = home.fails(&["import", "--project", "p", missing]);
    assert!(err.contains("cannot read") && err.contains("no-such-file.jsonl"), "{err}");

    let bad = home.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"id\": \"a\", \"text\": \"fine\", \"metadata\": {\"tags\": [\"t\"]}}\n{\"id\": \"b\"}\n",
    )
    .expect("write");
    let err =
        home.fails(&["import", "--project", "p", "--all-or-nothing", bad.to_str().expect("path")]);
    assert!(err.contains("line 2: ") && err.contains("nothing was stored"), "{err}");

    // A bad line early in a file far bigger than the socket buffers: the owner stops reading
    // there, and its answer still reaches the command that is sending the rest.
    let big = home.path().join("big.jsonl");
    let mut text = String::from("{\"id\": \"a\", \"text\": \"fine\", \"metadata\": {}}\n");
    text.push_str("{\"id\": \"b\", \"text\": 5, \"metadata\": {}}\n");
    let filler =
        format!("{{\"id\": \"f\", \"text\": \"{}\", \"metadata\": {{}}}}\n", "x".repeat(200));
    while text.len() < 48 << 20 {
        text.push_str(&filler);
    }
    std::fs::write(&big, text).expect("write");
    let err = home.fails(&["import", "--project", "p", big.to_str().expect("path")]);
    assert!(
        err.contains("line 2: ") && err.contains("the 1 memory before it stayed stored"),
        "{err}"
    );

    let err = home.fails(&["export", "--project", "nope"]);
    assert!(err.contains("unknown project \"nope\""), "{err}");
    assert!(!home.path().join("out.jsonl").exists());
    let out = home.path().join("out.jsonl");
    home.fails(&["export", "--project", "nope", "--out", out.to_str().expect("path")]);
    assert!(!out.exists(), "a failed export leaves no file");
    let err = home.fails(&["index", "nope"]);
    assert!(err.contains("unknown project"), "{err}");
    let err = home.fails(&["search", "--project", "bad name!", "x"]);
    assert!(err.contains("invalid project name"), "{err}");
    let err = home.fails(&["search", "--project", "p", "--limit", "0", "x"]);
    assert!(err.contains("limit") && err.contains('0'), "{err}");
    let err = home.fails(&["store", "--project", "p", "--tags", " ", "text"]);
    assert!(err.contains("tags are empty"), "{err}");
    let status = home.json(&["status", "--json"]);
    let projects = status["projects"].as_array().expect("list");
    assert_eq!(projects.len(), 1, "only the big file's first line was stored: {status}");
    assert_eq!(projects[0]["stats"]["total"], 1, "{status}");
}

#[test]
fn index_follows_the_run_to_its_end_and_fails_when_the_run_fails() {
    let home = Home::new();
    let text = home.ok(&["status"]);
    assert!(text.contains("owner:    started now (none was running)"), "{text}");
    assert!(text.contains("projects: none yet"), "{text}");
    let docs = home.path().join("docs");
    std::fs::create_dir(&docs).expect("docs");
    std::fs::write(docs.join("guide.md"), "# Guide\n\nRun `make` first.\n").expect("file");
    let address =
        std::fs::read_to_string(home.data().join(annal::http::ADDRESS_FILE)).expect("address");
    let token = std::fs::read_to_string(home.data().join(annal::http::TOKEN_FILE)).expect("token");
    let body = serde_json::json!({ "watch_paths": [docs], "watch": false }).to_string();
    let auth = [format!("Authorization: Bearer {}", token.trim())];
    let (status, reply) =
        crate::util::http(&address, "PUT", "/api/projects/docs/watch", &auth, &body);
    assert_eq!(status, 200, "{reply}");
    wait_until("the first reconcile ends", Duration::from_secs(60), || {
        home.json(&["status", "--json"])["projects"][0]["index"]["state"] == "idle"
    });

    let said = home.ok(&["index", "docs"]);
    assert!(said.starts_with("indexed docs: 1 files seen, 1 indexed"), "{said}");
    let found = home.json(&["search", "--project", "docs", "how do I build", "--json"]);
    assert!(found["hits"][0]["memory"]["content"].as_str().is_some_and(|c| c.contains("make")));

    std::fs::remove_dir_all(&docs).expect("remove docs");
    let err = home.fails(&["index", "docs"]);
    assert!(err.contains("indexing docs failed"), "{err}");
}

#[test]
fn store_prints_hints_and_redactions_and_review_resolves_the_inbox() {
    let home = Home::new();
    let store =
        |text: &str, tags: &str| home.ok(&["store", "--project", "app", "--tags", tags, text]);
    let first = store(
        "We use PostgreSQL 15 as the primary database for the billing service.",
        "decision,database",
    );
    let old = first.split_whitespace().nth(1).expect("an id").to_owned();
    let reply = store(
        "Billing moves off PostgreSQL to DynamoDB; new billing tables go in DynamoDB.",
        "decision,database",
    );
    assert!(reply.contains(&format!("may contradict decision {old}")), "{reply}");
    let new = reply.split_whitespace().nth(1).expect("an id").to_owned();
    let token = format!("ghp_{}", "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2");
    let reply = store(&format!("The bot logs in with {token} today."), "ops");
    assert!(reply.contains("redacted a github-token secret at bytes 21..61"), "{reply}");
    assert!(!reply.contains(&token));

    let inbox = home.ok(&["review", "--project", "app"]);
    assert!(inbox.starts_with("2 to review in app:"), "{inbox}");
    assert!(
        inbox.contains("may reverse an older decision") && inbox.contains("secrets were taken out")
    );
    let json = home.json(&["review", "--project", "app", "--json"]);
    let key_of = |kind: &str| {
        let items = json["items"].as_array().expect("items");
        let item = items.iter().find(|i| i["kind"] == kind).expect("the item");
        item["key"].as_str().expect("key").to_owned()
    };
    let (conflict, redaction) = (key_of("conflict"), key_of("redaction"));
    // Bad keys and winners are refused, naming them.
    let err = home.fails(&["review", "--project", "app", "confirm", "nope"]);
    assert!(err.contains("\"nope\" is not an inbox key"), "{err}");
    let err = home.fails(&["review", "--project", "app", "supersede", &conflict, "--winner", "x"]);
    assert!(err.contains("winner \"x\" is not one of the two memories"), "{err}");
    let after = home.ok(&["review", "--project", "app", "supersede", &conflict, "--winner", &new]);
    assert!(after.starts_with("1 to review"), "{after}");
    let found = home.ok(&["search", "--project", "app", "billing database"]);
    assert!(found.contains(&new) && !found.contains(&old), "{found}");
    let after = home.ok(&["review", "--project", "app", "confirm", &redaction]);
    assert!(after.contains("nothing to review in app"), "{after}");

    // An import says how many lines had secrets taken out.
    let line = format!(
        r#"{{"id": "imported-1", "text": "Deploy key {token} lives in CI.", "metadata": {{"tags": ["ops"]}}}}"#
    );
    let file = home.path().join("in.jsonl");
    std::fs::write(&file, format!("{line}\n")).expect("write");
    let said = home.ok(&["import", "--project", "app", file.to_str().expect("path")]);
    assert!(said.contains("1 had secrets taken out"), "{said}");
    assert!(!said.contains(&token));
}
