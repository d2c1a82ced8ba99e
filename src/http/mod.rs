//! The HTTP adapter on `127.0.0.1:<port>`: MCP over streamable HTTP at `/mcp`, the
//! dashboard's JSON API and event stream under `/api`.
//!
//! Loopback only; `Host` must be this server's loopback address (against DNS rebinding) and a
//! browser `Origin` must be this server's own; MCP and every mutating route need the bearer
//! token kept in the data dir.

mod activity;
pub mod api;
mod check;
pub mod ui;

pub use activity::Activity;

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::mcp::AnnalServer;
use crate::pool::Pool;

pub const TOKEN_FILE: &str = "http-token";
/// Where the owner writes the address it listens on (useful when the port is 0).
pub const ADDRESS_FILE: &str = "http-address";

/// The bearer token in `<data_dir>/http-token` (0600), created on first use.
pub fn token(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    std::io::Write::write_all(&mut file, token.as_bytes())?;
    file.sync_all()?;
    Ok(token)
}

async fn require_token(State(token): State<Arc<String>>, request: Request, next: Next) -> Response {
    let expected = format!("Bearer {token}");
    let given =
        request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if same_bytes(given, expected.as_bytes()) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (see http-token in the data dir)\n",
        )
            .into_response()
    }
}

/// Refuses requests whose `Host` is not this server's loopback address (DNS rebinding) or
/// whose `Origin`, when a browser sends one, is another site.
async fn same_origin(State(port): State<u16>, request: Request, next: Next) -> Response {
    let allowed =
        [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok());
    if !host.is_some_and(|h| allowed.iter().any(|a| a == h)) {
        return (StatusCode::FORBIDDEN, "Host must be this server's loopback address\n")
            .into_response();
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !allowed.iter().any(|a| origin == format!("http://{a}")) {
            return (StatusCode::FORBIDDEN, "cross-origin requests are refused\n").into_response();
        }
    }
    next.run(request).await
}

/// Compares without returning early, so response timing does not reveal how much of a
/// guessed token was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Binds the loopback HTTP port. Only loopback addresses are accepted.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

/// Serves MCP, the dashboard and its API on `listener` until `cancel` fires, recording client
/// requests in `activity`.
pub async fn serve(
    pool: Arc<Pool>,
    listener: TcpListener,
    token: String,
    activity: Arc<Activity>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let mut config = StreamableHttpServerConfig::default();
    config.allowed_origins =
        vec![format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")];
    config.cancellation_token = cancel.child_token();
    config.max_request_body_bytes = crate::jsonrpc::MAX_MESSAGE_BYTES;
    let pool_for_api = Arc::clone(&pool);
    let service = StreamableHttpService::new(
        // MCP over HTTP has no working directory: relative watch paths are refused.
        move || Ok(AnnalServer::new(Arc::clone(&pool), None)),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    // Bodies are checked before rmcp parses them.
    let mcp = Router::new().fallback_service(service).layer(middleware::from_fn(check::mcp_body));
    let token = Arc::new(token);
    let guarded = Router::new()
        .nest_service("/mcp", mcp)
        .merge(api::writes(Arc::clone(&pool_for_api)))
        .layer(middleware::from_fn_with_state(Arc::clone(&token), require_token));
    let app = Router::new()
        .merge(guarded)
        .merge(api::reads(pool_for_api, cancel.clone()))
        .merge(ui::routes(Arc::clone(&token)))
        .layer(middleware::from_fn_with_state(activity, activity::track))
        .layer(middleware::from_fn_with_state(port, same_origin));
    axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await
}
