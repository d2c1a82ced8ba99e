//! The HTTP adapter on `127.0.0.1:<port>`: MCP over streamable HTTP at `/mcp`, the
//! dashboard's JSON API and event stream under `/api`.
//!
//! Loopback only; `Host` must be this server's loopback address (against DNS rebinding) and a
//! browser `Origin` must be this server's own; every route but the sign-in page needs a
//! credential (`auth`).

mod activity;
pub mod api;
pub mod auth;
mod check;
pub mod hooks;
pub mod owner_status;
pub mod transfer;
pub mod ui;

pub use activity::Activity;
pub use auth::Auth;
pub use owner_status::{OwnerInfo, OwnerStatus};

use std::net::SocketAddr;
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
        Ok(token) if !token.trim().is_empty() => {
            crate::private_files::tighten(&path, crate::private_files::FILE_MODE)?;
            return Ok(token.trim().to_owned());
        }
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    crate::private_files::write(&path, token.as_bytes())?;
    Ok(token)
}

/// Lets a request through only with a credential (bearer token or session cookie).
async fn require_credential(
    State(auth): State<Arc<Auth>>,
    request: Request,
    next: Next,
) -> Response {
    if auth.allows(request.headers()) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "sign in first: `annal dashboard` prints a sign-in URL; API clients send \
             Authorization: Bearer <the http-token file in the data dir>\n",
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

/// Binds the loopback HTTP port. Only loopback addresses are accepted.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

/// Serves MCP, the dashboard and its API, export and import, and the owner's own facts
/// (`owner`) on `listener` until `cancel` fires, recording client requests in `activity`.
pub async fn serve(
    pool: Arc<Pool>,
    listener: TcpListener,
    token: String,
    activity: Arc<Activity>,
    owner: Arc<OwnerInfo>,
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
    let auth = Arc::new(Auth::new(token, port));
    // Bodies are checked before rmcp parses them (and after the credential check).
    let mcp = Router::new().fallback_service(service).layer(middleware::from_fn(check::mcp_body));
    let guarded = Router::new()
        .nest_service("/mcp", mcp)
        .merge(transfer::routes(Arc::clone(&pool_for_api)))
        .merge(hooks::routes(Arc::clone(&pool_for_api)))
        .merge(owner_status::routes(Arc::clone(&pool_for_api), owner, port))
        .merge(api::routes(pool_for_api, cancel.clone()))
        .merge(ui::assets())
        .layer(middleware::from_fn_with_state(Arc::clone(&auth), require_credential));
    let app = Router::new()
        .merge(guarded)
        .merge(ui::sign_in(auth))
        .layer(middleware::from_fn_with_state(activity, activity::track))
        .layer(middleware::from_fn_with_state(port, same_origin));
    axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await
}
