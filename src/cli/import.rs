//! `annal import`: sends a JSONL file (or stdin) to the owner as it is read; the owner
//! validates, embeds and stores it (`transfer::import`) and answers what it did.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use super::owner_client::OwnerClient;
use super::progress::{Progress, Unit};
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
        if n == 0 && !buf.is_empty() {
            self.progress.message("import: all sent, the owner is storing the rest");
        }
        self.progress.add(n as u64);
        Ok(n)
    }
}

pub fn run(launch: &Launch, args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let (input, size): (Box<dyn Read>, Option<u64>) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(std::io::BufReader::new(file)), size)
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
    let mut progress = Progress::new("import", Unit::Bytes, size);
    let report: anyhow::Result<ImportReport> = {
        let mut body = Counted { inner: input, progress: &mut progress };
        client.upload("/api/import", &query, &mut body)
    };
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
        if report.empty > 0 {
            write!(out, "; {} with empty text left out", report.empty)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
