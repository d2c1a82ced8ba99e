//! `annal search QUERY`: the dashboard's search (hybrid, exact filters) from a terminal.

use std::io::Write;

use super::owner_client::OwnerClient;
use crate::dashboard::SearchReply;
use crate::sidecar::Launch;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to look for.
    query: String,
    /// The project to search (default: the current directory's basename).
    #[arg(long, conflicts_with = "all_projects")]
    project: Option<String>,
    /// Search every project.
    #[arg(long)]
    all_projects: bool,
    /// Only memories with one of these tags (comma-separated).
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// How many results at most.
    #[arg(long, default_value_t = 10)]
    limit: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = super::project_or_cwd(args.project)?;
    let client = OwnerClient::connect(launch)?;
    let (tags, limit) = (args.tags.join(","), args.limit.to_string());
    let mut query = vec![("query", args.query.as_str()), ("limit", limit.as_str())];
    if !tags.is_empty() {
        query.push(("tags", tags.as_str()));
    }
    if args.all_projects {
        query.push(("projects", "*"));
    }
    let path = format!("/api/projects/{project}/search");
    let reply: SearchReply = client.get(&path, &query)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&reply)?)?;
        return Ok(());
    }
    if reply.hits.is_empty() {
        writeln!(out, "no memories match")?;
    }
    for hit in &reply.hits {
        let m = &hit.memory;
        let date = m.created_at.format("%Y-%m-%d");
        let project = if args.all_projects { format!("{} ", m.project) } else { String::new() };
        writeln!(out, "{:.2}  {project}{date}  [{}]  {}", hit.score, m.tags.join(", "), m.id)?;
        for line in m.content.lines().take(3) {
            writeln!(out, "      {line}")?;
        }
    }
    Ok(())
}
