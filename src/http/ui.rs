//! Serves the dashboard's built files (`ui/dist`). The page gets the bearer token for its
//! mutating calls inside `index.html`: same-origin pages can read it, other sites cannot (no
//! CORS), and the Host check stops DNS rebinding.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

const TOKEN_PLACEHOLDER: &str = "%ANNAL_TOKEN%";

/// Where the built dashboard is: `ANNAL_UI_DIR`, else `ui/dist` of this source tree.
pub fn ui_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("ANNAL_UI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui").join("dist"));
    dir.join("index.html").is_file().then_some(dir)
}

#[derive(Clone)]
struct Page {
    dir: Option<PathBuf>,
    token: Arc<String>,
}

async fn index(State(page): State<Page>) -> Response {
    let Some(dir) = page.dir else {
        let text = "The dashboard is not built: run `npm ci && npm run build` in ui/.\n";
        return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
    };
    match tokio::fs::read_to_string(dir.join("index.html")).await {
        Ok(html) => {
            let html = html.replace(TOKEN_PLACEHOLDER, &page.token);
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                html,
            )
                .into_response()
        }
        Err(err) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read the dashboard: {err}\n"))
                .into_response()
        }
    }
}

/// `/` (with the token filled in) and `/assets/*`.
pub fn routes(dir: Option<PathBuf>, token: Arc<String>) -> Router {
    let mut router =
        Router::new().route("/", get(index)).with_state(Page { dir: dir.clone(), token });
    if let Some(dir) = dir {
        router = router.nest_service("/assets", ServeDir::new(dir.join("assets")));
    }
    router
}
