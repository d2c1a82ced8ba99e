//! `annal index PROJECT`: starts a full re-index and follows its events (the owner's
//! `/api/events` stream) to the end. Exits non-zero when the run fails.

use std::io::{BufRead as _, BufReader, Write};

use anyhow::{Context as _, bail};

use super::owner_client::OwnerClient;
use super::progress::{Progress, Unit};
use crate::events::{Event, EventDetail, IndexCompleted};
use crate::sidecar::Launch;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project to re-index (one with watch paths, see `init_project`).
    project: String,
    /// Print the final event as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = super::project(args.project)?;
    let client = OwnerClient::connect(launch)?;
    // Subscribed before the run starts, so none of its events can be missed.
    let mut response = client.stream("/api/events", &[])?;
    let mut events = BufReader::new(response.body_mut().with_config().limit(u64::MAX).reader());
    let mut line = String::new();
    let mut kind = String::new();
    let mut started = false;
    let mut progress = None;
    loop {
        line.clear();
        if events.read_line(&mut line).context("reading the owner's events")? == 0 {
            bail!("the owner stopped before indexing {} ended", project);
        }
        let line = line.trim_end();
        if let Some(name) = line.strip_prefix("event:") {
            kind = name.trim().to_owned();
            continue;
        }
        let Some(data) = line.strip_prefix("data:") else { continue };
        if kind == "ready" && !started {
            client.post_empty(&format!("/api/projects/{}/reindex", project))?;
            started = true;
            progress = Some(Progress::new(&format!("indexing {}", project), Unit::Files, None));
            continue;
        }
        if kind == "lagged" {
            continue;
        }
        let Ok(event) = serde_json::from_str::<Event>(data.trim()) else { continue };
        if event.project != project {
            continue;
        }
        match &event.detail {
            EventDetail::IndexProgress { files_done } => {
                if let Some(progress) = &mut progress {
                    progress.set(*files_done as u64);
                }
            }
            EventDetail::IndexComplete(done) => {
                if let Some(progress) = progress.take() {
                    progress.finish();
                }
                if args.json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&event)?)?;
                } else if let IndexCompleted::Reconciled(report) = done {
                    writeln!(
                        out,
                        "indexed {}: {} files seen, {} indexed, {} unchanged, {} removed; {} \
                         chunks embedded; {} skipped; {} ms",
                        project,
                        report.files_seen,
                        report.files_indexed,
                        report.files_unchanged,
                        report.files_removed,
                        report.chunks_embedded,
                        report.skipped.len(),
                        report.duration_ms
                    )?;
                } else {
                    writeln!(out, "indexed {}", project)?;
                }
                return Ok(());
            }
            EventDetail::IndexFailed { error } => {
                if let Some(progress) = progress.take() {
                    progress.finish();
                }
                bail!("indexing {} failed: {error}", project);
            }
            _ => {}
        }
    }
}
