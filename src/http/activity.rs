//! What the owner's idle exit needs to know about HTTP clients. HTTP has no connections to
//! count the way the socket does, so a client counts as present while one of its requests is
//! in flight — an event stream (the dashboard's, an MCP client's) for as long as it is open —
//! and for the idle timeout after its last request ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt as _;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    last_ended: Mutex<Instant>,
}

impl Default for Activity {
    fn default() -> Self {
        Self { in_flight: AtomicUsize::new(0), last_ended: Mutex::new(Instant::now()) }
    }
}

impl Activity {
    /// Since when no request has been in flight; `None` while one is.
    pub fn quiet_since(&self) -> Option<Instant> {
        let last_ended = *self.last_ended.lock().unwrap_or_else(|p| p.into_inner());
        (self.in_flight.load(Ordering::SeqCst) == 0).then_some(last_ended)
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }
}

/// One request in flight; dropping it ends the request.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // Time first, so a reader that sees zero in flight also sees this end time.
        *self.0.last_ended.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts every request while it runs; a streamed answer (an event stream, an export, an
/// import's progress) until its body ends or the client goes away (other bodies are complete
/// when the handler returns).
pub async fn track(
    State(activity): State<Arc<Activity>>,
    request: Request,
    next: Next,
) -> Response {
    let in_flight = activity.begin();
    let response = next.run(request).await;
    let streaming = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        [&b"text/event-stream"[..], b"application/x-ndjson"]
            .iter()
            .any(|t| v.as_bytes().starts_with(t))
    });
    if !streaming {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held_until_the_stream_ends = &in_flight;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}
