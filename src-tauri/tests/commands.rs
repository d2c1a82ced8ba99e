//! Every dashboard command through Tauri's IPC (mock runtime, no display), checked against
//! the engine it adapts; and engine events arriving as Tauri events of the same name.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use annal::config::{ConfigFile, PathInputs};
use annal::dashboard::{Dashboard, ListParams};
use annal::embed::{EmbedService, ModelSearch};
use annal::owner_lock::{OwnerLock, Role};
use annal::pool::Pool;
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener as _, Manager as _, WebviewWindow, WebviewWindowBuilder};

#[path = "../../engine/tests/common/support.rs"]
mod support;
use support::model_dir;

/// Calls a command as the page does, with named JSON arguments.
fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_owned(),
    };
    get_ipc_response(window, request)
        .map(|body| body.deserialize::<Value>().expect("a JSON answer"))
}

struct Desktop {
    _home: tempfile::TempDir,
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dashboard: Dashboard,
}

impl Desktop {
    fn new() -> Self {
        let home = tempfile::tempdir().expect("temp home");
        let paths =
            PathInputs { annal_home: Some(home.path().to_path_buf()), ..Default::default() }
                .resolve()
                .expect("paths");
        let config = ConfigFile::load(paths).expect("config");
        let search = ModelSearch { env_dir: Some(model_dir()), ..Default::default() };
        // The pool's background tasks must live on Tauri's runtime, as in the app.
        let lock = OwnerLock::acquire(&config.snapshot().data_dir(config.paths()), Role::Headless)
            .expect("the owner lock");
        let pool: Arc<Pool> =
            tauri::async_runtime::block_on(Pool::open(config, EmbedService::minilm(search), lock))
                .expect("pool");
        let app = mock_builder()
            .invoke_handler(annal_desktop::handler())
            .build(mock_context(noop_assets()))
            .expect("mock app");
        let dashboard = Dashboard::new(Arc::clone(&pool), std::path::PathBuf::from("annal"));
        app.manage(dashboard.clone());
        annal_desktop::forward_events(app.handle().clone(), pool);
        let window =
            WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
        Self { _home: home, app, window, dashboard }
    }

    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        invoke(&self.window, cmd, args)
    }

    /// Waits (with a deadline) until the project's last reconcile has finished.
    fn wait_until_indexed(&self, project: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.ok("project_status", json!({ "project": project }));
            if status["index"]["state"] == "idle" && !status["last_reconcile"].is_null() {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "never indexed: {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args).unwrap_or_else(|err| panic!("{cmd} failed: {err}"))
    }

    fn err(&self, cmd: &str, args: Value) -> (String, String) {
        let err = self.invoke(cmd, args).expect_err(cmd);
        (
            err["kind"].as_str().unwrap_or_default().into(),
            err["message"].as_str().unwrap_or_default().into(),
        )
    }
}

