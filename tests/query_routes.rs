//! A query declared only in a test fixture becomes HTTP routes through the same generator as
//! the real table: path arguments, query strings, JSON bodies, statuses and refusals.

use axum::Router;
use serde_json::{Value, json};

#[path = "../engine/tests/common/fixture_dashboard.rs"]
mod fixture_dashboard;
#[path = "../engine/tests/common/fixture_queries.rs"]
mod fixture_queries;

use fixture_dashboard::Fixture;
use fixture_queries::fixture_queries;

async fn call(address: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (address, method, path, body) =
        (address.to_owned(), method.to_owned(), path.to_owned(), body.to_owned());
    let (status, text) = tokio::task::spawn_blocking(move || {
        crate::util::http(&address, &method, &path, &[], &body)
    })
    .await
    .expect("join");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn a_query_declared_in_a_fixture_is_served_over_http() {
    let routes: Router<Fixture> = fixture_queries!(annal::query_routes[Fixture]);
    let listener = annal::http::bind(0).await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move { axum::serve(listener, routes.with_state(Fixture)).await });

    let echoed = call(&address, "GET", "/api/projects/my%20app/echo/m-1?tag=ui", "").await;
    assert_eq!(echoed, (200, json!(["my app", "m-1", "ui"])));
    let forgot = call(&address, "POST", "/api/projects/app/forget", r#"{"ids": ["a", "b"]}"#).await;
    assert_eq!(forgot, (201, json!({ "deleted": 2 })));

    let (status, refused) =
        call(&address, "POST", "/api/projects/refused/forget", r#"{"ids": []}"#).await;
    assert_eq!((status, refused["kind"].as_str()), (400, Some("invalid")), "{refused}");
    let (status, _) = call(&address, "POST", "/api/projects/app/forget", r#"{"ids": 3}"#).await;
    assert_eq!(status, 422, "a body of the wrong shape is refused");
    let (status, _) = call(&address, "GET", "/api/projects/app/forget", "").await;
    assert_eq!(status, 405, "a write is not reachable with GET");
}
