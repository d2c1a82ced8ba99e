//! One MCP session on the owner's socket. Between the socket and rmcp sits a relay that checks
//! every line ([`crate::jsonrpc::check`]) and answers what rmcp could not serve itself, so a
//! client that connects to the socket directly gets the same answers as one behind the
//! sidecar. The sidecar's first line, its hello, tells the session the agent's working
//! directory; it is consumed here and never reaches rmcp.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rmcp::ServiceExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, DuplexStream};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::jsonrpc::{self, Collected, LineReader, Verdict};
use crate::mcp::AnnalServer;
use crate::pool::Pool;

const HELLO_METHOD: &str = "annal/hello";
/// Bytes in flight between the relay and rmcp in each direction.
const PIPE: usize = 64 * 1024;

/// The line a sidecar sends first on every connection. A notification with a method rmcp does
/// not know, so an owner that predates it ignores it.
pub fn hello_line(cwd: Option<&Path>) -> String {
    let cwd = cwd.and_then(Path::to_str);
    json!({"jsonrpc": "2.0", "method": HELLO_METHOD, "params": {"cwd": cwd}}).to_string()
}

/// `Some(working directory, if it was told)` when `line` is a sidecar's hello.
fn hello(line: &Collected) -> Option<Option<PathBuf>> {
    let Collected::Whole(line) = line else { return None };
    let message: Value = serde_json::from_slice(line).ok()?;
    if message.get("method")?.as_str()? != HELLO_METHOD || message.get("id").is_some() {
        return None;
    }
    let cwd = message.pointer("/params/cwd").and_then(Value::as_str).map(PathBuf::from);
    Some(cwd.filter(|cwd| cwd.is_absolute()))
}

/// Serves one connection until the client leaves or `end` fires (rmcp then answers the calls
/// in flight and closes).
pub async fn serve(stream: UnixStream, pool: Arc<Pool>, end: CancellationToken) {
    let (reader, writer) = stream.into_split();
    let mut lines = LineReader::new(reader);
    let first = tokio::select! {
        first = lines.next() => match first {
            Ok(Some(first)) => first,
            Ok(None) | Err(_) => return,
        },
        () = end.cancelled() => return,
    };
    let (cwd, first) = match hello(&first) {
        Some(cwd) => (cwd, None),
        None => (None, Some(first)),
    };
    let server = AnnalServer::new(pool, cwd);
    let (relay_side, mcp_side) = tokio::io::duplex(PIPE);
    let (from_mcp, to_mcp) = tokio::io::split(relay_side);
    let (refusals, refused) = mpsc::channel(16);
    let mcp = async move {
        match server.serve_with_ct(mcp_side, end).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            // A client that connects and leaves without a handshake (`annal dashboard`
            // making sure an owner runs) is not a failure.
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
                tracing::debug!("a client left before the MCP handshake");
            }
            Err(err) => tracing::warn!(%err, "MCP session failed to start"),
        }
    };
    let inbound = inbound(first, lines, to_mcp, refusals);
    let serving = async { tokio::join!(mcp, outbound(from_mcp, refused, writer)) };
    tokio::pin!(inbound, serving);
    tokio::select! {
        _ = &mut serving => {}
        () = &mut inbound => { serving.await; }
    }
}

/// Client → rmcp: lines it can serve go on, the others are answered through `refusals`. At
/// the client's end of input, rmcp's input ends too.
async fn inbound(
    mut first: Option<Collected>,
    mut lines: LineReader<OwnedReadHalf>,
    mut to_mcp: tokio::io::WriteHalf<DuplexStream>,
    refusals: mpsc::Sender<String>,
) {
    loop {
        let line = match first.take() {
            Some(line) => line,
            None => match lines.next().await {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => break,
            },
        };
        let line = match line {
            Collected::Whole(line) => line,
            Collected::Oversized(refusal) => {
                if refusals.send(refusal.to_json()).await.is_err() {
                    break;
                }
                continue;
            }
        };
        if jsonrpc::is_blank(&line) {
            continue;
        }
        match jsonrpc::check(&line) {
            Verdict::Serve => {
                let content = jsonrpc::content(&line);
                if to_mcp.write_all(content).await.is_err()
                    || to_mcp.write_all(b"\n").await.is_err()
                {
                    break;
                }
            }
            Verdict::Answer(refusal) => {
                if refusals.send(refusal.to_json()).await.is_err() {
                    break;
                }
            }
            Verdict::Ignore(refusal) => {
                tracing::debug!(message = %refusal.message, "dropped a notification rmcp cannot serve");
            }
        }
    }
    let _ = to_mcp.shutdown().await;
}

/// rmcp → client, with the relay's own answers between whole lines, until rmcp closes.
async fn outbound(
    from_mcp: tokio::io::ReadHalf<DuplexStream>,
    mut refused: mpsc::Receiver<String>,
    mut writer: OwnedWriteHalf,
) {
    let mut from_mcp = BufReader::new(from_mcp);
    // Kept across iterations: a read interrupted by a refusal resumes where it was.
    let mut line = Vec::new();
    loop {
        tokio::select! {
            read = from_mcp.read_until(b'\n', &mut line) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if writer.write_all(&line).await.is_err() {
                            break;
                        }
                        line.clear();
                    }
                }
            }
            Some(refusal) = refused.recv() => {
                let refusal = format!("{refusal}\n");
                if writer.write_all(refusal.as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    }
}
