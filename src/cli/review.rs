//! `annal review`: the project's review inbox — memories whose files changed, possible
//! conflicts, near-duplicates, redactions — and what to do about an item (confirm, supersede,
//! merge, delete). Each action prints the inbox after it.

use std::io::Write;

use super::owner_client::OwnerClient;
use crate::memories::{Inbox, ReviewAction};
use crate::sidecar::Launch;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project (default: the current directory's basename).
    #[arg(long, global = true)]
    project: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// The item is fine as it is (a changed file's memory still holds; a pair or a
    /// redaction is acknowledged).
    Confirm { key: String },
    /// Of a pair, WINNER stays and supersedes the other.
    Supersede {
        key: String,
        #[arg(long)]
        winner: String,
    },
    /// A pair becomes one memory: WINNER keeps its text and takes the other's tags.
    Merge {
        key: String,
        #[arg(long)]
        winner: String,
    },
    /// Deletes a memory and every item about it.
    Delete { id: String },
}

impl From<Action> for ReviewAction {
    fn from(action: Action) -> Self {
        match action {
            Action::Confirm { key } => Self::Confirm { key },
            Action::Supersede { key, winner } => Self::Supersede { key, winner },
            Action::Merge { key, winner } => Self::Merge { key, winner },
            Action::Delete { id } => Self::Delete { id },
        }
    }
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = super::project_or_cwd(args.project)?;
    let client = OwnerClient::connect(launch)?;
    let path = format!("/api/projects/{project}/review");
    let inbox: Inbox = match args.action {
        None => client.get(&path, &[])?,
        Some(action) => client.post(&path, &ReviewAction::from(action))?,
    };
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&inbox)?)?;
        return Ok(());
    }
    if inbox.items.is_empty() {
        writeln!(out, "nothing to review in {project}")?;
        return Ok(());
    }
    writeln!(out, "{} to review in {project}:", inbox.items.len())?;
    for item in &inbox.items {
        writeln!(out, "\n{}  {}", item.key, item.reason)?;
        writeln!(out, "  {}  {}", item.memory.id, first_line(&item.memory.content))?;
        if let Some(other) = &item.other {
            writeln!(out, "  {}  {} (older)", other.id, first_line(&other.content))?;
        }
    }
    Ok(())
}

fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    match line.char_indices().nth(100) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}
