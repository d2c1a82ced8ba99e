//! `annal doctor`: renders the engine's checks, one line each, or as JSON.

use std::io::{BufRead as _, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use annal_engine::config::Paths;
use annal_engine::doctor::{self, Check, Setup, Verdict};

use crate::{http, owner};

/// Runs every check and prints the report; `Ok(false)` when a check failed (exit status 1).
pub fn run(paths: Paths, json: bool, out: &mut impl Write) -> anyhow::Result<bool> {
    let setup =
        Setup { paths, socket_for: owner::socket_path, answers, address_file: http::ADDRESS_FILE };
    let checks = doctor::diagnose(&setup);
    if json {
        serde_json::to_writer_pretty(&mut *out, &checks)?;
        writeln!(out)?;
    } else {
        for check in &checks {
            write_line(out, check)?;
        }
    }
    Ok(!doctor::failed(&checks))
}

fn write_line(out: &mut impl Write, check: &Check) -> std::io::Result<()> {
    let verdict = match check.verdict {
        Verdict::Ok => "ok  ",
        Verdict::Warn => "warn",
        Verdict::Fail => "FAIL",
    };
    writeln!(out, "{verdict}  {:<9} {}", check.name, check.detail)?;
    if let Some(fix) = &check.fix {
        writeln!(out, "      {:<9} fix: {fix}", "")?;
    }
    Ok(())
}

/// How long a live owner may take to answer a ping (it answers in microseconds when idle; an
/// indexing run does not hold up the session task).
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Says hello and pings, as a sidecar would; true if any reply comes back in time.
fn answers(socket: &Path) -> bool {
    let ping = || -> std::io::Result<bool> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(PING_TIMEOUT))?;
        stream.set_write_timeout(Some(PING_TIMEOUT))?;
        let ping = r#"{"jsonrpc":"2.0","id":"doctor","method":"ping"}"#;
        write!(stream, "{}\n{ping}\n", owner::hello_line(None))?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply)?;
        Ok(reply.contains("\"doctor\""))
    };
    ping().unwrap_or(false)
}
