//! The dashboard API and event stream over real HTTP against an in-process owner pool.

use std::io::{BufRead as _, BufReader, Write as _};
use std::sync::Arc;
use std::time::Duration;

use annal::http;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::util::open_pool;

struct Server {
    address: String,
    token: String,
    cancel: CancellationToken,
    _home: tempfile::TempDir,
}

async fn server() -> Server {
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    let listener = http::bind(0).await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let token = http::token(home.path()).expect("token");
    let cancel = CancellationToken::new();
    tokio::spawn(http::serve(
        Arc::clone(&pool),
        listener,
        token.clone(),
        Arc::default(),
        Arc::new(http::OwnerInfo {
            role: annal::owner::Role::Headless,
            started_at: chrono::Utc::now(),
            socket: home.path().join("no.sock"),
            sessions: Arc::default(),
        }),
        cancel.clone(),
    ));
    Server { address, token, cancel, _home: home }
}

impl Server {
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: Vec<String>,
        body: &str,
    ) -> (u16, Value) {
        let (address, method, path, body) =
            (self.address.clone(), method.to_owned(), path.to_owned(), body.to_owned());
        let (status, text) = tokio::task::spawn_blocking(move || {
            crate::util::http(&address, &method, &path, &headers, &body)
        })
        .await
        .expect("join");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn bearer(&self) -> Vec<String> {
        vec![format!("Authorization: Bearer {}", self.token)]
    }

    /// Signs in as a browser does, through a one-time URL; the `Cookie:` header to send.
    async fn sign_in(&self) -> String {
        let code = http::auth::mint_code(&self.token);
        let (address, path) = (self.address.clone(), format!("/login?code={code}"));
        let (status, headers, _) = tokio::task::spawn_blocking(move || {
            crate::util::http_response(&address, "GET", &path, &[], "")
        })
        .await
        .expect("join");
        assert_eq!(status, 303, "a fresh code signs in");
        let set_cookie = headers
            .iter()
            .find(|(name, _)| name == "set-cookie")
            .map(|(_, value)| value.clone())
            .expect("a session cookie");
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
        let pair = set_cookie.split(';').next().expect("cookie pair");
        format!("Cookie: {pair}")
    }
}

#[tokio::test]
async fn the_dashboard_api_lists_searches_and_mutates_with_the_token() {
    let s = server().await;
    let body = r#"{"content": "The dashboard can store memories.", "tags": ["ui", "decision"]}"#;
    let (status, _) = s.call("POST", "/api/projects/app/memories", vec![], body).await;
    assert_eq!(status, 401, "mutations need the token");
    let (status, stored) = s.call("POST", "/api/projects/app/memories", s.bearer(), body).await;
    assert_eq!(status, 201, "{stored}");
    let id = stored["id"].as_str().expect("id").to_owned();
    for i in 0..3 {
        let body = format!(
            r#"{{"content": "Distinct note {i} about {}.", "tags": ["note"]}}"#,
            ["caching", "billing", "fonts"][i]
        );
        assert_eq!(s.call("POST", "/api/projects/app/memories", s.bearer(), &body).await.0, 201);
    }

    let (status, projects) = s.call("GET", "/api/projects", s.bearer(), "").await;
    assert_eq!(status, 200);
    assert_eq!(projects[0]["project"], "app");
    assert_eq!(projects[0]["stats"]["agent_memories"], 4);
    assert_eq!(projects[0]["index"]["state"], "idle");

    let (status, page) =
        s.call("GET", "/api/projects/app/memories?limit=2&offset=1", s.bearer(), "").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["total"].as_u64(), page["items"].as_array().map(Vec::len)),
        (Some(4), Some(2))
    );
    let (_, tagged) = s.call("GET", "/api/projects/app/memories?tag=UI", s.bearer(), "").await;
    assert_eq!(tagged["total"], 1);
    assert_eq!(s.call("GET", "/api/projects/app/memories?limit=0", s.bearer(), "").await.0, 400);
    assert_eq!(s.call("GET", "/api/projects/app/memories?type=bogus", s.bearer(), "").await.0, 400);
    assert_eq!(s.call("GET", "/api/projects/ghost/memories", s.bearer(), "").await.0, 404);

    let (status, found) = s
        .call(
            "GET",
            "/api/projects/app/search?query=can%20the%20dashboard%20store&limit=1",
            s.bearer(),
            "",
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["hits"][0]["memory"]["id"], id.as_str());
    assert!(found["hits"][0]["score"].as_f64().is_some_and(|s| s > 0.3), "{found}");
    let (status, error) =
        s.call("GET", "/api/projects/app/search?query=x&limit=0", s.bearer(), "").await;
    assert_eq!(
        (status, error["message"].as_str().is_some_and(|m| m.contains("limit"))),
        (400, true)
    );

    let path = format!("/api/projects/app/memories/{id}");
    let change = r#"{"content": "The dashboard can store and edit memories.", "tags": ["ui"]}"#;
    assert_eq!(s.call("PUT", &path, vec![], change).await.0, 401);
    let (status, edited) = s.call("PUT", &path, s.bearer(), change).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!((edited["tags"][0].as_str(), edited["updated_at"].is_string()), (Some("ui"), true));
    assert_eq!(s.call("PUT", &path, s.bearer(), r#"{"content": "  "}"#).await.0, 400);
    assert_eq!(s.call("DELETE", &path, vec![], "").await.0, 401);
    assert_eq!(s.call("DELETE", &path, s.bearer(), "").await.0, 204);
    assert_eq!(s.call("DELETE", &path, s.bearer(), "").await.0, 404);
    assert_eq!(s.call("POST", "/api/projects/ghost/reindex", s.bearer(), "").await.0, 404);

    let (status, feed) = s.call("GET", "/api/events/recent", s.bearer(), "").await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> =
        feed.as_array().expect("feed").iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"memory_stored") && kinds.contains(&"memory_deleted"), "{kinds:?}");

    let mut foreign = s.bearer();
    foreign.push("Origin: http://evil.example.com".to_string());
    assert_eq!(
        s.call("GET", "/api/projects", foreign, "").await.0,
        403,
        "cross-origin reads are refused"
    );
    s.cancel.cancel();
}

