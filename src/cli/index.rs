//! `annal index PROJECT`: starts a full re-index and follows its events (the owner's
//! `/api/events` stream) to the end. Exits non-zero when the run fails.

use std::io::{BufRead as _, BufReader, Write};

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::owner_client::OwnerClient;
use super::progress::{Progress, Unit};
use crate::events::{EventDetail, IndexCompleted};
use crate::index::ReconcileReport;
use crate::pool::{IndexState, IndexStatus};
use crate::sidecar::Launch;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project to re-index (one with watch paths, see `init_project`).
    project: String,
    /// Print how the run ended as JSON.
    #[arg(long)]
    json: bool,
}

/// How the run ended, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Ended<'a> {
    project: &'a str,
    report: Option<&'a ReconcileReport>,
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = super::project(args.project)?;
    let client = OwnerClient::connect(launch)?;
    // Subscribed before the run starts, so none of its events can be missed.
    let mut response = client.stream("/api/events", &[])?;
    let mut events = BufReader::new(response.body_mut().with_config().limit(u64::MAX).reader());
    let mut line = String::new();
    let mut kind = String::new();
    let mut progress: Option<Progress> = None;
    // Events of a run that ended just before ours started are not ours: ours begins with the
    // first `index_started` after the request.
    let mut ours = false;
    let report = loop {
        line.clear();
        if events.read_line(&mut line).context("reading the owner's events")? == 0 {
            bail!("the owner stopped before indexing {project} ended");
        }
        let line = line.trim_end();
        if let Some(name) = line.strip_prefix("event:") {
            kind = name.trim().to_owned();
            continue;
        }
        let Some(data) = line.strip_prefix("data:") else { continue };
        match (kind.as_str(), &progress) {
            ("ready", None) => {
                client.post_empty(&format!("/api/projects/{project}/reindex"))?;
                progress = Some(Progress::new(&format!("indexing {project}"), Unit::Files, None));
                continue;
            }
            // Events were missed (the stream fell behind): ask where the run stands. The
            // request set the state to indexing, so idle means it has ended.
            ("lagged", Some(_)) => {
                let status: IndexStatus =
                    client.get(&format!("/api/projects/{project}/status"), &[])?;
                match status.index {
                    IndexState::Indexing { .. } => ours = true,
                    IndexState::Idle => break status.last_reconcile.map(|last| last.report),
                    IndexState::Failed { error, .. } => bail!("indexing {project} failed: {error}"),
                }
                continue;
            }
            _ => {}
        }
        let Ok(event) = serde_json::from_str::<crate::events::Event>(data.trim()) else {
            continue;
        };
        if event.project != project {
            continue;
        }
        ours |= matches!(event.detail, EventDetail::IndexStarted {});
        match event.detail {
            _ if !ours => {}
            EventDetail::IndexProgress { files_done } => {
                if let Some(progress) = &mut progress {
                    progress.set(files_done as u64);
                }
            }
            EventDetail::IndexComplete(IndexCompleted::Reconciled(report)) => break Some(report),
            EventDetail::IndexComplete(IndexCompleted::ChangedFiles {}) => break None,
            EventDetail::IndexFailed { error } => {
                if let Some(progress) = progress.take() {
                    progress.finish();
                }
                bail!("indexing {project} failed: {error}");
            }
            _ => {}
        }
    };
    if let Some(progress) = progress.take() {
        progress.finish();
    }
    if args.json {
        let ended = Ended { project: &project, report: report.as_ref() };
        writeln!(out, "{}", serde_json::to_string_pretty(&ended)?)?;
    } else if let Some(report) = report {
        writeln!(
            out,
            "indexed {project}: {} files seen, {} indexed, {} unchanged, {} removed; {} chunks \
             embedded; {} skipped; {} ms",
            report.files_seen,
            report.files_indexed,
            report.files_unchanged,
            report.files_removed,
            report.chunks_embedded,
            report.skipped.len(),
            report.duration_ms
        )?;
    } else {
        writeln!(out, "indexed {project}")?;
    }
    Ok(())
}
