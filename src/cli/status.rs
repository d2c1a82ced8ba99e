//! `annal status`: the owner (pid, role, uptime, socket, HTTP port, sessions, model) and each
//! project's counts and indexing state.

use std::io::Write;

use serde::Serialize;

use super::owner_client::OwnerClient;
use crate::http::OwnerStatus;
use crate::pool::{IndexState, IndexStatus};
use crate::sidecar::Launch;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Status {
    /// Whether this command had to start the owner (none was running).
    started_owner: bool,
    owner: OwnerStatus,
    projects: Vec<IndexStatus>,
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = OwnerClient::connect(launch)?;
    let owner: OwnerStatus = client.get("/api/owner", &[])?;
    let projects: Vec<IndexStatus> = client.get("/api/projects", &[])?;
    let status = Status { started_owner: client.started, owner, projects };
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?;
        return Ok(());
    }
    let o = &status.owner;
    let running = if status.started_owner { "started now (none was running)" } else { "running" };
    writeln!(out, "owner:    {running}, pid {}, {}, up {}", o.pid, o.role, uptime(o.uptime_secs))?;
    writeln!(out, "socket:   {} ({} sessions connected)", o.socket, o.sessions)?;
    writeln!(out, "http:     127.0.0.1:{}", o.http_port)?;
    match (&o.model.dir, &o.model.error) {
        (Some(dir), _) => writeln!(out, "model:    {dir}")?,
        (None, error) => writeln!(out, "model:    {}", error.as_deref().unwrap_or("not found"))?,
    }
    writeln!(out, "data:     {}", o.data_dir)?;
    if status.projects.is_empty() {
        writeln!(out, "projects: none yet")?;
    }
    for project in &status.projects {
        let s = &project.stats;
        writeln!(
            out,
            "{}: {} agent memories, {} file chunks, {} superseded, {} stale; {}",
            project.project,
            s.agent_memories,
            s.file_chunks,
            s.superseded,
            s.stale,
            index_state(&project.index)
        )?;
    }
    Ok(())
}

fn uptime(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

fn index_state(state: &IndexState) -> String {
    match state {
        IndexState::Idle => "index idle".to_owned(),
        IndexState::Indexing { started_at, files_done } => {
            format!("indexing since {started_at} ({files_done} files done)")
        }
        IndexState::Failed { at, error } => format!("indexing failed at {at}: {error}"),
    }
}
