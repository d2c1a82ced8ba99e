//! `annal hook <event>`: run by an agent client as a hook. Reads the client's JSON from stdin,
//! asks the running owner (starting one if needed) what to inject, prints it the way that
//! client takes it, and exits 0 — always: past the time budget, or on any failure, it prints
//! nothing (the reason goes to the owner's log), so a hook never blocks or breaks the agent.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;

use super::owner_client::OwnerClient;
use crate::config::{ConfigFile, PathInputs};
use crate::hooks::{HookRequest, HookSettings, Injection};
use crate::http::hooks::{PROMPT_SUBMIT, SESSION_START};
use crate::project::ProjectName;
use crate::sidecar::{self, Launch};

/// More than any prompt a client sends; the rest of a bigger input is not read.
const MAX_INPUT_BYTES: u64 = 16 << 20;
/// What of a prompt is sent to the owner: search reads no more than its first 2,000
/// characters, which take at most four bytes each.
const MAX_PROMPT_BYTES: usize = 8_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Event {
    /// A session starts (or its context was cleared or compacted): the project's brief.
    SessionStart,
    /// The user submitted a prompt: the memories that bear on it.
    PromptSubmit,
}

/// The client whose hook runs this: how it wants the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HookClient {
    ClaudeCode,
    Gemini,
    Codex,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    pub event: Event,
    #[arg(long, value_enum, default_value = "claude-code")]
    pub client: HookClient,
}

/// The fields of a client's hook input we use; every client sends `session_id` and `cwd`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClientInput {
    session_id: String,
    cwd: Option<PathBuf>,
    prompt: String,
}

/// Decides once whether the output is written or the watchdog ends the process first.
struct Deadline {
    started: Instant,
    budget_ms: AtomicU64,
    decided: AtomicBool,
}

impl Deadline {
    fn remaining(&self) -> Duration {
        let budget = Duration::from_millis(self.budget_ms.load(Ordering::SeqCst));
        budget.saturating_sub(self.started.elapsed())
    }

    /// True for the first caller only: the output, or the watchdog's exit.
    fn decide(&self) -> bool {
        !self.decided.swap(true, Ordering::SeqCst)
    }
}

/// Runs the hook; whatever happens, the process should then exit 0.
pub fn run(args: &Args, config: Option<PathBuf>, started: Instant) {
    let deadline = Arc::new(Deadline {
        started,
        budget_ms: AtomicU64::new(HookSettings::default().budget_ms),
        decided: AtomicBool::new(false),
    });
    let log: Arc<std::sync::Mutex<Option<PathBuf>>> = Arc::default();
    watchdog(Arc::clone(&deadline), Arc::clone(&log), args.event);
    let outcome = inject(args, config, &deadline, &log);
    if !deadline.decide() {
        // The watchdog is ending the process: print nothing.
        std::thread::park();
    }
    match outcome {
        Ok(Some(output)) => {
            let mut stdout = std::io::stdout().lock();
            if let Err(err) = stdout.write_all(output.as_bytes()).and_then(|()| stdout.flush()) {
                note(&log, args.event, &format!("writing the output: {err}"));
            }
        }
        Ok(None) => {}
        Err(err) => note(&log, args.event, &format!("{err:#}")),
    }
}

/// Ends the process, printing nothing, when the budget runs out first.
fn watchdog(deadline: Arc<Deadline>, log: Arc<std::sync::Mutex<Option<PathBuf>>>, event: Event) {
    std::thread::spawn(move || {
        loop {
            let remaining = deadline.remaining();
            if remaining.is_zero() {
                break;
            }
            // The budget may change once the config is read: look again soon.
            std::thread::sleep(remaining.min(Duration::from_millis(20)));
        }
        if deadline.decide() {
            let spent = deadline.started.elapsed().as_millis();
            note(&log, event, &format!("over the time budget ({spent} ms): printed nothing"));
            std::process::exit(0);
        }
    });
}

