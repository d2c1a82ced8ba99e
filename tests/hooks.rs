//! `annal hook` as the process a client runs: the JSON each client really sends (fixtures in
//! tests/data/hooks/, from the clients' own code), what comes out on stdout, and that it always
//! exits 0 with nothing on stdout or stderr when it has nothing to say — unknown project,
//! malformed input, an owner that cannot start, a client that never closes stdin, a huge
//! prompt, an event this version does not know.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{KillOnDrop, model_dir, wait_until};

struct Home {
    dir: tempfile::TempDir,
    _owner: Option<KillOnDrop>,
}

impl Home {
    /// A home whose config says `config` (YAML), with no owner yet.
    fn with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("home");
        std::fs::write(dir.path().join("config.yaml"), config).expect("config");
        Self { dir, _owner: None }
    }

    /// A home with a running owner and a few memories in project `demo`.
    fn serving() -> Self {
        // A budget far above the hook's real cost: a loaded CI machine must not make the
        // contract tests flaky (the budget itself has its own tests below).
        let mut home = Self::with_config("port: 0\nhooks:\n  budget_ms: 8000\n");
        let owner = home.annal().arg("serve").stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        home._owner = Some(KillOnDrop(owner.expect("annal serve")));
        let address = home.path().join("data").join(annal::http::ADDRESS_FILE);
        wait_until("the owner serves HTTP", Duration::from_secs(60), || address.exists());
        for (text, tags) in [
            (
                "Login redirect loop: the session cookie was SameSite=Strict on the OAuth callback; it must be Lax.",
                "bug,auth",
            ),
            ("We chose Postgres advisory locks over SKIP LOCKED for the job queue.", "decision,db"),
            ("Never deploy on Fridays.", "pinned,deploy"),
        ] {
            let out =
                home.annal().args(["store", "--project", "demo", "--tags", tags, text]).output();
            assert!(out.expect("store").status.success());
        }
        home
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn annal(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_annal"));
        crate::util::isolate(&mut cmd, self.path()).env("ANNAL_MODEL_DIR", model_dir());
        cmd.current_dir(self.path());
        cmd
    }

    /// Runs `annal hook <args>` with `input` on stdin.
    fn hook(&self, args: &[&str], input: &[u8]) -> (Output, Duration) {
        let started = Instant::now();
        let mut child = self
            .annal()
            .arg("hook")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("annal hook");
        // A hook that stops reading early closes the pipe: that is its right.
        let _ = child.stdin.take().expect("stdin").write_all(input);
        let out = child.wait_with_output().expect("wait");
        (out, started.elapsed())
    }
}

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/hooks").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// A fixture with its working directory in project `project`.
fn input(name: &str, project: &str, prompt: Option<&str>) -> Vec<u8> {
    let mut value = fixture(name);
    value["cwd"] = Value::String(format!("/home/dev/src/{project}"));
    if let Some(prompt) = prompt {
        value["prompt"] = Value::String(prompt.into());
    }
    serde_json::to_vec(&value).expect("json")
}

fn assert_quiet(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what}: exit status");
    assert!(out.stdout.is_empty(), "{what}: stdout {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stderr.is_empty(), "{what}: stderr {}", String::from_utf8_lossy(&out.stderr));
}

/// The context a client receives, after checking the output is the JSON that client reads
/// with the event name it sent.
fn context(out: &Output, event_name: &str) -> String {
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let output = &value["hookSpecificOutput"];
    assert_eq!(output["hookEventName"], Value::String(event_name.into()));
    output["additionalContext"].as_str().expect("additionalContext").to_owned()
}

