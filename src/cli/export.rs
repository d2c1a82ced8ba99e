//! `annal export`: JSONL of one project (or all, each line with a `project` key) to stdout or
//! a file, streamed from the owner as it reads.

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::owner_client::OwnerClient;
use super::progress::{Progress, Unit};
use crate::http::transfer::TOTAL_HEADER;
use crate::sidecar::Launch;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project to export.
    #[arg(long, conflicts_with = "all", required_unless_present = "all")]
    project: Option<String>,
    /// Every project into one file; each line then names its project (`"project": …`).
    #[arg(long)]
    all: bool,
    /// Write here instead of stdout (created 0600; replaced only once the export is whole).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(launch: &Launch, args: Args, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let project = args.project.map(super::project).transpose()?;
    let client = OwnerClient::connect(launch)?;
    let query = match &project {
        Some(project) => vec![("project", project.as_str())],
        None => vec![("all", "true")],
    };
    let mut response = client.stream("/api/export", &query)?;
    let total = response
        .headers()
        .get(TOTAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut progress = Progress::new("export", Unit::Memories, total);
    let mut copy = |out: &mut dyn Write| -> anyhow::Result<u64> {
        let mut buf = vec![0; 64 * 1024];
        let mut lines = 0;
        loop {
            let n = body.read(&mut buf).context("reading the export from the owner")?;
            if n == 0 {
                return Ok(lines);
            }
            out.write_all(&buf[..n])?;
            let newlines = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            lines += newlines;
            progress.add(newlines);
        }
    };
    let lines = match &args.out {
        None => {
            let lines = copy(stdout)?;
            stdout.flush()?;
            lines
        }
        Some(path) => write_whole(path, &mut copy)?,
    };
    progress.finish();
    if let Some(path) = &args.out {
        eprintln!("exported {lines} memories to {}", path.display());
    }
    Ok(())
}

/// Writes through a temp file beside `path`, renamed over it only when `write` succeeds, so a
/// failed export never leaves a truncated file that looks whole.
fn write_whole(
    path: &Path,
    write: &mut dyn FnMut(&mut dyn Write) -> anyhow::Result<u64>,
) -> anyhow::Result<u64> {
    let name =
        path.file_name().with_context(|| format!("{} is not a file name", path.display()))?;
    let mut partial = name.to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let temp = path.with_file_name(partial);
    let written = (|| -> anyhow::Result<u64> {
        let file = crate::private_files::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .with_context(|| format!("creating {}", temp.display()))?;
        let mut out = std::io::BufWriter::new(file);
        let lines = write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(lines)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}
