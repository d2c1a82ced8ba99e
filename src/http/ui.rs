//! Serves the dashboard, built into the binary from `ui/dist` (so an installed `annal` needs no
//! files beside it), and the sign-in step in front of it: `/login?code=…` trades a one-time
//! code for a session cookie (HttpOnly, SameSite=Strict), and `/` without one explains how to
//! get a sign-in URL. The page carries no credential; the cookie does.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::Auth;
use rust_embed::RustEmbed;

/// The dashboard as Vite built it. A compile error naming this folder means the dashboard is
/// not built yet: `scripts/run` and `scripts/test` build it, or run `npm ci && npm run build`
/// in `ui/`. Rebuilding it rebuilds this crate (the files are `include_bytes!`-tracked).
#[derive(RustEmbed)]
#[folder = "ui/dist"]
struct Dashboard;

/// The page for a browser that is not signed in: how to get in, and no credential.
const SIGN_IN_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\">\
<title>Annal: sign in</title></head><body style=\"font-family: sans-serif; max-width: 40em; \
margin: 4em auto\"><h1>Annal</h1><p>MESSAGE</p><p>Run <code>annal dashboard</code> in a \
terminal (or choose <em>Open dashboard in browser</em> in the tray menu): it opens a sign-in \
link that works once. This server is reachable by every account on this machine, so it only \
shows your memories to a signed-in browser.</p></body></html>";

fn sign_in_page(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        SIGN_IN_PAGE.replace("MESSAGE", message),
    )
        .into_response()
}

async fn index(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    if !auth.allows(&headers) {
        return sign_in_page("You are not signed in.");
    }
    let Some(page) = Dashboard::get("index.html") else {
        let text = "This build of annal has no dashboard: `ui/dist` was empty when it was \
                    compiled. Build it with `npm ci && npm run build` in ui/, then rebuild.\n";
        return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        page.data,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct SignIn {
    code: Option<String>,
}

/// Trades a one-time code for a session cookie and sends the browser to the dashboard, so the
/// code does not stay in the address bar or the history.
async fn login(State(auth): State<Arc<Auth>>, Query(sign_in): Query<SignIn>) -> Response {
    match sign_in.code.as_deref().and_then(|code| auth.redeem(code)) {
        Some(cookie) => (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, cookie),
                (header::LOCATION, "/".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response(),
        None => sign_in_page("This sign-in link is not valid: it was used already or has expired."),
    }
}

/// Vite names assets by content hash, so a browser may keep them forever.
async fn asset(Path(name): Path<String>) -> Response {
    match Dashboard::get(&format!("assets/{name}")) {
        Some(file) => (
            [
                (header::CONTENT_TYPE, file.metadata.mimetype().to_owned()),
                (header::CACHE_CONTROL, "private, max-age=31536000, immutable".to_owned()),
            ],
            file.data,
        )
            .into_response(),
        None => {
            (StatusCode::NOT_FOUND, format!("no dashboard asset named {name}\n")).into_response()
        }
    }
}

/// `/assets/*`: the caller puts them behind the credential check.
pub fn assets() -> Router {
    Router::new().route("/assets/{*name}", get(asset))
}

/// `/` (the dashboard, or how to sign in) and `/login`.
pub fn sign_in(auth: Arc<Auth>) -> Router {
    Router::new().route("/", get(index)).route("/login", get(login)).with_state(auth)
}
