//! Export and import over HTTP, for `annal export` / `annal import`: both stream, so neither
//! side ever holds a whole export. `GET /api/export?project=P` (or `?all=true`) answers JSONL
//! as the engine reads it, a page at a time, with the number of memories in
//! `x-annal-total`; `POST /api/import?…` reads its JSONL body line by line as the engine
//! consumes it and answers, as it goes, NDJSON [`ImportMessage`]s: progress after each batch,
//! then the report or the failure. Once the answer has begun its status is 200, so the last
//! line says how the import ended.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use futures_util::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use tokio_util::io::StreamReader;

use crate::dashboard::ErrorKind;
use crate::pool::Pool;
use crate::project::ProjectName;
use crate::store::StoreError;
use crate::transfer::{
    self, ImportError, ImportOptions, ImportProblem, ImportProgress, ImportReport, Scope, Target,
};

/// How long a failed import keeps reading the upload it will not use, so its answer arrives.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The header that carries how many memories an export holds.
pub const TOTAL_HEADER: &str = "x-annal-total";

/// A refusal: `{kind, message}` like the dashboard's, and for a failed import what it had
/// stored by then.
#[derive(Debug, Serialize, Deserialize)]
pub struct TransferError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<ImportReport>,
}

/// One line of the import's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMessage {
    Progress(ImportProgress),
    Done(ImportReport),
    Failed(TransferError),
}

impl ImportMessage {
    fn line(&self) -> String {
        // Plain data: serialising cannot fail.
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn refuse(kind: ErrorKind, message: String, done: Option<ImportReport>) -> Response {
    (status_of(kind), Json(TransferError { kind, message, done })).into_response()
}

fn store_kind(err: &StoreError) -> ErrorKind {
    match err {
        StoreError::UnknownProject { .. } => ErrorKind::NotFound,
        StoreError::IdTaken { .. } => ErrorKind::Conflict,
        StoreError::FileChanged { .. } | StoreError::Closed => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

fn project(name: &str) -> Result<ProjectName, Box<Response>> {
    ProjectName::parse(name.trim())
        .map_err(|err| Box::new(refuse(ErrorKind::Invalid, err.to_string(), None)))
}

pub fn routes(pool: Arc<Pool>) -> Router {
    Router::new()
        .route("/api/export", get(export))
        .route("/api/import", post(import))
        .with_state(pool)
}

#[derive(Debug, Deserialize)]
struct ExportQuery {
    project: Option<String>,
    #[serde(default)]
    all: bool,
}

async fn export(State(pool): State<Arc<Pool>>, Query(query): Query<ExportQuery>) -> Response {
    let scope = match (query.project, query.all) {
        (Some(name), false) => match project(&name) {
            Ok(name) => Scope::Project(name),
            Err(refusal) => return *refusal,
        },
        (None, true) => Scope::All,
        _ => {
            let message = "give either project=<name> or all=true".to_owned();
            return refuse(ErrorKind::Invalid, message, None);
        }
    };
    match transfer::export(pool.memories().store(), scope).await {
        Ok(export) => (
            [
                (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
                (header::HeaderName::from_static(TOTAL_HEADER), export.total.to_string()),
            ],
            Body::from_stream(export.chunks),
        )
            .into_response(),
        Err(err) => refuse(store_kind(&err), err.to_string(), None),
    }
}

#[derive(Debug, Deserialize)]
struct ImportQuery {
    /// Every line into this project.
    project: Option<String>,
    /// Lines without a `project` key go here (when `project` is not given).
    default_project: Option<String>,
    #[serde(default)]
    replace: bool,
    #[serde(default)]
    all_or_nothing: bool,
}

async fn import(
    State(pool): State<Arc<Pool>>,
    Query(query): Query<ImportQuery>,
    body: Body,
) -> Response {
    let target = match (query.project, query.default_project) {
        (Some(name), _) => project(&name).map(Target::Project),
        (None, Some(name)) => project(&name).map(|default| Target::PerLine { default }),
        (None, None) => {
            let message = "give project=<name> or default_project=<name>".to_owned();
            return refuse(ErrorKind::Invalid, message, None);
        }
    };
    let target = match target {
        Ok(target) => target,
        Err(refusal) => return *refusal,
    };
    let options =
        ImportOptions { target, replace: query.replace, all_or_nothing: query.all_or_nothing };
    let mut input = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let (lines, answer) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut progress = |at: ImportProgress| {
            let _ = lines.send(ImportMessage::Progress(at).line());
        };
        let outcome = transfer::import(pool.memories(), &mut input, options, &mut progress).await;
        let last = match outcome {
            Ok(report) => ImportMessage::Done(report),
            Err(err) => {
                // The client may still be sending the rest, and reads no answer until it is
                // done: take it (bounded), or it would see a broken pipe instead of the line
                // that failed.
                let mut sink = tokio::io::sink();
                let rest = tokio::io::copy(&mut input, &mut sink);
                let _ = tokio::time::timeout(DRAIN_LIMIT, rest).await;
                ImportMessage::Failed(failure(err))
            }
        };
        let _ = lines.send(last.line());
    });
    let body = futures_util::stream::unfold(answer, |mut answer| async move {
        let line = answer.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(line), answer))
    });
    ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(body)).into_response()
}

fn failure(err: ImportError) -> TransferError {
    let kind = match &err.problem {
        ImportProblem::Line { .. }
        | ImportProblem::TooLong { .. }
        | ImportProblem::NotUtf8 { .. }
        | ImportProblem::Read { .. } => ErrorKind::Invalid,
        ImportProblem::StoreAt { error, .. } | ImportProblem::Store(error) => store_kind(error),
        ImportProblem::Embed(_) => ErrorKind::Unavailable,
    };
    TransferError { kind, message: err.to_string(), done: Some(err.done) }
}
