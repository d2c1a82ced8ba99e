//! The dashboard's JSON API and its event stream (SSE). The routes are generated from the
//! engine's query declarations (`annal_engine::dashboard_queries!`): each parses, calls one
//! [`Dashboard`] function and renders.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawPathParams, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use futures_util::{Stream, StreamExt as _};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::dashboard::{Dashboard, DashboardError, ErrorKind, ErrorReply};
use crate::pool::Pool;
use serde::Serialize;

/// An engine error as the browser sees it: `{kind, message}` with a fitting status.
fn refusal(err: &DashboardError) -> Response {
    let status = match err.kind() {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(ErrorReply::from(err))).into_response()
}

/// Builds a router with one route per query of a table in the `dashboard_queries!` format,
/// each calling the `$dashboard` method of the query's name. `routes` uses the real table; a
/// test can pass its own table and type.
#[macro_export]
macro_rules! query_routes {
    ([$dashboard:ty] $(
        $name:ident : $access:ident $method:ident $path:literal [$($arg:ident),*]
        $( $carrier:ident ( $input:ident : $input_ty:ty ) )? -> $reply:ty, $status:ident;
    )*) => {{
        let router = ::axum::Router::<$dashboard>::new();
        $(
            // A query without path arguments leaves `path` unread.
            #[allow(unused_variables)]
            async fn $name(
                ::axum::extract::State(dashboard): ::axum::extract::State<$dashboard>,
                path: ::axum::extract::RawPathParams,
                $( $input: $crate::query_routes!(@extract $carrier $input_ty), )?
            ) -> ::axum::response::Response {
                $( let $arg = match $crate::http::api::path_param(&path, stringify!($arg)) {
                    Ok(value) => value,
                    Err(refusal) => return *refusal,
                }; )*
                let reply = dashboard.$name($(&$arg,)* $($input.0)?).await;
                $crate::http::api::render(::axum::http::StatusCode::$status, reply)
            }
            let router = router.route(
                $path,
                ::axum::routing::on($crate::query_routes!(@method $method), $name),
            );
        )*
        router
    }};
    (@extract query $ty:ty) => { ::axum::extract::Query<$ty> };
    (@extract body $ty:ty) => { ::axum::Json<$ty> };
    (@method GET) => { ::axum::routing::MethodFilter::GET };
    (@method POST) => { ::axum::routing::MethodFilter::POST };
    (@method PUT) => { ::axum::routing::MethodFilter::PUT };
    (@method DELETE) => { ::axum::routing::MethodFilter::DELETE };
}

/// A path placeholder's value, or the answer for a route declared without it (a bug in the
/// declaration, which its tests rule out).
pub fn path_param(path: &RawPathParams, name: &str) -> Result<String, Box<Response>> {
    match path.iter().find(|(key, _)| *key == name) {
        Some((_, value)) => Ok(value.to_owned()),
        None => {
            let message = format!("route has no {{{name}}} in its path");
            Err(Box::new((StatusCode::INTERNAL_SERVER_ERROR, message).into_response()))
        }
    }
}

/// A query's answer: the reply as JSON with the declared status (none for 204 and 202), or the
/// error as `{kind, message}`.
pub fn render<T: Serialize>(status: StatusCode, reply: Result<T, DashboardError>) -> Response {
    match reply {
        Ok(_) if matches!(status, StatusCode::NO_CONTENT | StatusCode::ACCEPTED) => {
            status.into_response()
        }
        Ok(value) => (status, Json(value)).into_response(),
        Err(err) => refusal(&err),
    }
}

/// Every dashboard query's route, and the event stream. Event streams end when `closing`
/// fires, so a stopping owner need not wait for open pages (they reconnect to the next one).
pub fn routes(pool: Arc<Pool>, closing: CancellationToken) -> Router {
    let queries: Router<Dashboard> =
        annal_engine::dashboard_queries!(crate::query_routes[Dashboard]);
    queries
        .with_state(Dashboard::new(Arc::clone(&pool), crate::owner::sidecar_binary()))
        .route("/api/events", get(events).with_state((pool, closing)))
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
                SseEvent::default()
                    .event(event.kind().as_str())
                    .id(event.seq.to_string())
                    .data(data)
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
