//! `POST /api/hooks/session-start` and `POST /api/hooks/prompt-submit`: what `annal hook`
//! asks for an agent client's hook. Each parses, calls one engine function and renders; a
//! failure is logged here (the hook itself prints nothing) and refused as `{kind, message}`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;

use super::transfer::{TransferError, status_of};
use crate::dashboard::ErrorKind;
use crate::hooks::{HookError, HookRequest, Injection};
use crate::pool::Pool;

pub const SESSION_START: &str = "/api/hooks/session-start";
pub const PROMPT_SUBMIT: &str = "/api/hooks/prompt-submit";

pub fn routes(pool: Arc<Pool>) -> Router {
    Router::new()
        .route(SESSION_START, post(session_start))
        .route(PROMPT_SUBMIT, post(prompt_submit))
        .with_state(pool)
}

async fn session_start(
    State(pool): State<Arc<Pool>>,
    Json(request): Json<HookRequest>,
) -> Response {
    render("session-start", &request, pool.hooks().session_start(&request).await)
}

async fn prompt_submit(
    State(pool): State<Arc<Pool>>,
    Json(request): Json<HookRequest>,
) -> Response {
    render("prompt-submit", &request, pool.hooks().prompt_submit(&request).await)
}

fn render(event: &str, request: &HookRequest, result: Result<Injection, HookError>) -> Response {
    match result {
        Ok(injection) => Json(injection).into_response(),
        Err(err) => {
            tracing::warn!(event, project = %crate::excerpt::excerpt(&request.project), %err, "hook injected nothing");
            let kind = match &err {
                HookError::Project(_) | HookError::Invalid(_) => ErrorKind::Invalid,
                HookError::Search(_) | HookError::Store(_) | HookError::Config(_) => {
                    ErrorKind::Internal
                }
            };
            let refusal = TransferError { kind, message: err.to_string(), done: None };
            (status_of(kind), Json(refusal)).into_response()
        }
    }
}
