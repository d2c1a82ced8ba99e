//! `annal import`: sends a JSONL file (or stdin) to the owner as it is read; the owner
//! validates, embeds and stores it (`transfer::import`), telling how far it has come, and
//! answers what it did.
//!
//! The progress has two stages because the HTTP client reads no answer before it has sent
//! the whole body: while sending, the bar counts the bytes sent (the owner reads as fast as
//! it stores, so for a big file that is its progress, a few MiB of buffers ahead); then it
//! counts the bytes the owner has stored, from its answer.

use std::io::{BufRead as _, BufReader, Read, Write};
use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::owner_client::{OwnerClient, Streamed};
use super::progress::{Progress, Unit};
use crate::http::transfer::ImportMessage;
use crate::sidecar::Launch;
use crate::transfer::{ImportReport, UNTAGGED};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Store every line in this project. Without it, lines that name their project (an export
    /// of all projects) go there, the rest to the current directory's basename.
    #[arg(long)]
    project: Option<String>,
    /// Overwrite memories whose id exists (they are skipped otherwise).
    #[arg(long)]
    replace: bool,
    /// Store everything in one transaction: on any failure nothing is stored.
    #[arg(long)]
    all_or_nothing: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The JSONL file, or `-` for stdin.
    #[arg(value_name = "FILE|-")]
    file: PathBuf,
}

/// Counts what the upload has read, for the progress bar.
struct Counted<'a> {
    inner: Box<dyn Read + 'a>,
    progress: &'a mut Progress,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }
}

/// Follows the owner's answer to its last line: the report, or the failure as the error.
fn follow(response: &mut Streamed, progress: &mut Progress) -> anyhow::Result<ImportReport> {
    let body = response.body_mut().with_config().limit(u64::MAX).reader();
    for line in BufReader::new(body).lines() {
        let line = line.context("reading the owner's answer")?;
        match serde_json::from_str(&line).context("the owner's answer")? {
            ImportMessage::Progress(at) => progress.set(at.bytes),
            ImportMessage::Done(report) => return Ok(report),
            ImportMessage::Failed(failure) => bail!(failure.message),
        }
    }
    bail!("the owner stopped before the import ended")
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let (input, size): (Box<dyn Read>, Option<u64>) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::new(file)), size)
    };
    let project = super::project_or_cwd(args.project.clone())?;
    let mut query = vec![];
    match &args.project {
        Some(_) => query.push(("project", project.as_str())),
        None => query.push(("default_project", project.as_str())),
    }
    if args.replace {
        query.push(("replace", "true"));
    }
    if args.all_or_nothing {
        query.push(("all_or_nothing", "true"));
    }
    let client = OwnerClient::connect(launch)?;
    let mut progress = Progress::new("import: sending", Unit::Bytes, size);
    let sent = {
        let mut body = Counted { inner: input, progress: &mut progress };
        client.upload("/api/import", &query, &mut body)
    };
    let report = sent.and_then(|mut response| {
        progress.stage("import: storing");
        follow(&mut response, &mut progress)
    });
    progress.finish();
    let report = report?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        let c = report.counts;
        let into = if report.projects.is_empty() {
            "no project".to_owned()
        } else {
            report.projects.join(", ")
        };
        write!(
            out,
            "{} lines: {} stored, {} replaced, {} skipped (id exists) in {into}",
            report.lines, c.stored, c.replaced, c.skipped
        )?;
        if report.untagged > 0 {
            write!(out, "; {} had no tags and were tagged \"{UNTAGGED}\"", report.untagged)?;
        }
        if report.redacted > 0 {
            write!(out, "; {} had secrets taken out ([redacted:<kind>])", report.redacted)?;
        }
        if report.empty > 0 {
            write!(out, "; {} with empty text left out", report.empty)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