#[tokio::test]
async fn the_dashboard_page_and_its_assets_come_from_the_binary() {
    let s = server().await;
    let get_with = |path: &str, headers: Vec<String>| {
        let (address, path) = (s.address.clone(), path.to_owned());
        tokio::task::spawn_blocking(move || {
            crate::util::http_response(&address, "GET", &path, &headers, "")
        })
    };
    let get = |path: &str| get_with(path, s.bearer());
    let header = |headers: &[(String, String)], name: &str| {
        headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };

    let (status, _, page) = get_with("/", vec![]).await.expect("join");
    assert_eq!(status, 401, "no page without a session");
    assert!(!page.contains(&s.token) && page.contains("annal dashboard"), "{page}");
    let cookie = s.sign_in().await;
    let (status, headers, page) = get_with("/", vec![cookie.clone()]).await.expect("join");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert!(!page.contains(&s.token), "the page carries no credential");

    let script = page
        .split('"')
        .find(|part| part.starts_with("/assets/") && part.ends_with(".js"))
        .expect("the page loads a script from /assets/")
        .to_owned();
    let built = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/dist").join(&script[1..]),
    )
    .expect("the built script");
    let (status, headers, served) = get(&script).await.expect("join");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "text/javascript");
    assert!(header(&headers, "cache-control").contains("immutable"));
    assert_eq!(served, built);

    for missing in ["/assets/nothing.js", "/assets/../Cargo.toml", "/assets/%2e%2e/Cargo.toml"] {
        let (status, _, body) = get(missing).await.expect("join");
        assert_eq!(status, 404, "{missing}: {body}");
    }
    s.cancel.cancel();
}

// Multi-threaded: this test blocks on a std channel while the server runs on the runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_pushes_changes_as_they_happen() {
    let s = server().await;
    let (address, token) = (s.address.clone(), s.token.clone());
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        write!(
            stream,
            "GET /api/events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\
             Authorization: Bearer {token}\r\n\r\n"
        )
        .expect("send");
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    // The stream is live once its `ready` event arrives.
    let head = received.recv_timeout(Duration::from_secs(10)).expect("response head");
    assert!(head.contains("200"), "{head}");
    loop {
        let line = received.recv_timeout(Duration::from_secs(10)).expect("ready event");
        if line == "event: ready" {
            break;
        }
    }
    let body = r#"{"content": "Pushed live to the dashboard.", "tags": ["ui"]}"#;
    assert_eq!(s.call("POST", "/api/projects/app/memories", s.bearer(), body).await.0, 201);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = received.recv_timeout(left).expect("a memory_stored event before the deadline");
        if line == "event: memory_stored" {
            break;
        }
    }
    // A stopping server ends open streams instead of waiting for the page to go away.
    s.cancel.cancel();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match received.recv_timeout(left) {
            Ok(_) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("the event stream stayed open after the server stopped")
            }
        }
    }
}

