//! The secret filter on every write path: store, batch, update, retag, import, the dashboard's
//! create and edit, and file indexing, under each policy of `secrets:` (top level and per
//! project). After the writes the database file and its WAL (raw bytes, so the FTS index
//! too), the event feed and an export are searched for every secret: never found, except
//! under `allow`, which also shows the search would see one. Hooks redact what `allow` kept.
//!
//! Every secret is built at run time from fragments, as in `secrets.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use annal_engine::config::{Config, ProjectInit};
use annal_engine::dashboard::{Dashboard, ErrorKind, MemoryDraft, MemoryEdit};
use annal_engine::hooks::HookRequest;
use annal_engine::memories::BatchItem;
use annal_engine::memory::{ChunkType, Field, MemoryId};
use annal_engine::pool::{IndexState, Pool};
use annal_engine::project::ProjectName;
use annal_engine::search::SearchRequest;
use annal_engine::secrets::{Policy, SecretKind};
use annal_engine::store::StoreOutcome;
use annal_engine::transfer::{self, ImportOptions, Scope, Target};
use futures_util::TryStreamExt as _;

use crate::common::fake_secrets::github_token as token;
use crate::util::{Stored as _, assert_err_contains, memories_of_type, open_pool, tags};

/// The password of a database URL, and the URL.
fn url_password(seed: u64) -> (String, String) {
    let password = format!("Pw{}", &token(seed)[4..24]);
    (password.clone(), format!("postgres://deploy:{password}@db.internal:5432/app"))
}

/// A pool over a fresh home whose config file holds `config`.
async fn pool_with(config: &str) -> (tempfile::TempDir, Arc<Pool>) {
    let home = tempfile::tempdir().expect("home");
    std::fs::write(home.path().join("config.yaml"), config).expect("config");
    let pool = open_pool(home.path()).await;
    (home, pool)
}

fn project(name: &str) -> ProjectName {
    ProjectName::parse(name).expect("project name")
}

/// The forms in which a secret could sit in the database's bytes: as written, and as the FTS
/// index keeps its terms — lower-cased, split at `_`, stemmed at the end and stored after
/// the prefix a term shares with the one before it, so the middle of each long part.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    for part in secret.split(['_', ':', '@', '/']).filter(|part| part.len() >= 16) {
        forms.push(part.to_lowercase()[4..16].to_owned());
    }
    forms
}