#[test]
fn every_command_answers_what_the_engine_answers() {
    let desktop = Desktop::new();
    let created = desktop.ok(
        "create_memory",
        json!({ "project": "web", "draft": { "content": "We deploy with blue-green releases.", "tags": ["deploy", "decision"] } }),
    );
    assert_eq!(created["status"], "stored", "{created}");
    let id = created["id"].as_str().expect("id").to_owned();

    let projects = desktop.ok("projects", json!({}));
    let engine = tauri::async_runtime::block_on(desktop.dashboard.projects()).expect("engine");
    assert_eq!(projects, serde_json::to_value(&engine).expect("json"));
    assert_eq!(projects[0]["stats"]["agent_memories"], 1);

    let status = desktop.ok("project_status", json!({ "project": "web" }));
    assert_eq!(status["project"], "web");
    assert_eq!(status["index"]["state"], "idle");

    let page = desktop.ok("memories", json!({ "project": "web", "params": { "limit": 10 } }));
    let engine = tauri::async_runtime::block_on(
        desktop.dashboard.memories("web", ListParams { limit: Some(10), ..Default::default() }),
    )
    .expect("engine");
    assert_eq!(page, serde_json::to_value(&engine).expect("json"));
    assert_eq!(page["total"], 1);

    let found = desktop.ok(
        "search",
        json!({ "project": "web", "params": { "query": "how do we release?", "mode": "full" } }),
    );
    assert_eq!(found["hits"][0]["memory"]["id"], id.as_str(), "{found}");

    let edited = desktop.ok(
        "edit_memory",
        json!({ "project": "web", "id": id, "edit": { "content": "We deploy with canary releases." } }),
    );
    assert_eq!(edited["content"], "We deploy with canary releases.");
    assert_eq!(edited["tags"], json!(["deploy", "decision"]));

    let docs = tempfile::tempdir().expect("docs");
    std::fs::write(docs.path().join("guide.md"), "# Guide\nHow we release.\n").expect("write");
    let docs_path = docs.path().display().to_string();
    let reply = desktop.ok(
        "configure_project",
        json!({ "project": "web", "edit": { "watch_paths": [docs_path] } }),
    );
    let changed: Vec<&Value> = reply["changes"].as_array().expect("changes").iter().collect();
    assert!(changed.iter().any(|c| c["field"] == "watch_paths"), "{reply}");
    let watch = desktop.ok("watch_config", json!({ "project": "web" }));
    assert_eq!(
        watch["watch_paths"],
        json!([std::fs::canonicalize(docs.path()).expect("path").display().to_string()])
    );
    assert_eq!(watch["watch"], true);
    desktop.wait_until_indexed("web");
    desktop.ok("reindex", json!({ "project": "web" })).as_null().expect("reindex answers nothing");
    desktop.wait_until_indexed("web");
    let status = desktop.ok("project_status", json!({ "project": "web" }));
    assert_eq!(status["stats"]["file_chunks"], 1, "{status}");
    desktop.ok("configure_project", json!({ "project": "web", "edit": { "watch": false } }));
    assert_eq!(desktop.ok("watch_config", json!({ "project": "web" }))["watch"], false);

    desktop.ok("delete_memory", json!({ "project": "web", "id": id }));
    let page =
        desktop.ok("memories", json!({ "project": "web", "params": { "type": "agent-memory" } }));
    assert_eq!(page["total"], 0);

    let ids: Vec<String> = ["Use tabs.", "Use spaces.", "Use a formatter."]
        .iter()
        .map(|text| {
            let draft = json!({ "content": text, "tags": ["style"] });
            let made = desktop.ok("create_memory", json!({ "project": "web", "draft": draft }));
            made["id"].as_str().expect("id").to_owned()
        })
        .collect();
    let replaced = desktop.ok(
        "create_memory",
        json!({ "project": "web", "draft": { "content": "Use the project's rustfmt.toml.", "tags": ["style"], "supersedes": ids[2] } }),
    );
    let chain = desktop.ok("chain", json!({ "project": "web", "id": ids[2] }));
    let chain: Vec<&str> =
        chain.as_array().expect("list").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(chain, [ids[2].as_str(), replaced["id"].as_str().expect("id")]);
    let days = desktop.ok("timeline", json!({ "project": "web" }));
    assert_eq!(days[0]["count"], 4, "{days}");
    let topics = desktop.ok("topics", json!({ "project": "web" }));
    let engine = tauri::async_runtime::block_on(desktop.dashboard.topics("web")).expect("engine");
    assert_eq!(topics, serde_json::to_value(&engine).expect("json"));
    assert_eq!(topics[0]["tag"], "style", "{topics}");
    let deleted = desktop
        .ok("delete_selected", json!({ "project": "web", "selection": { "ids": [ids[0]] } }));
    assert_eq!(deleted["deleted"], 1);
    let filter = json!({ "tag": "style" });
    let (kind, message) = desktop.err(
        "delete_matching",
        json!({ "project": "web", "matching": { "filter": filter, "expected": 5 } }),
    );
    assert_eq!(kind, "conflict", "{message}");
    let deleted = desktop.ok(
        "delete_matching",
        json!({ "project": "web", "matching": { "filter": filter, "expected": 2 } }),
    );
    assert_eq!(deleted["deleted"], 2);

    assert_eq!(
        desktop.ok("activity", json!({})),
        json!(tauri::async_runtime::block_on(desktop.dashboard.activity()).expect("activity"))
    );

    let events = desktop.ok("recent_events", json!({}));
    let kinds: Vec<&str> =
        events.as_array().expect("list").iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"memory_stored") && kinds.contains(&"memory_deleted"), "{kinds:?}");
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let desktop = Desktop::new();
    desktop.ok(
        "create_memory",
        json!({ "project": "web", "draft": { "content": "Kept.", "tags": ["x"] } }),
    );

    let (kind, message) = desktop.err(
        "create_memory",
        json!({ "project": "web", "draft": { "content": "  ", "tags": ["x"] } }),
    );
    assert_eq!(kind, "invalid");
    assert!(message.contains("content"), "{message}");

    let (kind, message) =
        desktop.err("memories", json!({ "project": "web", "params": { "type": "bogus" } }));
    assert_eq!(kind, "invalid");
    assert!(message.contains("bogus"), "{message}");

    let (kind, _) = desktop.err("delete_memory", json!({ "project": "web", "id": "no-such-id" }));
    assert_eq!(kind, "not_found");
    let (kind, _) = desktop.err("reindex", json!({ "project": "nowhere" }));
    assert_eq!(kind, "not_found");
    assert!(desktop.ok("watch_config", json!({ "project": "nowhere" })).is_null());
    let (kind, message) = desktop
        .err("configure_project", json!({ "project": "web", "edit": { "watch_paths": ["docs"] } }));
    assert_eq!(kind, "invalid");
    assert!(message.contains("relative"), "{message}");
    let (kind, message) = desktop.err(
        "configure_project",
        json!({ "project": "web", "edit": { "watch_paths": ["/no/such/dir"] } }),
    );
    assert_eq!(kind, "invalid", "{message}");
    assert!(message.contains("/no/such/dir"), "{message}");
    let (kind, message) = desktop.err(
        "search",
        json!({ "project": "web", "params": { "query": "x", "before": "2026-13-45" } }),
    );
    assert_eq!(kind, "invalid");
    assert!(message.contains("2026-13-45"), "{message}");
    // A missing argument is refused by the IPC layer before any engine call.
    assert!(desktop.invoke("memories", json!({ "params": {} })).is_err());

    let page = desktop.ok("memories", json!({ "project": "web", "params": {} }));
    assert_eq!(page["total"], 1, "the failed calls changed nothing");
}