#[tokio::test]
async fn every_route_needs_a_credential_and_a_sign_in_url_gives_a_browser_one() {
    let s = server().await;
    let routes = [
        ("GET", "/api/projects"),
        ("GET", "/api/projects/app/status"),
        ("GET", "/api/projects/app/memories"),
        ("GET", "/api/projects/app/search?query=x"),
        ("GET", "/api/projects/app/watch"),
        ("GET", "/api/projects/app/memories/x/chain"),
        ("GET", "/api/projects/app/timeline"),
        ("GET", "/api/projects/app/topics"),
        ("GET", "/api/export?project=app"),
        ("GET", "/api/export?all=true"),
        ("GET", "/api/owner"),
        ("GET", "/api/events/recent"),
        ("GET", "/api/events"),
        ("GET", "/assets/index.js"),
        ("POST", "/mcp"),
        ("GET", "/mcp"),
        ("POST", "/api/projects/app/memories"),
        ("PUT", "/api/projects/app/memories/x"),
        ("DELETE", "/api/projects/app/memories/x"),
        ("POST", "/api/projects/app/reindex"),
        ("PUT", "/api/projects/app/watch"),
        ("POST", "/api/projects/app/delete-selected"),
        ("POST", "/api/projects/app/delete-matching"),
        ("POST", "/api/import?project=app"),
    ];
    let wrong = vec!["Authorization: Bearer not-the-token".to_owned()];
    let forged = vec!["Cookie: annal_session_1=99999999999.00".to_owned()];
    for (method, path) in routes {
        for headers in [vec![], wrong.clone(), forged.clone()] {
            let (status, body) = s.call(method, path, headers.clone(), "{}").await;
            assert_eq!(status, 401, "{method} {path} with {headers:?}: {body}");
            assert!(!body.to_string().contains(&s.token));
        }
    }

    let cookie = s.sign_in().await;
    let (status, projects) = s.call("GET", "/api/projects", vec![cookie.clone()], "").await;
    assert_eq!((status, projects.is_array()), (200, true), "{projects}");
    let origin = format!("Origin: http://{}", s.address);
    let body = r#"{"content": "Stored from a signed-in browser.", "tags": ["ui"]}"#;
    let (status, stored) =
        s.call("POST", "/api/projects/app/memories", vec![cookie.clone(), origin], body).await;
    assert_eq!(status, 201, "{stored}");
    let foreign = vec![cookie, "Origin: http://evil.example.com".to_owned()];
    assert_eq!(s.call("POST", "/api/projects/app/memories", foreign, body).await.0, 403);

    // A code works once; a made-up or foreign one never.
    let code = http::auth::mint_code(&s.token);
    let first = s.call("GET", &format!("/login?code={code}"), vec![], "").await.0;
    let again = s.call("GET", &format!("/login?code={code}"), vec![], "").await.0;
    assert_eq!((first, again), (303, 401));
    let foreign = http::auth::mint_code("another token");
    assert_eq!(s.call("GET", &format!("/login?code={foreign}"), vec![], "").await.0, 401);
    assert_eq!(s.call("GET", "/login", vec![], "").await.0, 401);
    s.cancel.cancel();
}

#[tokio::test]
async fn the_review_inbox_over_http_needs_the_token_and_refuses_bad_actions() {
    let s = server().await;
    let store =
        |content: &str| format!(r#"{{"content": "{content}", "tags": ["decision", "database"]}}"#);
    let old = store("We use PostgreSQL 15 as the primary database for the billing service.");
    let new = store("Billing moves off PostgreSQL to DynamoDB; new billing tables go in DynamoDB.");
    let (_, old) = s.call("POST", "/api/projects/app/memories", s.bearer(), &old).await;
    let (_, new) = s.call("POST", "/api/projects/app/memories", s.bearer(), &new).await;
    assert_eq!(new["conflict"]["id"], old["id"], "{new}");
    let (status, _) = s.call("GET", "/api/projects/app/review", vec![], "").await;
    assert_eq!(status, 401, "the inbox needs a credential");
    let (status, inbox) = s.call("GET", "/api/projects/app/review", s.bearer(), "").await;
    assert_eq!(status, 200, "{inbox}");
    let key = inbox["items"][0]["key"].as_str().expect("key").to_owned();
    for (body, code, needle) in [
        (r#"{"action": "confirm", "key": "nope"}"#.to_owned(), 400, "not an inbox key"),
        (r#"{"action": "confirm", "key": "item:999"}"#.to_owned(), 404, "999"),
        (format!(r#"{{"action": "merge", "key": "{key}", "winner": "x"}}"#), 400, "is not one of"),
        (r#"{"action": "explode"}"#.to_owned(), 422, "unknown variant `explode`"),
        ("not json".to_owned(), 400, ""),
    ] {
        let (status, reply) = s.call("POST", "/api/projects/app/review", s.bearer(), &body).await;
        assert_eq!(status, code, "{body}: {reply}");
        assert!(reply.to_string().contains(needle), "{body}: {reply}");
    }
    let (status, _) = s
        .call("POST", "/api/projects/app/review", vec![], r#"{"action": "confirm", "key": "x"}"#)
        .await;
    assert_eq!(status, 401);
    let confirm = format!(r#"{{"action": "confirm", "key": "{key}"}}"#);
    let (status, inbox) = s.call("POST", "/api/projects/app/review", s.bearer(), &confirm).await;
    assert_eq!((status, inbox["items"].clone()), (200, json!([])));
    s.cancel.cancel();
}