#[test]
fn each_client_gets_the_brief_and_the_recall_in_its_own_shape() {
    let home = Home::serving();
    let prompt = "why does login keep redirecting back to itself after the oauth callback?";
    for (client, start, submit) in [
        ("claude-code", "claude-SessionStart.json", "claude-UserPromptSubmit.json"),
        ("gemini", "gemini-SessionStart.json", "gemini-BeforeAgent.json"),
        ("codex", "codex-SessionStart.json", "codex-UserPromptSubmit.json"),
    ] {
        let (out, _) =
            home.hook(&["session-start", "--client", client], &input(start, "demo", None));
        let event = fixture(start)["hook_event_name"].as_str().expect("event").to_owned();
        let brief = context(&out, &event);
        assert!(brief.contains("Never deploy on Fridays"), "{client}: {brief}");
        assert!(brief.contains("advisory locks"), "{client}: {brief}");
        // A new session (the fixtures' ids differ per client): the recall is not deduplicated
        // against another client's session.
        let submitted = input(submit, "demo", Some(prompt));
        let session = fixture(submit)["session_id"].as_str().expect("id").to_owned();
        let fresh = serde_json::to_vec(&{
            let mut v: Value = serde_json::from_slice(&submitted).expect("json");
            v["session_id"] = Value::String(format!("{session}-recall"));
            v
        })
        .expect("json");
        let (out, _) = home.hook(&["prompt-submit", "--client", client], &fresh);
        let event = fixture(submit)["hook_event_name"].as_str().expect("event").to_owned();
        let recall = context(&out, &event);
        assert!(recall.contains("SameSite=Strict"), "{client}: {recall}");
        // The same prompt again in that session: already injected, nothing more.
        let (out, _) = home.hook(&["prompt-submit", "--client", client], &fresh);
        assert_quiet(&out, &format!("{client} second time in a session"));
    }
    // Gemini puts the session's context in front of the prompt: the user's words are searched.
    let wrapped = format!("<hook_context>Annal memory of project demo …</hook_context>\n{prompt}");
    let mut gemini: Value =
        serde_json::from_slice(&input("gemini-BeforeAgent.json", "demo", Some(&wrapped)))
            .expect("json");
    gemini["session_id"] = Value::String("gemini-wrapped".into());
    let gemini = serde_json::to_vec(&gemini).expect("json");
    let (out, _) = home.hook(&["prompt-submit", "--client", "gemini"], &gemini);
    assert!(context(&out, "BeforeAgent").contains("SameSite=Strict"));
}

#[test]
fn nothing_to_say_is_silence_and_exit_zero() {
    let home = Home::serving();
    let claude_start = "claude-SessionStart.json";
    let (out, _) = home.hook(&["session-start"], &input(claude_start, "unknown-project", None));
    assert_quiet(&out, "unknown project");
    let (out, _) = home.hook(&["session-start"], &input(claude_start, "not a name!", None));
    assert_quiet(&out, "a directory that names no project");
    for garbage in [&b"not json"[..], b"", b"{\"cwd\": 42}", &[0xff, 0xfe, 0x00][..], b"[]"] {
        let (out, _) = home.hook(&["prompt-submit"], garbage);
        assert_quiet(&out, &format!("malformed stdin {garbage:?}"));
    }
    let (out, _) = home.hook(&["frobnicate", "--client", "claude-code"], b"{}");
    assert_quiet(&out, "an event this version does not know");
    let (out, _) = home.hook(&["session-start", "--client", "nobody"], b"{}");
    assert_quiet(&out, "a client this version does not know");
    let huge = "why does login redirect loop? ".repeat(40_000);
    let (out, spent) =
        home.hook(&["prompt-submit"], &input("claude-UserPromptSubmit.json", "demo", Some(&huge)));
    assert_eq!(out.status.code(), Some(0));
    assert!(spent < Duration::from_secs(8), "a 1 MB prompt took {spent:?}");
    // The reasons went to the owner's log.
    let log = std::fs::read_to_string(home.path().join("data/annal.log")).expect("log");
    assert!(log.contains("annal hook prompt-submit: the hook's input"), "{log}");
}

#[test]
fn past_its_budget_or_without_an_owner_it_prints_nothing_in_time() {
    // The data dir is a file: no owner can start there.
    let dir = tempfile::tempdir().expect("dir");
    let blocked = dir.path().join("not-a-dir");
    std::fs::write(&blocked, "").expect("file");
    let config = format!("port: 0\ndata_dir: {}\nhooks:\n  budget_ms: 300\n", blocked.display());
    let home = Home::with_config(&config);
    let (out, spent) =
        home.hook(&["session-start"], &input("claude-SessionStart.json", "demo", None));
    assert_quiet(&out, "no owner can start");
    assert!(spent < Duration::from_secs(3), "took {spent:?}");
    // A client that never closes stdin: the budget ends the hook.
    let home = Home::with_config("port: 0\nhooks:\n  budget_ms: 300\n");
    let started = Instant::now();
    let child = home
        .annal()
        .args(["hook", "prompt-submit"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("annal hook");
    let mut child = child;
    // Held open (and never written) until the hook has exited.
    let _stdin = child.stdin.take();
    let out = child.wait_with_output().expect("wait");
    assert_quiet(&out, "stdin never closed");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    let log = std::fs::read_to_string(home.path().join("data/annal.log")).expect("log");
    assert!(log.contains("over the time budget"), "{log}");
    // A config that does not parse: silence too.
    let home = Home::with_config("hooks: [unclosed\n");
    let (out, _) = home.hook(&["session-start"], &input("claude-SessionStart.json", "demo", None));
    assert_quiet(&out, "a broken config");
}
