//! Serves the dashboard, built into the binary from `ui/dist` (so an installed `annal` needs no
//! files beside it). The page gets the bearer token for its mutating calls inside
//! `index.html`: same-origin pages can read it, other sites cannot (no CORS), and the Host check
//! stops DNS rebinding.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

const TOKEN_PLACEHOLDER: &str = "%ANNAL_TOKEN%";

/// The dashboard as Vite built it. A compile error naming this folder means the dashboard is
/// not built yet: `scripts/run` and `scripts/test` build it, or run `npm ci && npm run build`
/// in `ui/`. Rebuilding it rebuilds this crate (the files are `include_bytes!`-tracked).
#[derive(RustEmbed)]
#[folder = "ui/dist"]
struct Dashboard;

async fn index(State(token): State<Arc<String>>) -> Response {
    let Some(page) = Dashboard::get("index.html") else {
        let text = "This build of annal has no dashboard: `ui/dist` was empty when it was \
                    compiled. Build it with `npm ci && npm run build` in ui/, then rebuild.\n";
        return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
    };
    let html = String::from_utf8_lossy(&page.data).replace(TOKEN_PLACEHOLDER, &token);
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        html,
    )
        .into_response()
}

/// Vite names assets by content hash, so a browser may keep them forever.
async fn asset(Path(name): Path<String>) -> Response {
    match Dashboard::get(&format!("assets/{name}")) {
        Some(file) => (
            [
                (header::CONTENT_TYPE, file.metadata.mimetype().to_owned()),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable".to_owned()),
            ],
            file.data,
        )
            .into_response(),
        None => {
            (StatusCode::NOT_FOUND, format!("no dashboard asset named {name}\n")).into_response()
        }
    }
}

/// `/` (with the token filled in) and `/assets/*`.
pub fn routes(token: Arc<String>) -> Router {
    Router::new().route("/", get(index)).with_state(token).route("/assets/{*name}", get(asset))
}
