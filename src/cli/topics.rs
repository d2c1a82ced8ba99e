//! `annal topics`: a project's tags with how many live memories carry each.

use std::io::Write;

use super::owner_client::OwnerClient;
use crate::sidecar::Launch;
use crate::store::TagCount;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project (default: the current directory's basename).
    #[arg(long)]
    project: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = super::project_or_cwd(args.project)?;
    let client = OwnerClient::connect(launch)?;
    let topics: Vec<TagCount> = client.get(&format!("/api/projects/{project}/topics"), &[])?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&topics)?)?;
    } else if topics.is_empty() {
        writeln!(out, "no topics in {project} yet")?;
    } else {
        for topic in &topics {
            writeln!(out, "{:>6}  {}", topic.count, topic.tag)?;
        }
    }
    Ok(())
}
