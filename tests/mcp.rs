//! The MCP tools through a real rmcp client over an in-process duplex stream: every tool's
//! happy path and the bad inputs of SPEC §5 and §14.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use annal::mcp::AnnalServer;
use annal::pool::Pool;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::util::open_pool;

struct Session {
    client: RunningService<RoleClient, ()>,
    _home: tempfile::TempDir,
    pool: Arc<Pool>,
}

async fn session() -> Session {
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    let server = AnnalServer::new(Arc::clone(&pool), Some(home.path().to_path_buf()));
    let (client_side, server_side) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_side).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_side).await.expect("client");
    Session { client, _home: home, pool }
}

impl Session {
    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let arguments = arguments.as_object().cloned().expect("object");
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
            .await
            .expect("a tool result, not a protocol error")
    }

    async fn ok(&self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments.clone()).await;
        assert_ne!(result.is_error, Some(true), "{tool} {arguments} failed: {}", text(&result));
        text(&result)
    }

    async fn fails(&self, tool: &str, arguments: Value, needle: &str) {
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{tool} {arguments} should fail: {}",
            text(&result)
        );
        let message = text(&result);
        assert!(message.contains(needle), "{tool}: {message:?} does not contain {needle:?}");
    }
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn id_in(text: &str) -> String {
    let start = text.find("memory ").expect("an id") + "memory ".len();
    text[start..].split(|c: char| c.is_whitespace() || c == '.').next().expect("id").to_owned()
}

#[tokio::test]
async fn the_server_describes_itself_and_its_tools() {
    let s = session().await;
    let info = s.client.peer_info().expect("initialized");
    assert_eq!(info.server_info.as_ref().map(|s| s.name.as_str()), Some("annal"));
    let instructions = info.instructions.clone().expect("instructions");
    for needle in ["init_project", "supersedes", "search for prior decisions", "store it"] {
        assert!(instructions.contains(needle), "{needle}");
    }
    let tools = s.client.list_all_tools().await.expect("tools");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "delete_memory",
            "expand_memories",
            "index_files",
            "index_status",
            "init_project",
            "list_topics",
            "prune_stale",
            "retag_memory",
            "search_memories",
            "store_batch",
            "store_memory",
            "update_memory"
        ]
    );
    let search = tools.iter().find(|t| t.name == "search_memories").expect("search");
    let properties =
        search.input_schema.get("properties").and_then(Value::as_object).expect("properties");
    for param in [
        "project",
        "query",
        "tags",
        "limit",
        "mode",
        "min_score",
        "after",
        "before",
        "output",
        "projects",
        "include_superseded",
        "source",
    ] {
        let description =
            properties.get(param).and_then(|p| p.get("description")).and_then(Value::as_str);
        assert!(description.is_some_and(|d| !d.is_empty()), "{param} has a description");
    }
    assert_eq!(search.annotations.as_ref().and_then(|a| a.read_only_hint), Some(true));
    let delete = tools.iter().find(|t| t.name == "delete_memory").expect("delete");
    assert_eq!(delete.annotations.as_ref().and_then(|a| a.destructive_hint), Some(true));
}