/// Appends the reason to the owner's log in the data dir, once that is known.
fn note(log: &std::sync::Mutex<Option<PathBuf>>, event: Event, reason: &str) {
    let Some(path) = log.lock().ok().and_then(|l| l.clone()) else { return };
    if let Some(dir) = path.parent() {
        let _ = crate::private_files::create_dir(dir);
    }
    let Ok(mut file) = crate::private_files::append(&path) else { return };
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let event = match event {
        Event::SessionStart => "session-start",
        Event::PromptSubmit => "prompt-submit",
    };
    let _ = writeln!(file, "{at}  WARN annal hook {event}: {reason}");
}

/// What to print, if anything.
fn inject(
    args: &Args,
    config: Option<PathBuf>,
    deadline: &Deadline,
    log: &std::sync::Mutex<Option<PathBuf>>,
) -> anyhow::Result<Option<String>> {
    let paths = PathInputs::from_env(config.clone()).resolve()?;
    let config_file = ConfigFile::load(paths.clone())?;
    let snapshot = config_file.snapshot();
    let data_dir = snapshot.data_dir(&paths);
    if let Ok(mut log) = log.lock() {
        *log = Some(data_dir.join(sidecar::LOG_FILE));
    }
    let mut input = Vec::new();
    std::io::stdin().take(MAX_INPUT_BYTES).read_to_end(&mut input).context("reading stdin")?;
    let input: ClientInput = serde_json::from_slice(&input).context("the hook's input")?;
    let Some(project) = project_of(input.cwd.as_deref())? else { return Ok(None) };
    let settings = snapshot.hooks_for(&project);
    deadline.budget_ms.store(settings.budget_ms, Ordering::SeqCst);
    if !settings.enabled {
        return Ok(None);
    }
    let launch = Launch { data_dir, serve_args: super::serve_args(&config) };
    let client = OwnerClient::connect(&launch)?.timeout(deadline.remaining());
    let mut prompt = match args.client {
        HookClient::Gemini => without_hook_context(input.prompt),
        HookClient::ClaudeCode | HookClient::Codex => input.prompt,
    };
    prompt.truncate(prompt.floor_char_boundary(MAX_PROMPT_BYTES));
    let request =
        HookRequest { project: project.to_string(), session_id: input.session_id, prompt };
    let path = match args.event {
        Event::SessionStart => SESSION_START,
        Event::PromptSubmit => PROMPT_SUBMIT,
    };
    let injection: Injection = client.post(path, &request)?;
    Ok(render(args.client, args.event, &injection))
}

/// Gemini CLI hands `BeforeAgent` the prompt with the session-start context in front of it
/// (`<hook_context>…</hook_context>`): the user's words are what follows.
fn without_hook_context(prompt: String) -> String {
    const CLOSE: &str = "</hook_context>";
    match prompt
        .trim_start()
        .strip_prefix("<hook_context>")
        .and_then(|rest| rest.find(CLOSE).map(|at| (rest, at)))
    {
        Some((rest, at)) => rest[at + CLOSE.len()..].trim_start().to_owned(),
        None => prompt,
    }
}

/// The project a hook's working directory stands for: its basename, as agents name it.
fn project_of(cwd: Option<&Path>) -> anyhow::Result<Option<ProjectName>> {
    let cwd = match cwd {
        Some(cwd) => cwd.to_path_buf(),
        None => std::env::current_dir().context("reading the current directory")?,
    };
    let name = cwd.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    Ok(ProjectName::parse(name).ok())
}

/// The output as `client` reads it for `event`; `None` when there is nothing to inject.
fn render(client: HookClient, event: Event, injection: &Injection) -> Option<String> {
    if injection.text.is_empty() {
        return None;
    }
    let event_name = match (client, event) {
        (HookClient::ClaudeCode | HookClient::Codex, Event::SessionStart) => "SessionStart",
        (HookClient::ClaudeCode | HookClient::Codex, Event::PromptSubmit) => "UserPromptSubmit",
        (HookClient::Gemini, Event::SessionStart) => "SessionStart",
        (HookClient::Gemini, Event::PromptSubmit) => "BeforeAgent",
    };
    let output = serde_json::json!({
        "hookSpecificOutput": {
            "hookEventName": event_name,
            "additionalContext": injection.text,
        }
    });
    Some(format!("{output}\n"))
}