#[test]
fn the_review_inbox_lists_pairs_and_resolves_them_with_its_bad_inputs_refused() {
    let desktop = Desktop::new();
    let store = |content: &str| {
        let draft = json!({ "content": content, "tags": ["decision", "database"] });
        let stored = desktop.ok("create_memory", json!({ "project": "web", "draft": draft }));
        stored["id"].as_str().expect("id").to_owned()
    };
    let old = store("We use PostgreSQL 15 as the primary database for the billing service.");
    let new = store("Billing moves off PostgreSQL to DynamoDB; new billing tables go in DynamoDB.");
    let inbox = desktop.ok("review_inbox", json!({ "project": "web" }));
    let engine = tauri::async_runtime::block_on(desktop.dashboard.review_inbox("web"));
    // Through JSON text, as the IPC carries it (a score is an f32).
    let engine: Value =
        serde_json::from_str(&serde_json::to_string(&engine.expect("engine")).expect("json"))
            .expect("json");
    assert_eq!(inbox, engine);
    let item = &inbox["items"][0];
    assert_eq!(
        (item["kind"].as_str(), item["other"]["id"].as_str()),
        (Some("conflict"), Some(old.as_str()))
    );
    let key = item["key"].as_str().expect("key").to_owned();

    let resolve = |action: Value| {
        desktop.invoke("resolve_review", json!({ "project": "web", "action": action }))
    };
    let refused = |action: Value, kind: &str, needle: &str| {
        let (got, message) =
            desktop.err("resolve_review", json!({ "project": "web", "action": action }));
        assert_eq!(got, kind, "{message}");
        assert!(message.contains(needle), "{message}");
    };
    refused(json!({ "action": "confirm", "key": "nope" }), "invalid", "not an inbox key");
    refused(json!({ "action": "confirm", "key": "item:424242" }), "not_found", "424242");
    refused(
        json!({ "action": "supersede", "key": key, "winner": "someone" }),
        "invalid",
        "someone",
    );
    assert!(resolve(json!({ "action": "explode", "key": key })).is_err(), "an unknown action");
    assert!(resolve(json!({ "action": "merge", "key": key })).is_err(), "a missing winner");
    let (kind, _) = desktop.err("review_inbox", json!({ "project": "no such/name" }));
    assert_eq!(kind, "invalid");

    let after =
        resolve(json!({ "action": "supersede", "key": key, "winner": new })).expect("supersede");
    assert_eq!(after["items"], json!([]));
    let chain = desktop.ok("chain", json!({ "project": "web", "id": new }));
    assert_eq!(chain[0]["id"], old.as_str(), "the older decision is superseded by the newer");
}

