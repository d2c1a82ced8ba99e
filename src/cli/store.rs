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
    let reply: serde_json::Value =
        client.post(&format!("/api/projects/{project}/memories"), &draft)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&reply)?)?;
        return Ok(());
    }
    let outcome: StoreOutcome = serde_json::from_value(reply.clone())?;
    match outcome {
        StoreOutcome::Stored { id, similar, conflict } => {
            writeln!(out, "stored {id} in {project}")?;
            if let Some(similar) = similar {
                writeln!(out, "  similar to {} (score {:.2})", similar.id, similar.score)?;
            }
            if let Some(conflict) = conflict {
                writeln!(
                    out,
                    "  may contradict decision {} of {} (score {:.2}): {}\n  if it replaces \
                     that one, mark it superseded (update_memory supersedes, or the dashboard)",
                    conflict.id,
                    conflict.created_at.format("%Y-%m-%d"),
                    conflict.score,
                    conflict.first_line
                )?;
            }
        }
        StoreOutcome::Skipped { duplicate_of, score, .. } => {
            writeln!(out, "not stored: it repeats {duplicate_of} (score {score:.2})")?
        }
    }
    let redactions: Vec<Redacted> =
        serde_json::from_value(reply.get("redactions").cloned().unwrap_or_default())
            .unwrap_or_default();
    for r in redactions {
        let field = if r.field == "content" { String::new() } else { format!(" in {}", r.field) };
        writeln!(out, "  redacted a {} secret{field} at bytes {}..{}", r.kind, r.start, r.end)?;
    }
    Ok(())
}

/// A redaction as the reply carries it (the engine's type only serialises).
#[derive(Debug, serde::Deserialize)]
struct Redacted {
    field: String,
    kind: String,
    start: usize,
    end: usize,
}
