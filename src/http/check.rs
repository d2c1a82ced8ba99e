//! `/mcp` bodies go through [`crate::jsonrpc::check`] before rmcp sees them: rmcp answers an
//! undecodable body with a plain-text 415 and one over 4 MiB with a plain-text 413. Here each
//! gets a JSON-RPC error body (status 400, or 413 for an oversized one), with the request's id
//! when it can be recovered.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;

use crate::jsonrpc::{self, Collected, Collector, Refusal, Verdict};

/// Middleware for `/mcp`: answers what rmcp could not serve, passes the rest on.
pub async fn mcp_body(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // Read in bounded memory: an oversized body is counted, not kept.
    let mut collector = Collector::default();
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(chunk) => collector.push(&chunk),
            Err(err) => {
                return (StatusCode::BAD_REQUEST, format!("cannot read the body: {err}\n"))
                    .into_response();
            }
        }
    }
    let body = match collector.finish() {
        Collected::Whole(body) => body,
        Collected::Oversized(refusal) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, &refusal),
    };
    match jsonrpc::check(&body) {
        Verdict::Serve => {
            let body = Body::from(jsonrpc::content(&body).to_vec());
            next.run(Request::from_parts(parts, body)).await
        }
        // HTTP answers every POST, notifications included.
        Verdict::Answer(refusal) | Verdict::Ignore(refusal) => {
            refuse(StatusCode::BAD_REQUEST, &refusal)
        }
    }
}

fn refuse(status: StatusCode, refusal: &Refusal) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], refusal.to_json()).into_response()
}
