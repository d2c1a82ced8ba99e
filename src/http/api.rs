//! The dashboard's JSON API and its event stream (SSE). Every route parses, calls one
//! [`Dashboard`] function and renders; mutating routes need the bearer token.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post, put};
use futures_util::{Stream, StreamExt as _};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::dashboard::{
    Dashboard, DashboardError, ErrorKind, ErrorReply, ListParams, MemoryDraft, MemoryEdit,
    SearchParams, WatchEdit,
};
use crate::pool::Pool;
use serde::Deserialize;

/// An engine error as the browser sees it: `{kind, message}` with a fitting status.
#[derive(Debug)]
pub struct ApiError(DashboardError);

impl From<DashboardError> for ApiError {
    fn from(err: DashboardError) -> Self {
        Self(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(ErrorReply::from(&self.0))).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

/// Read-only routes: open to same-origin pages on loopback. Event streams end when `closing`
/// fires, so a stopping owner need not wait for open pages (they reconnect to the next one).
pub fn reads(pool: Arc<Pool>, closing: CancellationToken) -> Router {
    Router::new()
        .route("/api/projects", get(projects))
        .route("/api/projects/{project}/status", get(status))
        .route("/api/projects/{project}/memories", get(list))
        .route("/api/projects/{project}/search", get(search))
        .route("/api/projects/{project}/watch", get(watch_config))
        .route("/api/projects/{project}/memories/{id}/chain", get(chain))
        .route("/api/projects/{project}/timeline", get(timeline))
        .route("/api/events/recent", get(recent))
        .route("/api/activity", get(activity))
        .with_state(Dashboard::new(Arc::clone(&pool)))
        .route("/api/events", get(events).with_state((pool, closing)))
}

/// Mutating routes: the caller wraps them in the token check.
pub fn writes(pool: Arc<Pool>) -> Router {
    Router::new()
        .route("/api/projects/{project}/memories", post(store))
        .route("/api/projects/{project}/memories/{id}", delete(remove).put(edit))
        .route("/api/projects/{project}/reindex", post(reindex))
        .route("/api/projects/{project}/watch", put(configure))
        .route("/api/projects/{project}/delete-selected", post(delete_selected))
        .route("/api/projects/{project}/delete-matching", post(delete_matching))
        .with_state(Dashboard::new(pool))
}

async fn projects(State(dashboard): State<Dashboard>) -> ApiResult {
    ok(dashboard.projects().await?)
}

async fn status(State(dashboard): State<Dashboard>, Path(project): Path<String>) -> ApiResult {
    ok(dashboard.status(&project).await?)
}

async fn list(
    State(dashboard): State<Dashboard>,
    Path(project): Path<String>,
    Query(params): Query<ListParams>,
) -> ApiResult {
    ok(dashboard.memories(&project, params).await?)
}

async fn search(
    State(dashboard): State<Dashboard>,
    Path(project): Path<String>,
    Query(params): Query<SearchParams>,
) -> ApiResult {
    ok(dashboard.search(&project, params).await?)
}

async fn recent(State(dashboard): State<Dashboard>) -> ApiResult {
    ok(dashboard.recent_events())
}

async fn activity(State(dashboard): State<Dashboard>) -> ApiResult {
    ok(dashboard.activity())
}

/// Live events. A subscriber that falls behind gets a `lagged` event with how many it missed
/// (so the page knows to reload), never a silent gap and never a fake keepalive.
async fn events(
    State((pool, closing)): State<(Arc<Pool>, CancellationToken)>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let receiver = pool.events().subscribe();
    // A first `ready` event tells the page the stream is live (and from which sequence number
    // on), so it can reload what it may have missed before subscribing.
    let last_seq = pool.events().recent().last().map_or(0, |e| e.seq);
    let ready =
        SseEvent::default().event("ready").data(json!({ "after_seq": last_seq }).to_string());
    let live = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(event) => {
                let data = serde_json::to_string(&event).unwrap_or_default();
                SseEvent::default().event(event.kind.as_str()).id(event.seq.to_string()).data(data)
            }
            Err(RecvError::Lagged(missed)) => {
                SseEvent::default().event("lagged").data(missed.to_string())
            }
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), receiver))
    });
    let stream = futures_util::stream::once(async move { Ok(ready) })
        .chain(live)
        .take_until(closing.cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn store(
    State(dashboard): State<Dashboard>,
    Path(project): Path<String>,
    Json(draft): Json<MemoryDraft>,
) -> ApiResult {
    let outcome = dashboard.create(&project, draft).await?;
    Ok((StatusCode::CREATED, Json(outcome)).into_response())
}

async fn edit(
    State(dashboard): State<Dashboard>,
    Path((project, id)): Path<(String, String)>,
    Json(changes): Json<MemoryEdit>,
) -> ApiResult {
    ok(dashboard.edit(&project, &id, changes).await?)
}

async fn remove(
    State(dashboard): State<Dashboard>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    dashboard.delete(&project, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reindex(State(dashboard): State<Dashboard>, Path(project): Path<String>) -> ApiResult {
    dashboard.reindex(&project).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn watch_config(
    State(dashboard): State<Dashboard>,
    Path(project): Path<String>,
) -> ApiResult {
    ok(dashboard.watch_config(&project))
}

async fn configure(
    State(dashboard): State<Dashboard>,
    Path(project): Path<String>,
    Json(edit): Json<WatchEdit>,
) -> ApiResult {
    ok(dashboard.configure(&project, edit).await?)
}

async fn chain(
    State(dashboard): State<Dashboard>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    ok(dashboard.chain(&project, &id).await?)
}

async fn timeline(State(dashboard): State<Dashboard>, Path(project): Path<String>) -> ApiResult {
    ok(dashboard.timeline(&project).await?)
}

#[derive(Debug, Deserialize)]
struct Selection {
    ids: Vec<String>,
}

async fn delete_selected(
    State(dashboard): State<Dashboard>,
    Path(project): Path<String>,
    Json(selection): Json<Selection>,
) -> ApiResult {
    ok(dashboard.delete_selected(&project, selection.ids).await?)
}

#[derive(Debug, Deserialize)]
struct Matching {
    filter: ListParams,
    expected: usize,
}

async fn delete_matching(
    State(dashboard): State<Dashboard>,
    Path(project): Path<String>,
    Json(matching): Json<Matching>,
) -> ApiResult {
    ok(dashboard.delete_matching(&project, matching.filter, matching.expected).await?)
}