/// Whether the database file or its WAL holds `needle`, as raw bytes.
fn database_holds(home: &Path, needle: &str) -> bool {
    ["annal.db", "annal.db-wal"].iter().any(|name| {
        std::fs::read(home.join("data").join(name))
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

/// Which of `secrets` the database file or its WAL holds, in any of its [`forms`].
fn in_database(home: &Path, secrets: &[String]) -> Vec<String> {
    let holds = |secret: &String| forms(secret).iter().any(|form| database_holds(home, form));
    secrets.iter().filter(|secret| holds(secret)).cloned().collect()
}

/// Everything that leaves the database by other ways: the event feed and an export of all.
async fn feed_and_export(pool: &Pool) -> String {
    let events = serde_json::to_string(&pool.events().recent()).expect("events");
    let export = transfer::export(pool.memories().store(), Scope::All).await.expect("export");
    let chunks: Vec<Vec<u8>> = export.chunks.try_collect().await.expect("export stream");
    format!("{events}\n{}", String::from_utf8(chunks.concat()).expect("ASCII"))
}

fn assert_nowhere(text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "a secret leaked into: {text}");
    }
}

async fn wait_indexed(pool: &Pool, name: &str, chunks: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = pool.index_status(name).await.expect("status");
        if status.index == IndexState::Idle
            && status.last_reconcile.is_some()
            && status.stats.file_chunks == chunks
        {
            return;
        }
        assert!(Instant::now() < deadline, "not indexed: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn import_line(id: &str, text: &str, chunk_type: &str) -> String {
    let line = serde_json::json!({
        "id": id,
        "text": text,
        "metadata": {
            "tags": ["imported"],
            "chunk_type": chunk_type,
            "source": "file:/srv/app/deploy.md|deploy.md > Keys",
            "chunk_hash": "the-hash-of-the-text-before",
        },
    });
    format!("{line}\n")
}

fn into(name: &str) -> ImportOptions {
    ImportOptions { target: Target::Project(project(name)), replace: false, all_or_nothing: false }
}

#[test]
fn the_policy_is_set_at_the_top_and_per_project_and_a_bad_value_names_its_key() {
    let path = Path::new("/x/config.yaml");
    let config = Config::parse("secrets: refuse\nprojects:\n  notes:\n    secrets: allow\n", path)
        .expect("valid");
    assert_eq!(config.secrets_for(&project("notes")), Policy::Allow);
    assert_eq!(config.secrets_for(&project("other")), Policy::Refuse);
    let default = Config::parse("port: 9300\n", path).expect("valid");
    assert_eq!(default.secrets_for(&project("any")), Policy::Redact);
    assert!(
        !default.to_yaml(path).expect("yaml").contains("secrets"),
        "the default is not written"
    );
    let saved = config.to_yaml(path).expect("yaml");
    assert_eq!(Config::parse(&saved, path).expect("reload"), config);

    for (text, key) in [
        ("secrets: sometimes\n", "line 1, column 10: secrets: unknown variant `sometimes`"),
        ("projects:\n  notes:\n    secrets: Refuse\n", "line 3, column 14: projects.notes.secrets"),
    ] {
        let message = Config::parse(text, path).expect_err(text).to_string();
        assert!(message.contains(key), "{message:?} names {key}");
        let values = "expected one of `redact`, `refuse`, `allow`";
        assert!(message.contains(values), "{message:?} lists the values");
    }
}

#[tokio::test]
async fn every_write_path_redacts_by_default_and_no_secret_reaches_the_database() {
    let (home, pool) = pool_with("").await;
    let memories = pool.memories();
    let dashboard = Dashboard::new(Arc::clone(&pool), "/usr/bin/annal".into());
    let secrets: Vec<String> = (1..=12).map(token).collect();
    let (password, url) = url_password(99);

    // store_memory: content, tags and source, each reported by field and position.
    let content = format!("CI pushes with {} as GITHUB_TOKEN.", secrets[0]);
    let stored = memories
        .store_memory(
            "app",
            content.clone(),
            tags(&["ci", &secrets[1]]),
            Some(format!("from {url}")),
            None,
        )
        .await
        .expect("store");
    let start = content.find(&secrets[0]).expect("token");
    let fields: Vec<(Field, SecretKind, usize, usize)> =
        stored.redactions.iter().map(|r| (r.field, r.kind, r.start, r.end)).collect();
    let at = "from postgres://deploy:".len();
    assert_eq!(
        fields,
        [
            (Field::Content, SecretKind::GithubToken, start, start + 40),
            (Field::Tag(1), SecretKind::GithubToken, 0, 40),
            (Field::Source, SecretKind::UrlPassword, at, at + password.len()),
        ]
    );
    let StoreOutcome::Stored { id, .. } = &stored.outcome else { panic!("{stored:?}") };
    let memory = &memories.expand("app", vec![id.clone()]).await.expect("expand").memories[0];
    assert_eq!(memory.content, "CI pushes with [redacted:github-token] as GITHUB_TOKEN.");
    assert_eq!(memory.tags, ["ci", "[redacted:github-token]"]);
    assert_eq!(
        memory.source,
        "from postgres://deploy:[redacted:url-password]@db.internal:5432/app"
    );

    // store_batch: per item.
    let item = |content: String| BatchItem {
        content: Some(content),
        tags: Some(tags(&["batch"])),
        ..Default::default()
    };
    let batch = memories
        .store_batch(
            "app",
            vec![item("A plain note about batches.".into()), item(format!("Key {}", secrets[2]))],
        )
        .await
        .expect("batch");
    assert!(batch[0].redactions.is_empty());
    assert_eq!(batch[1].redactions.len(), 1);

    // update_memory and retag_memory.
    let updated = memories
        .update_memory("app", id, Some(format!("Rotated to {}.", secrets[3])), None, None, None)
        .await
        .expect("update");
    assert_eq!(updated.memory.content, "Rotated to [redacted:github-token].");
    assert_eq!(updated.redactions[0].start, "Rotated to ".len());
    let retagged =
        memories.retag_memory("app", id, Some(vec![secrets[4].clone()]), None, None).await;
    assert_eq!(retagged.expect("retag").redactions.len(), 1);

    // The dashboard's create and edit: the reply carries the redactions beside the outcome.
    let draft = MemoryDraft {
        content: format!("Dashboard note with {}", secrets[5]),
        tags: tags(&["dash"]),
        source: None,
        supersedes: None,
    };
    let created = dashboard.create_memory("app", draft).await.expect("create");
    let json = serde_json::to_value(&created).expect("json");
    assert_eq!(json["status"], "stored");
    assert_eq!(json["redactions"][0]["field"], "content");
    assert_eq!(json["redactions"][0]["kind"], "github-token");
    assert_eq!(json["redactions"][0]["start"], "Dashboard note with ".len());
    let StoreOutcome::Stored { id: made, .. } = &created.outcome else { panic!("{created:?}") };
    let edit =
        MemoryEdit { content: Some(format!("Edited: {}", secrets[6])), ..Default::default() };
    let edited = dashboard.edit_memory("app", made, edit).await.expect("edit");
    let json = serde_json::to_value(&edited).expect("json");
    assert_eq!(
        (json["id"].as_str(), json["redactions"][0]["kind"].as_str()),
        (Some(made.as_str()), Some("github-token"))
    );

    // Import: an agent memory and a file chunk, whose stale hash is replaced.
    let lines = import_line("imp-1", &format!("Imported {}", secrets[7]), "agent-memory")
        + &import_line("imp-2", &format!("## Keys\nexport TOKEN={}", secrets[8]), "file-indexed");
    let report = transfer::import(memories, lines.as_bytes(), into("app"), &mut |_| {})
        .await
        .expect("import");
    assert_eq!((report.counts.stored, report.redacted), (2, 2));
    let chunks = memories_of_type(memories.store(), &project("app"), ChunkType::FileIndexed)
        .await
        .expect("chunks");
    assert_eq!(chunks[0].content, "## Keys\nexport TOKEN=[redacted:github-token]");
    let hash = &chunks[0].file.as_ref().expect("file").chunk_hash;
    assert_ne!(hash, "the-hash-of-the-text-before", "the hash is of the stored text");

    // File indexing: a markdown section and a whole YAML file.
    let docs = tempfile::tempdir().expect("docs");
    std::fs::write(
        docs.path().join("deploy.md"),
        format!(
            "# Deploy\nUse {} to push.\n## Slack\nWebhook token: {}\n",
            secrets[9], secrets[10]
        ),
    )
    .expect("md");
    std::fs::write(docs.path().join("ci.yaml"), format!("github_token: {}\n", secrets[11]))
        .expect("yaml");
    let watch =
        ProjectInit { watch_paths: Some(vec![docs.path().to_path_buf()]), ..Default::default() };
    pool.init_project("docs", watch, None).await.expect("init");
    wait_indexed(&pool, "docs", 3).await;
    let indexed = memories_of_type(memories.store(), &project("docs"), ChunkType::FileIndexed)
        .await
        .expect("chunks");
    assert!(indexed.iter().all(|c| c.content.contains("[redacted:github-token]")), "{indexed:?}");

    let mut all = secrets.clone();
    all.push(password);
    assert_eq!(in_database(home.path(), &all), Vec::<String>::new());
    assert_nowhere(&feed_and_export(&pool).await, &all);
    pool.shutdown(Duration::from_secs(10)).await;
    assert_eq!(in_database(home.path(), &all), Vec::<String>::new(), "after the checkpoint");
}

#[tokio::test]
async fn refuse_names_the_kind_and_position_and_writes_nothing() {
    let (home, pool) = pool_with("secrets: refuse\n").await;
    let memories = pool.memories();
    let dashboard = Dashboard::new(Arc::clone(&pool), "/usr/bin/annal".into());
    let secrets: Vec<String> = (20..=27).map(token).collect();
    let content = format!("The deploy key is {}.", secrets[0]);
    let at = content.find(&secrets[0]).expect("token");

    let refused = memories.store_memory("app", content, tags(&["ci"]), None, None).await;
    assert_err_contains(
        refused,
        &format!("content: the text holds a secret: github-token at bytes {at}..{}", at + 40),
    );
    assert_err_contains(
        memories.store_memory("app", "Plain text.".into(), tags(&[&secrets[1]]), None, None).await,
        "tags[0]: the text holds a secret: github-token at bytes 0..40",
    );
    // Nothing was written: not even the project was registered.
    assert!(pool.memories().store().projects().await.expect("projects").is_empty());

    // A batch is validated whole first: one refused item stores none.
    let item = |content: String| BatchItem {
        content: Some(content),
        tags: Some(tags(&["batch"])),
        ..Default::default()
    };
    let batch = vec![item("A plain note.".into()), item(format!("Key {}", secrets[2]))];
    assert_err_contains(
        memories.store_batch("app", batch).await,
        "memories[1]: content: the text holds a secret: github-token",
    );
    assert!(pool.memories().store().projects().await.expect("projects").is_empty());

    // Updates, retags and the dashboard are refused the same way and change nothing.
    let plain = memories
        .store_memory("app", "Deploys need a key.".into(), tags(&["ci"]), None, None)
        .await
        .expect("plain");
    let StoreOutcome::Stored { id, .. } = &plain.outcome else { panic!("{plain:?}") };
    assert_err_contains(
        memories
            .update_memory("app", id, Some(format!("Key: {}", secrets[3])), None, None, None)
            .await,
        "github-token at bytes",
    );
    assert_err_contains(
        memories
            .update_memory("app", id, None, None, Some(format!("see {}", secrets[4])), None)
            .await,
        "source: the text holds a secret",
    );
    assert_err_contains(
        memories.retag_memory("app", id, None, None, Some(vec![secrets[5].clone()])).await,
        "tags[0]",
    );
    let draft = MemoryDraft {
        content: format!("Dashboard {}", secrets[6]),
        tags: tags(&["dash"]),
        source: None,
        supersedes: None,
    };
    let err = dashboard.create_memory("app", draft).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let memory = &memories.expand("app", vec![id.clone()]).await.expect("expand").memories[0];
    assert_eq!(
        (memory.content.as_str(), &memory.tags[..]),
        ("Deploys need a key.", &["ci".to_owned()][..])
    );

    // Import: a refused line is a bad line; a file chunk is redacted, not refused.
    let lines = import_line("ok-1", "## Keys\nsee the vault", "agent-memory")
        + &import_line("chunk-1", &format!("token: {}", secrets[7]), "file-indexed")
        + &import_line("bad-1", &format!("Imported {}", secrets[0]), "agent-memory");
    let err = transfer::import(memories, lines.as_bytes(), into("app"), &mut |_| {})
        .await
        .expect_err("refused");
    let message = err.to_string();
    assert!(
        message.starts_with("line 3: content: the text holds a secret: github-token"),
        "{message}"
    );
    assert_eq!((err.done.counts.stored, err.done.redacted), (2, 1));

    assert_eq!(in_database(home.path(), &secrets), Vec::<String>::new());
    assert_nowhere(&feed_and_export(&pool).await, &secrets);
    pool.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn allow_stores_as_given_per_project_and_hooks_still_redact() {
    let config = "secrets: allow\nprojects:\n  strict:\n    secrets: refuse\n";
    let (home, pool) = pool_with(config).await;
    let memories = pool.memories();
    let secret = token(40);
    let content = format!("Pinned: the release bot pushes with {secret} every night.");
    let stored = memories
        .store_memory("app", content.clone(), tags(&["pinned", "release"]), None, None)
        .await
        .expect("allowed");
    assert!(stored.redactions.is_empty());
    assert_err_contains(
        memories.store_memory("strict", content, tags(&["pinned"]), None, None).await,
        "github-token",
    );
    // The control: what `allow` kept is in the file, as written and as the FTS index's
    // lower-cased term, so the other tests' search would see either.
    for form in forms(&secret) {
        assert!(database_holds(home.path(), &form), "{form} not found");
    }

    let request = |prompt: &str| HookRequest {
        project: "app".into(),
        session_id: String::new(),
        prompt: prompt.into(),
    };
    let brief = pool.hooks().session_start(&request("")).await.expect("brief");
    assert!(brief.text.contains("[redacted:github-token]"), "{}", brief.text);
    let recall = pool
        .hooks()
        .prompt_submit(&request("How does the release bot push every night?"))
        .await
        .expect("recall");
    assert!(recall.text.contains("[redacted:github-token]"), "{}", recall.text);
    for text in [&brief.text, &recall.text] {
        assert!(!text.contains(&secret), "{text}");
    }
    pool.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn secrets_stored_before_the_filter_are_scrubbed_once_and_wiped_from_the_file() {
    // An older database: secrets stored as given (here under `allow`), and no record that the
    // scrub ran.
    let (home, pool) = pool_with("secrets: allow\n").await;
    let secret = token(41);
    let content = format!("The release bot pushes with {secret} every night.");
    let kept = "Nothing secret here about the release train.".to_owned();
    let leaky = pool
        .memories()
        .remember("app", content, tags(&["release"]), Some(format!("pasted {secret}")), None)
        .await
        .stored("leaky");
    let clean = pool.memories().remember("app", kept.clone(), tags(&["release"]), None, None).await;
    let clean = clean.stored("clean");
    pool.shutdown(Duration::from_secs(10)).await;
    drop(pool);
    let db = tokio_rusqlite::rusqlite::Connection::open(home.path().join("data/annal.db"))
        .expect("open the database");
    db.execute("DELETE FROM maintenance", []).expect("forget the scrub");
    drop(db);
    assert!(!in_database(home.path(), std::slice::from_ref(&secret)).is_empty(), "the control");

    // The next start (the policy back to redact) scrubs in the background.
    std::fs::write(home.path().join("config.yaml"), "").expect("config");
    let pool = open_pool(home.path()).await;
    let ids = |id: &str| vec![MemoryId::parse(id).expect("id")];
    let deadline = Instant::now() + Duration::from_secs(60);
    let scrubbed = loop {
        let got = pool.memories().store().get(&project("app"), ids(&leaky)).await.expect("get");
        if got[0].content.contains("[redacted:github-token]") {
            break got.into_iter().next().expect("memory");
        }
        assert!(Instant::now() < deadline, "never scrubbed: {:?}", got[0].content);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(scrubbed.source, "pasted [redacted:github-token]");
    let untouched = pool.memories().store().get(&project("app"), ids(&clean)).await.expect("get");
    assert_eq!(untouched[0].content, kept);
    let inbox = pool.memories().inbox("app").await.expect("inbox");
    let item = inbox.items.iter().find(|i| i.memory.id == leaky).expect("listed for review");
    assert!(item.reason.contains("github-token at bytes 28..68"), "{}", item.reason);
    // The search finds it by its words, not by the secret.
    let found = pool.memories().search(SearchRequest::new("app", "release bot nightly push")).await;
    assert!(found.expect("search").hits.iter().any(|h| h.memory.id == leaky));
    let by_secret = pool.memories().search(SearchRequest::new("app", &secret)).await;
    let texts: Vec<String> =
        by_secret.expect("search").hits.iter().map(|h| h.memory.content.clone()).collect();
    assert_nowhere(&texts.join("\n"), std::slice::from_ref(&secret));
    pool.shutdown(Duration::from_secs(10)).await;
    let left: Vec<String> =
        forms(&secret).into_iter().filter(|f| database_holds(home.path(), f)).collect();
    assert!(left.is_empty(), "still in the file: {left:?}");
    drop(pool);

    // Once is enough: a later start finds the record and reads nothing.
    let pool = open_pool(home.path()).await;
    let report = pool.memories().scrub_secrets().await.expect("scrub");
    assert_eq!(report, annal_engine::memories::ScrubReport::default());
    pool.shutdown(Duration::from_secs(10)).await;
}
