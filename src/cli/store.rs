//! `annal store --tags a,b TEXT|-`: stores an agent memory (with the agents' duplicate check).

use std::io::{Read as _, Write};

use anyhow::Context as _;

use super::owner_client::OwnerClient;
use crate::dashboard::MemoryDraft;
use crate::sidecar::Launch;
use crate::store::StoreOutcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project (default: the current directory's basename).
    #[arg(long)]
    project: Option<String>,
    /// Tags, comma-separated (at least one).
    #[arg(long, value_delimiter = ',', required = true)]
    tags: Vec<String>,
    /// Where it came from.
    #[arg(long)]
    source: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
    /// The text to remember, or `-` to read it from stdin.
    #[arg(value_name = "TEXT|-")]
    text: String,
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = super::project_or_cwd(args.project)?;
    let content = if args.text == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading stdin")?;
        text
    } else {
        args.text
    };
    let client = OwnerClient::connect(launch)?;
    let draft = MemoryDraft { content, tags: args.tags, source: args.source, supersedes: None };
    let outcome: StoreOutcome =
        client.post(&format!("/api/projects/{project}/memories"), &draft)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&outcome)?)?;
        return Ok(());
    }
    match outcome {
        StoreOutcome::Stored { id, similar: None } => writeln!(out, "stored {id} in {project}")?,
        StoreOutcome::Stored { id, similar: Some(similar) } => writeln!(
            out,
            "stored {id} in {project} (similar to {}, score {:.2})",
            similar.id, similar.score
        )?,
        StoreOutcome::Skipped { duplicate_of, score, .. } => {
            writeln!(out, "not stored: it repeats {duplicate_of} (score {score:.2})")?
        }
    }
    Ok(())
}