#[tokio::test]
async fn every_tool_works_end_to_end() {
    let s = session().await;
    let docs = tempfile::tempdir().expect("docs");
    std::fs::write(docs.path().join("guide.md"), "# Deploy\nShip with the blue-green switch.\n")
        .expect("write");
    let init =
        s.ok("init_project", json!({"project_name": "app", "watch_paths": [docs.path()]})).await;
    assert!(init.contains("created"), "{init}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = s.ok("index_status", json!({"project": "app"})).await;
        if status.contains("idle") && status.contains("Last reconcile") {
            assert!(status.contains("1 file chunks"), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stored = s.ok("store_memory", json!({"project": "app", "content": "We deploy with blue-green switches.", "tags": "decision, deploy"})).await;
    let id = id_in(&stored);
    let batch = s
        .ok(
            "store_batch",
            json!({"project": "app", "memories": [
                {"content": "Rollbacks take two minutes.", "tags": ["ops"]},
                {"content": "Rollbacks take two minutes.", "tags": ["ops"]}
            ]}),
        )
        .await;
    assert!(batch.contains("Stored 1 of 2") && batch.contains("Skipped"), "{batch}");

    let summary =
        s.ok("search_memories", json!({"project": "app", "query": "how do we deploy"})).await;
    assert!(
        summary.starts_with("[app] ")
            && summary.contains("## Agent memories")
            && summary.contains("## File-indexed"),
        "{summary}"
    );
    assert!(summary.contains(&format!("ID: {id}")), "{summary}");
    let probe = s
        .ok(
            "search_memories",
            json!({"project": "app", "query": "deploy", "mode": "probe", "limit": 2}),
        )
        .await;
    assert_eq!(probe.lines().filter(|l| l.contains("ID: ")).count(), 2, "{probe}");
    let json = s
        .ok(
            "search_memories",
            json!({"project": "app", "query": "deploy", "output": "json", "mode": "full"}),
        )
        .await;
    let parsed: Value = serde_json::from_str(&json).expect("json output");
    assert_eq!(parsed["meta"]["mode"], "full");
    assert_eq!(parsed["meta"]["grouped"], true);
    // Nothing stored is about this: every hit is marked weak, and the reply says so first;
    // a question the memories answer is not.
    let unrelated = json!({"project": "app", "query": "favourite pizza toppings in Naples"});
    let unrelated = s.ok("search_memories", unrelated).await;
    assert!(
        unrelated.lines().nth(1).is_some_and(|l| l.starts_with("No confident match")),
        "{unrelated}"
    );
    assert!(unrelated.contains(", weak)"), "{unrelated}");
    assert!(!summary.contains("No confident match"), "{summary}");
    let weak =
        json!({"project": "app", "query": "favourite pizza toppings in Naples", "output": "json"});
    let weak: Value = serde_json::from_str(&s.ok("search_memories", weak).await).expect("json");
    let hits = weak["results"].as_array().or_else(|| weak["results"]["agent_memories"].as_array());
    assert!(hits.is_some_and(|h| !h.is_empty() && h.iter().all(|h| h["weak"] == true)), "{weak}");
    // A min_score that leaves nothing says how much it held back.
    let strict = json!({"project": "app", "query": "how do we deploy", "min_score": 0.95});
    let strict = s.ok("search_memories", strict).await;
    assert!(
        strict.contains("0 results") && strict.contains("nothing as similar as min_score 0.95"),
        "{strict}"
    );

    let expanded = s.ok("expand_memories", json!({"project": "app", "memory_ids": [id]})).await;
    assert!(expanded.contains("We deploy with blue-green switches."), "{expanded}");
    let updated = s.ok("update_memory", json!({"project": "app", "memory_id": id, "content": "We deploy with blue-green switches at noon."})).await;
    assert!(updated.contains(&id));
    let retagged = s
        .ok("retag_memory", json!({"project": "app", "memory_id": id, "add_tags": "release"}))
        .await;
    assert!(retagged.contains("decision, deploy, release"), "{retagged}");
    let topics = s.ok("list_topics", json!({"project": "app"})).await;
    assert!(topics.contains("decision (1)") && topics.contains("indexed (1)"), "{topics}");
    let prune = s.ok("prune_stale", json!({"project": "app"})).await;
    assert!(prune.starts_with("Dry run: 0"), "{prune}");
    let reindex = s.ok("index_files", json!({"project": "app"})).await;
    assert!(reindex.contains("Re-indexing"), "{reindex}");
    let deleted = s.ok("delete_memory", json!({"project": "app", "memory_id": id})).await;
    assert!(deleted.contains(&id));
    s.fails("delete_memory", json!({"project": "app", "memory_id": id}), "not found").await;
    s.pool.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn bad_input_is_a_tool_error_naming_the_parameter() {
    let s = session().await;
    s.ok("store_memory", json!({"project": "app", "content": "Something.", "tags": ["t"]})).await;
    let big = "x".repeat(1024 * 1024);
    let cases = [
        (
            "store_memory",
            json!({"project": "app", "content": "  ", "tags": ["t"]}),
            "content is empty",
        ),
        (
            "store_memory",
            json!({"project": "app", "content": big, "tags": ["t"]}),
            "limit is 65536 bytes",
        ),
        (
            "store_memory",
            json!({"project": "app", "content": "x", "tags": " , "}),
            "at least one tag",
        ),
        (
            "store_memory",
            json!({"project": "../x", "content": "x", "tags": "t"}),
            "invalid project name",
        ),
        ("store_batch", json!({"project": "app", "memories": []}), "memories is empty"),
        (
            "store_batch",
            json!({"project": "app", "memories": [{"tags": ["t"]}]}),
            "memories[0]: content is missing",
        ),
        (
            "store_batch",
            json!({"project": "app", "memories": [{"content": "x"}]}),
            "memories[0]: tags is missing",
        ),
        (
            "search_memories",
            json!({"project": "app", "query": "x", "limit": 0}),
            "limit must be between 1 and 50, got 0",
        ),
        ("search_memories", json!({"project": "app", "query": "x", "limit": 51}), "got 51"),
        (
            "search_memories",
            json!({"project": "app", "query": "x", "mode": "fast"}),
            "mode must be one of",
        ),
        (
            "search_memories",
            json!({"project": "app", "query": "x", "output": "xml"}),
            "output must be text or json",
        ),
        (
            "search_memories",
            json!({"project": "app", "query": "x", "after": "2026-13-45"}),
            "after \"2026-13-45\"",
        ),
        ("search_memories", json!({"project": "app", "query": " "}), "query is empty"),
        (
            "search_memories",
            json!({"project": "app", "query": "x", "projects": ["nope"]}),
            "unknown project \"nope\"",
        ),
        ("expand_memories", json!({"project": "app", "memory_ids": ["missing"]}), "not found"),
        (
            "update_memory",
            json!({"project": "app", "memory_id": "missing", "tags": ["t"]}),
            "not found",
        ),
        (
            "retag_memory",
            json!({"project": "app", "memory_id": "x", "add_tags": "a", "set_tags": "b"}),
            "cannot be combined",
        ),
        ("delete_memory", json!({"project": "ghost", "memory_id": "x"}), "unknown project"),
        (
            "update_memory",
            json!({"project": "ghost", "memory_id": "x", "tags": ["t"]}),
            "unknown project",
        ),
        ("expand_memories", json!({"project": "ghost", "memory_ids": ["x"]}), "unknown project"),
        (
            "init_project",
            json!({"project_name": "app", "watch_patterns": ["docs/[a-"]}),
            "watch_patterns: invalid glob pattern \"docs/[a-\"",
        ),
        (
            "init_project",
            json!({"project_name": "app", "watch_exclude": ["**/{a,b"]}),
            "watch_exclude: invalid glob pattern",
        ),
        ("prune_stale", json!({"project": "app", "max_age_days": 0}), "max_age_days"),
        (
            "init_project",
            json!({"project_name": "app", "watch_paths": ["/no/such/dir"]}),
            "does not exist",
        ),
        ("init_project", json!({"project_name": "a/b"}), "invalid project name"),
        ("index_files", json!({"project": "ghost"}), "unknown project"),
        (
            "search_memories",
            json!({"project": "app", "query": "x", "limit": "five"}),
            "limit: invalid type: string \"five\", expected i64",
        ),
        (
            "store_memory",
            json!({"project": "app", "content": "x", "tags": 7}),
            "tags: expected a string or a list of strings",
        ),
        (
            "store_batch",
            json!({"project": "app", "memories": [{"content": "a", "tags": "t"}, {"content": 5}]}),
            "memories[1].content: invalid type: integer `5`, expected a string",
        ),
        ("prune_stale", json!({"project": "app", "dry_run": "no"}), "dry_run: invalid type"),
        ("store_memory", json!({"project": "app", "content": "x"}), "missing field `tags`"),
    ];
    for (tool, arguments, needle) in cases {
        s.fails(tool, arguments, needle).await;
    }
    // "*" as a string and as a list both mean every project.
    s.ok("store_memory", json!({"project": "other", "content": "Elsewhere.", "tags": ["t"]})).await;
    for projects in [json!("*"), json!(["*"])] {
        let text = s
            .ok(
                "search_memories",
                json!({"project": "app", "query": "elsewhere", "projects": projects}),
            )
            .await;
        assert!(text.starts_with("[app, other]"), "{text}");
    }
}

/// Agents are told to search at session start, before anything is stored: on a fresh project
/// the read tools answer that there is nothing yet, and register nothing.
#[tokio::test]
async fn a_fresh_project_reads_as_empty_not_as_an_error() {
    let s = session().await;
    let text =
        s.ok("search_memories", json!({"project": "fresh", "query": "what did we decide"})).await;
    assert!(text.contains("no memories in project fresh yet"), "{text}");
    let json =
        s.ok("search_memories", json!({"project": "fresh", "query": "x", "output": "json"})).await;
    let json: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(
        (json["results"].as_array().map(Vec::len), &json["meta"]["total"]),
        (Some(0), &json!(0))
    );
    let topics = s.ok("list_topics", json!({"project": "fresh"})).await;
    assert!(topics.contains("no topics yet"), "{topics}");
    let status = s.ok("index_status", json!({"project": "fresh"})).await;
    assert!(status.contains("no memories in project fresh yet"), "{status}");
    // Bad arguments stay errors on a fresh project too.
    s.fails("search_memories", json!({"project": "fresh", "query": "x", "limit": 0}), "limit")
        .await;
    s.fails("search_memories", json!({"project": "fresh", "query": " "}), "query is empty").await;
    let projects = s.pool.memories().store().projects().await.expect("projects");
    assert!(projects.is_empty(), "reads register nothing");
    // The first store registers it; then search finds it.
    s.ok(
        "store_memory",
        json!({"project": "fresh", "content": "We chose SQLite.", "tags": ["decision"]}),
    )
    .await;
    let text =
        s.ok("search_memories", json!({"project": "fresh", "query": "which database"})).await;
    assert!(text.contains("We chose SQLite"), "{text}");
}

/// Polls `search_memories` (text) until `done` holds, with a deadline.
async fn search_until(s: &Session, query: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = s.ok("search_memories", json!({"project": "app", "query": query})).await;
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "never came: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_reversed_decision_is_hinted_and_superseded_and_a_changed_file_is_flagged() {
    let s = session().await;
    let root = tempfile::tempdir().expect("tree");
    let root_path = root.path().canonicalize().expect("canonical");
    std::fs::create_dir(root_path.join("src")).expect("mkdir");
    std::fs::write(root_path.join("src/billing.rs"), "pub fn charge() {}\n").expect("write");
    s.ok("init_project", json!({"project_name": "app", "watch_paths": [root_path]})).await;
    let old = "We use PostgreSQL 15 as the primary database for the billing service.";
    let old = id_in(
        &s.ok(
            "store_memory",
            json!({"project": "app", "content": old, "tags": ["decision", "database"]}),
        )
        .await,
    );
    let reversal = "Billing moves off PostgreSQL to DynamoDB; new billing tables go in DynamoDB \
                    only, see src/billing.rs.";
    let reply = s
        .ok(
            "store_memory",
            json!({"project": "app", "content": reversal, "tags": ["decision", "database"]}),
        )
        .await;
    let new = id_in(&reply);
    assert!(reply.contains(&format!("Possible conflict: decision {old}")), "{reply}");
    assert!(reply.contains(&format!("supersedes=\"{old}\"")), "{reply}");
    // The hint's suggestion works: the older decision leaves search, the newer stays.
    s.fails(
        "update_memory",
        json!({"project": "app", "memory_id": new, "supersedes": new}),
        "itself",
    )
    .await;
    s.fails(
        "update_memory",
        json!({"project": "app", "memory_id": new, "supersedes": "no!"}),
        "no!",
    )
    .await;
    s.ok("update_memory", json!({"project": "app", "memory_id": new, "supersedes": old})).await;
    let found =
        s.ok("search_memories", json!({"project": "app", "query": "billing database"})).await;
    assert!(found.contains(&new) && !found.contains(&old), "{found}");

    // The newer decision names src/billing.rs: rewriting the file flags it in search and status.
    std::fs::write(root_path.join("src/billing.rs"), "pub fn charge() { todo!() }\n")
        .expect("edit");
    let found = search_until(&s, "billing database", |t| t.contains("Needs review")).await;
    assert!(found.contains("src/billing.rs was changed"), "{found}");
    let status = s.ok("index_status", json!({"project": "app"})).await;
    assert!(status.contains("1 need review"), "{status}");
    // Re-saving it as it is clears the mark.
    s.ok("update_memory", json!({"project": "app", "memory_id": new, "content": reversal})).await;
    let found =
        s.ok("search_memories", json!({"project": "app", "query": "billing database"})).await;
    assert!(!found.contains("Needs review"), "{found}");
    s.pool.shutdown(Duration::from_secs(10)).await;
}