#[test]
fn engine_events_arrive_as_tauri_events_of_the_same_name() {
    let desktop = Desktop::new();
    let (sender, received) = mpsc::channel();
    for kind in ["memory_stored", "memory_updated", "memory_deleted"] {
        let sender = sender.clone();
        desktop.app.listen(kind, move |event| {
            let _ = sender.send((kind, event.payload().to_owned()));
        });
    }
    let created = desktop.ok(
        "create_memory",
        json!({ "project": "p", "draft": { "content": "Event test.", "tags": ["t"] } }),
    );
    let id = created["id"].as_str().expect("id");
    let (kind, payload) = received.recv_timeout(Duration::from_secs(20)).expect("an event");
    assert_eq!(kind, "memory_stored");
    let payload: Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(payload["project"], "p");
    assert_eq!(payload["type"], "memory_stored");
    desktop.ok("delete_memory", json!({ "project": "p", "id": id }));
    let (kind, _) = received.recv_timeout(Duration::from_secs(20)).expect("an event");
    assert_eq!(kind, "memory_deleted");
}

#[path = "../../engine/tests/common/fixture_dashboard.rs"]
mod fixture_dashboard;
#[path = "../../engine/tests/common/fixture_queries.rs"]
mod fixture_queries;

/// The fixture's queries as Tauri commands, from the same generator as the app's.
mod fixture_commands {
    use crate::fixture_dashboard::Fixture;
    crate::fixture_queries::fixture_queries!(annal_desktop::query_commands[Fixture]);
}

#[test]
fn a_query_declared_in_a_fixture_is_a_tauri_command() {
    let app = mock_builder()
        .invoke_handler(fixture_commands::handler())
        .build(mock_context(noop_assets()))
        .expect("mock app");
    app.manage(fixture_dashboard::Fixture);
    let window =
        WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
    let echoed = invoke(
        &window,
        "echo_filter",
        json!({ "project": "my app", "id": "m-1", "params": { "tag": "ui" } }),
    );
    assert_eq!(echoed, Ok(json!(["my app", "m-1", "ui"])));
    let forgot = invoke(
        &window,
        "forget_selected",
        json!({ "project": "app", "selection": { "ids": ["a"] } }),
    );
    assert_eq!(forgot, Ok(json!({ "deleted": 1 })));
    let refused = invoke(
        &window,
        "forget_selected",
        json!({ "project": "refused", "selection": { "ids": [] } }),
    );
    assert_eq!(refused.map_err(|e| e["kind"].clone()), Err(json!("invalid")));
    let malformed = invoke(&window, "forget_selected", json!({ "project": "app", "selection": 3 }));
    assert!(malformed.is_err(), "{malformed:?}");
}
