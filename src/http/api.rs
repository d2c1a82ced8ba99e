//! The dashboard's JSON API and its event stream (SSE). Every route parses, calls one engine
//! function and renders; mutating routes need the bearer token.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post};
use futures_util::{Stream, StreamExt as _};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::memories::MemoryError;
use crate::memory::ChunkType;
use crate::pool::{Pool, PoolError};
use crate::search::{Mode, SearchError, SearchRequest};
use crate::store::{ListQuery, StoreError};

/// An engine error as the dashboard sees it: `{code, message}` with a fitting status.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "code": self.0.as_u16(), "message": self.1 });
        (self.0, Json(body)).into_response()
    }
}

fn store_status(err: &StoreError) -> StatusCode {
    match err {
        StoreError::NotFound { .. } | StoreError::UnknownProject { .. } => StatusCode::NOT_FOUND,
        StoreError::Invalid(_) | StoreError::NothingToUpdate | StoreError::SupersedeSelf { .. } => {
            StatusCode::BAD_REQUEST
        }
        StoreError::DuplicateId { .. } => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<MemoryError> for ApiError {
    fn from(err: MemoryError) -> Self {
        let status = match &err {
            MemoryError::Store(store) => store_status(store),
            MemoryError::Embed(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self(status, err.to_string())
    }
}

impl From<PoolError> for ApiError {
    fn from(err: PoolError) -> Self {
        let status = match &err {
            PoolError::Store(store) => store_status(store),
            PoolError::UnknownProject { .. } => StatusCode::NOT_FOUND,
            PoolError::AlreadyIndexing { .. } => StatusCode::CONFLICT,
            PoolError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self(status, err.to_string())
    }
}

impl From<SearchError> for ApiError {
    fn from(err: SearchError) -> Self {
        let status = match &err {
            SearchError::Store(store) => store_status(store),
            SearchError::UnknownProject { .. } => StatusCode::NOT_FOUND,
            SearchError::Embed(_) | SearchError::Worker(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self(status, err.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

/// Read-only routes: open to same-origin pages on loopback.
pub fn reads(pool: Arc<Pool>) -> Router {
    Router::new()
        .route("/api/projects", get(projects))
        .route("/api/projects/{project}/status", get(status))
        .route("/api/projects/{project}/memories", get(list))
        .route("/api/projects/{project}/search", get(search))
        .route("/api/events", get(events))
        .route("/api/events/recent", get(recent))
        .with_state(pool)
}

/// Mutating routes: the caller wraps them in the token check.
pub fn writes(pool: Arc<Pool>) -> Router {
    Router::new()
        .route("/api/projects/{project}/memories", post(store))
        .route("/api/projects/{project}/memories/{id}", delete(remove).put(edit))
        .route("/api/projects/{project}/reindex", post(reindex))
        .with_state(pool)
}

async fn projects(State(pool): State<Arc<Pool>>) -> ApiResult {
    ok(pool.overview().await?)
}

async fn status(State(pool): State<Arc<Pool>>, Path(project): Path<String>) -> ApiResult {
    ok(pool.index_status(&project).await?)
}

#[derive(Debug, Deserialize)]
struct ListParams {
    #[serde(rename = "type")]
    chunk_type: Option<String>,
    tag: Option<String>,
    source: Option<String>,
    #[serde(default)]
    include_superseded: bool,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn list(
    State(pool): State<Arc<Pool>>,
    Path(project): Path<String>,
    Query(params): Query<ListParams>,
) -> ApiResult {
    let chunk_type = match params.chunk_type.as_deref() {
        None | Some("") => None,
        Some(text) => Some(ChunkType::parse(text).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("type must be agent-memory or file-indexed, got {text:?}"),
            )
        })?),
    };
    let query = ListQuery {
        chunk_type,
        tag: params.tag.filter(|t| !t.is_empty()).map(|t| t.trim().to_lowercase()),
        source_prefix: params.source.filter(|s| !s.is_empty()),
        include_superseded: params.include_superseded,
        limit: params.limit.unwrap_or(50),
        offset: params.offset.unwrap_or(0),
    };
    ok(pool.memories().list(&project, query).await?)
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    query: String,
    mode: Option<String>,
    limit: Option<i64>,
    tags: Option<String>,
    projects: Option<String>,
    after: Option<String>,
    before: Option<String>,
    #[serde(default)]
    include_superseded: bool,
}

async fn search(
    State(pool): State<Arc<Pool>>,
    Path(project): Path<String>,
    Query(params): Query<SearchParams>,
) -> ApiResult {
    let split = |text: Option<String>| -> Option<Vec<String>> {
        text.filter(|t| !t.trim().is_empty()).map(|t| t.split(',').map(str::to_owned).collect())
    };
    let mut request = SearchRequest::new(project, params.query);
    request.mode = params.mode.as_deref().map(Mode::parse).transpose()?.unwrap_or(Mode::Summary);
    request.limit = params.limit.unwrap_or(20);
    request.tags = split(params.tags).unwrap_or_default();
    request.projects = split(params.projects);
    request.after = params.after;
    request.before = params.before;
    request.include_superseded = params.include_superseded;
    Ok(Json(pool.memories().search(request).await?.to_json()).into_response())
}

async fn recent(State(pool): State<Arc<Pool>>) -> ApiResult {
    ok(pool.events().recent())
}

/// Live events. A subscriber that falls behind gets a `lagged` event with how many it missed
/// (so the page knows to reload), never a silent gap and never a fake keepalive.
async fn events(
    State(pool): State<Arc<Pool>>,
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
    let stream = futures_util::stream::once(async move { Ok(ready) }).chain(live);
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Debug, Deserialize)]
struct NewMemory {
    content: String,
    tags: Vec<String>,
    source: Option<String>,
    supersedes: Option<String>,
}

async fn store(
    State(pool): State<Arc<Pool>>,
    Path(project): Path<String>,
    Json(body): Json<NewMemory>,
) -> ApiResult {
    let outcome = pool
        .memories()
        .remember(&project, body.content, body.tags, body.source, body.supersedes)
        .await?;
    Ok((StatusCode::CREATED, Json(outcome)).into_response())
}

#[derive(Debug, Deserialize)]
struct MemoryEdit {
    content: Option<String>,
    tags: Option<Vec<String>>,
    source: Option<String>,
}

async fn edit(
    State(pool): State<Arc<Pool>>,
    Path((project, id)): Path<(String, String)>,
    Json(body): Json<MemoryEdit>,
) -> ApiResult {
    ok(pool.memories().update(&project, &id, body.content, body.tags, body.source).await?)
}

async fn remove(
    State(pool): State<Arc<Pool>>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    pool.memories().delete(&project, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reindex(State(pool): State<Arc<Pool>>, Path(project): Path<String>) -> ApiResult {
    pool.index_files(&project).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
