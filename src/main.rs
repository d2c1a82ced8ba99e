//! The `annal` binary. Only the commands whose engine parts exist so far are here; the stdio
//! sidecar and `annal serve` arrive with the MCP issue.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use annal::config::{ConfigFile, PathInputs};
use annal::embed::{EmbedService, ModelSearch};

/// Local-first semantic memory for AI coding agents.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Config file to use instead of the default location.
    #[arg(long, global = true, env = "ANNAL_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show where the config, the data and the model are.
    Paths,
    /// Embedding model commands.
    #[command(subcommand)]
    Model(ModelCommand),
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Find the model, load it and embed one sentence.
    Check,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ANNAL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("annal: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = PathInputs::from_env(cli.config).resolve()?;
    let config = ConfigFile::load(paths.clone())?;
    let snapshot = config.snapshot();
    let data_dir = snapshot.data_dir(&paths);
    let search = ModelSearch::from_env(snapshot.model_dir.clone(), None, &data_dir);
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Paths => {
            writeln!(out, "config: {}", paths.config_file.display())?;
            writeln!(out, "data:   {}", data_dir.display())?;
            match search.locate() {
                Ok(dir) => writeln!(out, "model:  {}", dir.display())?,
                Err(err) => writeln!(out, "model:  {err}")?,
            }
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
