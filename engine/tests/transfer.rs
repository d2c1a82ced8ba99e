//! Export and import: lossless round trips, the reference system's own export form, bad lines
//! named by number, all-or-nothing, ids kept, re-imports skipped (without embedding),
//! `replace`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use annal_engine::embed::{EmbedError, EmbedService, Embedder};
use annal_engine::events::EventBus;
use annal_engine::memories::Memories;
use annal_engine::memory::{ChunkType, Content, FileInfo, MemoryId, NewMemory, Source, Tags};
use annal_engine::project::ProjectName;
use annal_engine::search::SearchRequest;
use annal_engine::store::{FileStamp, FileUpdate, StoreItem};
use annal_engine::transfer::{self, ImportOptions, ImportProgress, ImportReport, Scope, Target};
use chrono::Utc;
use futures_util::TryStreamExt as _;

use crate::util::{Fixture, Stored as _, tags, unit_vector};

fn project(name: &str) -> ProjectName {
    ProjectName::parse(name).expect("project name")
}

fn into(name: &str) -> ImportOptions {
    ImportOptions { target: Target::Project(project(name)), replace: false, all_or_nothing: false }
}

async fn export(f: &Fixture, scope: Scope) -> String {
    let export = transfer::export(&f.store, scope).await.expect("export");
    let chunks: Vec<Vec<u8>> = export.chunks.try_collect().await.expect("export stream");
    String::from_utf8(chunks.concat()).expect("an export is ASCII")
}

async fn import(f: &Fixture, text: &str, options: ImportOptions) -> ImportReport {
    transfer::import(&f.memories, text.as_bytes(), options, &mut |_| {}).await.expect("import")
}

/// A project with everything a memory can carry: tags, sources, updates, hit counts and
/// access times, a superseded chain, non-ASCII text and a file chunk with its file fields.
async fn rich_project(f: &Fixture) -> Vec<String> {
    let m = &f.memories;
    let first = m
        .remember("p", "Deploys run on Fridays.".into(), tags(&["ops", "Deploy"]), None, None)
        .await
        .stored("first");
    let second = m
        .remember(
            "p",
            "Deploys run on Thursdays now, never on Fridays.".into(),
            tags(&["ops"]),
            Some("standup 2026-02".into()),
            Some(first.clone()),
        )
        .await
        .stored("second");
    let third = m
        .remember("p", "Café naïve ✓: la clé est en UTF-8.".into(), tags(&["i18n"]), None, None)
        .await
        .stored("third");
    m.update("p", &third, None, Some(tags(&["i18n", "encoding"])), None).await.expect("update");
    m.expand("p", vec![second.clone()]).await.expect("expand");
    m.expand("p", vec![second.clone(), third.clone()]).await.expect("expand");
    let chunk = NewMemory {
        id: MemoryId::generate(),
        content: Content::new("## Setup\nRun `make dev` first.", ChunkType::FileIndexed)
            .expect("content"),
        tags: Tags::new(["indexed", "docs"]).expect("tags"),
        source: Source::new("file:/srv/repo/README.md|README.md > Setup").expect("source"),
        chunk_type: ChunkType::FileIndexed,
        created_at: Utc::now(),
        file: Some(FileInfo {
            path: "/srv/repo/README.md".into(),
            mtime_ns: 1_771_668_930_123_456_789,
            size: 512,
            chunk_hash: "ab12".into(),
        }),
        links: Vec::new(),
        redacted: String::new(),
    };
    let chunk_id = chunk.id.as_str().to_owned();
    let stamp = FileStamp { mtime_ns: 1_771_668_930_123_456_789, size: 512 };
    let item = StoreItem { memory: chunk, vector: unit_vector(7), supersedes: None };
    let update =
        FileUpdate { path: "/srv/repo/README.md".into(), stamp, keep: vec![], add: vec![item] };
    f.store.replace_file(&project("p"), update).await.expect("file chunk");
    vec![first, second, third, chunk_id]
}

#[tokio::test]
async fn export_import_export_is_byte_identical_and_keeps_ids() {
    let source = Fixture::new().await;
    let ids = rich_project(&source).await;
    let exported = export(&source, Scope::Project(project("p"))).await;
    assert_eq!(exported.lines().count(), 4, "{exported}");
    for id in &ids {
        assert!(exported.contains(&format!("{{\"id\": \"{id}\", ")), "{id} kept: {exported}");
    }
    assert!(exported.is_ascii(), "non-ASCII is escaped as json.dumps does: {exported}");
    for needle in [
        &format!("\"superseded_by\": \"{}\"", ids[1]),
        "\"hit_count\": 2",
        "\"updated_at\": \"",
        "\"last_accessed_at\": \"",
        "\"tags\": [\"i18n\", \"encoding\"]",
        "Caf\\u00e9 na\\u00efve \\u2713",
        "\"file_mtime_ns\": 1771668930123456789",
        "\"file_mtime\": 1771668930.12345",
        "\"file_path\": \"/srv/repo/README.md\"",
        "\"chunk_hash\": \"ab12\"",
        "\"file_size\": 512",
        "+00:00\"",
    ] {
        assert!(exported.contains(needle), "{needle} in {exported}");
    }

    let target = Fixture::new().await;
    let report = import(&target, &exported, into("p")).await;
    assert_eq!(
        (report.lines, report.counts.stored, report.projects.clone()),
        (4, 4, vec!["p".into()])
    );
    assert_eq!(export(&target, Scope::Project(project("p"))).await, exported);

    // Importing again skips every id; the data is unchanged.
    let again = import(&target, &exported, into("p")).await;
    assert_eq!((again.counts.stored, again.counts.skipped), (0, 4));
    assert_eq!(export(&target, Scope::Project(project("p"))).await, exported);

    // `replace` overwrites them with what the file says.
    let edited = exported.replace("Deploys run on Fridays.", "Deploys ran on Fridays in 2025.");
    let replace = ImportOptions { replace: true, ..into("p") };
    let replaced = import(&target, &edited, replace).await;
    assert_eq!((replaced.counts.replaced, replaced.counts.stored), (4, 0));
    assert_eq!(export(&target, Scope::Project(project("p"))).await, edited);

    // Imported memories are searchable (last: a search counts hits), and the superseded one stays hidden.
    let found = target
        .memories
        .search(SearchRequest::new("p", "which day do deploys run"))
        .await
        .expect("search");
    let hits: Vec<&str> = found.hits.iter().map(|h| h.memory.id.as_str()).collect();
    assert_eq!(hits.first(), Some(&ids[1].as_str()), "{hits:?}");
    assert!(!hits.contains(&ids[0].as_str()), "superseded stays hidden: {hits:?}");
}

#[tokio::test]
async fn an_export_of_all_projects_names_each_lines_project_and_imports_back_there() {
    let source = Fixture::new().await;
    let m = &source.memories;
    m.remember("alpha", "Alpha uses Postgres.".into(), tags(&["db"]), None, None).await.stored("a");
    m.remember("beta", "Beta uses SQLite.".into(), tags(&["db"]), None, None).await.stored("b");
    let all = export(&source, Scope::All).await;
    assert!(
        all.contains("\"project\": \"alpha\"") && all.contains("\"project\": \"beta\""),
        "{all}"
    );

    let target = Fixture::new().await;
    let per_line = ImportOptions {
        target: Target::PerLine { default: project("elsewhere") },
        replace: false,
        all_or_nothing: false,
    };
    let report = import(&target, &all, per_line).await;
    assert_eq!(report.projects, ["alpha", "beta"]);
    assert_eq!(export(&target, Scope::All).await, all);
}

/// Lines exactly as the reference system's `json.dumps` writes them: `", "` and `": "`
/// separators, non-ASCII escaped, microsecond and whole-second `+00:00` timestamps, tags as a
/// JSON-encoded string, optional keys left out, a file chunk with float `file_mtime`, and the
/// memories it stored without complaint: no tags, and empty text.
#[tokio::test]
async fn the_reference_systems_export_imports_unchanged() {
    let text = concat!(
        r#"{"id": "3f1c2a9e-0b7d-4c1e-9a51-5d2f0e8b7c11", "text": "Caf\u00e9 orders use UTC \u2713", "#,
        r#""metadata": {"tags": "[\"decision\", \"time\"]", "source": "", "#,
        r#""chunk_type": "agent-memory", "created_at": "2026-02-21T10:15:30.123456+00:00", "#,
        r#""updated_at": "2026-02-22T08:00:00+00:00", "hit_count": 3}}"#,
        "\n\n",
        r###"{"id": "c0ffee00-1111-2222-3333-444455556666", "text": "## Setup\nRun make.", "###,
        r#""metadata": {"tags": ["indexed", "docs"], "#,
        r#""source": "file:/home/u/proj/README.md|README.md > Setup", "#,
        r#""chunk_type": "file-indexed", "created_at": "2026-02-21T10:15:31+00:00", "#,
        r#""file_mtime": 1771668930.5}}"#,
        "\r\n",
        r#"{"id": "minimal-1", "text": "Only the required keys.", "metadata": {"tags": ["x"]}}"#,
        "\n",
        r#"{"id": "untagged-1", "text": "Stored without tags.", "metadata": {"tags": [], "source": null}}"#,
        "\n",
        r#"{"id": "empty-1", "text": "  ", "metadata": {"tags": ["x"]}}"#,
        "\n",
    );
    let f = Fixture::new().await;
    let report = import(&f, text, into("p")).await;
    assert_eq!((report.lines, report.counts.stored), (5, 4), "{report:?}");
    assert_eq!((report.untagged, report.empty), (1, 1), "{report:?}");
    let ids = ["3f1c2a9e-0b7d-4c1e-9a51-5d2f0e8b7c11", "c0ffee00-1111-2222-3333-444455556666"]
        .map(|id| MemoryId::parse(id).expect("id"));
    let got = f.store.get(&project("p"), ids.to_vec()).await.expect("get");
    let (memory, chunk) = (&got[0], &got[1]);
    assert_eq!(memory.content, "Café orders use UTC ✓");
    assert_eq!(memory.tags, ["decision", "time"]);
    assert_eq!(memory.hit_count, 3);
    assert_eq!(memory.created_at.to_rfc3339(), "2026-02-21T10:15:30.123456+00:00");
    assert_eq!(
        memory.updated_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-02-22T08:00:00+00:00")
    );
    let file = chunk.file.as_ref().expect("file fields");
    assert_eq!(
        (file.path.as_str(), file.mtime_ns),
        ("/home/u/proj/README.md", 1_771_668_930_500_000_000)
    );
    // The hash the indexer computes, so an unchanged file is not embedded again.
    use sha2::Digest as _;
    assert_eq!(file.chunk_hash, format!("{:x}", sha2::Sha256::digest("## Setup\nRun make.")));
    let id = |id: &str| vec![MemoryId::parse(id).expect("id")];
    let untagged = f.store.get(&project("p"), id("untagged-1")).await.expect("get");
    assert_eq!(untagged[0].tags, [transfer::UNTAGGED]);
    let empty = f.store.get(&project("p"), id("empty-1")).await.expect("get");
    assert!(empty.is_empty(), "an empty memory is left out: {empty:?}");
    // Our export writes the reference's own first line back as it was, byte for byte, plus
    // the keys it lacks.
    let exported = export(&f, Scope::Project(project("p"))).await;
    let first = exported.lines().next().expect("a line");
    let reference = concat!(
        r#"{"id": "3f1c2a9e-0b7d-4c1e-9a51-5d2f0e8b7c11", "text": "Caf\u00e9 orders use UTC \u2713", "#,
        r#""metadata": {"tags": ["decision", "time"], "source": "", "#,
        r#""chunk_type": "agent-memory", "created_at": "2026-02-21T10:15:30.123456+00:00", "#,
        r#""updated_at": "2026-02-22T08:00:00+00:00", "hit_count": 3}}"#,
    );
    assert_eq!(first, reference);
    assert!(exported.contains("\"created_at\": \"2026-02-21T10:15:31+00:00\""), "{exported}");
}

#[tokio::test]
async fn a_bad_line_is_named_by_its_number_and_the_lines_before_it_stay() {
    let good = r#"{"id": "g1", "text": "fine", "metadata": {"tags": ["t"]}}"#;
    let long_tag =
        format!(r#"{{"id": "x", "text": "t", "metadata": {{"tags": ["{}"]}}}}"#, "t".repeat(65));
    let cases = [
        (r#"{"id": "x", "text": "no metadata"}"#, "missing field `metadata`"),
        (r#"{"text": "t", "metadata": {}}"#, "missing field `id`"),
        (r#"{"id": "x", "metadata": {}}"#, "missing field `text`"),
        ("not json at all", "not a JSON object"),
        (r#"{"id": "x", "text": "t", "metadata": {"created_at": "soon"}}"#, "created_at"),
        (
            r#"{"id": "x", "text": "t", "metadata": {"created_at": "2026-13-45T00:00:00+00:00"}}"#,
            "created_at",
        ),
        (r#"{"id": "x", "text": "t", "metadata": {"chunk_type": "note"}}"#, "chunk_type"),
        (r#"{"id": "x", "text": "t", "metadata": {"hit_count": -1}}"#, "not a JSON object"),
        (r#"{"id": "", "text": "t", "metadata": {}}"#, "not a valid id"),
        (&long_tag, "longer than 64 characters"),
    ];
    for (bad, why) in cases {
        let f = Fixture::new().await;
        let text = format!("{good}\n\n{bad}\n{good}\n");
        let err = transfer::import(&f.memories, text.as_bytes(), into("p"), &mut |_| {})
            .await
            .expect_err(bad);
        let message = err.to_string();
        assert!(message.starts_with("line 3: "), "{message}");
        assert!(message.contains(why), "{why} in {message}");
        assert!(message.contains("the 1 memory before it stayed stored"), "{message}");
        assert_eq!(f.store.count(&project("p")).await.expect("count"), 1);
    }
    let f = Fixture::new().await;
    let not_utf8 = [good.as_bytes(), b"\n\xff\xfe\n"].concat();
    let all = ImportOptions { all_or_nothing: true, ..into("p") };
    let err =
        transfer::import(&f.memories, &not_utf8[..], all, &mut |_| {}).await.expect_err("utf-8");
    assert!(err.to_string().starts_with("line 2 is not UTF-8"), "{err}");
    assert!(err.to_string().ends_with("nothing was stored"), "{err}");
    assert!(f.store.projects().await.expect("projects").is_empty(), "nothing registered");

    let too_long = format!("{good}\n{}\n", "x".repeat(transfer::MAX_LINE_BYTES + 10));
    let err = transfer::import(&f.memories, too_long.as_bytes(), into("p"), &mut |_| {})
        .await
        .expect_err("long");
    assert!(err.to_string().starts_with("line 2 is longer than"), "{err}");
}

fn lines(count: usize, bad_at: Option<usize>) -> String {
    let mut text = String::new();
    for n in 1..=count {
        if Some(n) == bad_at {
            text.push_str("{\"id\": \"broken\"\n");
        } else {
            let memory = format!("Note {n}: the service listens on port {}.", 8000 + n);
            text.push_str(&format!(
                "{{\"id\": \"n{n}\", \"text\": \"{memory}\", \"metadata\": {{\"tags\": [\"n\"]}}}}\n"
            ));
        }
    }
    text
}

#[tokio::test]
async fn lines_before_a_bad_one_stay_unless_all_or_nothing() {
    let text = lines(300, Some(300));
    let f = Fixture::new().await;
    let err = transfer::import(&f.memories, text.as_bytes(), into("p"), &mut |_| {})
        .await
        .expect_err("bad");
    assert!(err.to_string().starts_with("line 300: "), "{err}");
    assert!(err.to_string().contains("the 299 memories before it stayed stored"), "{err}");
    assert_eq!(err.done.counts.stored, 299);
    assert_eq!(f.store.count(&project("p")).await.expect("count"), 299);
    // Importing the fixed file again stores the rest and skips what is there.
    let fixed = lines(300, None);
    let report = import(&f, &fixed, into("p")).await;
    assert_eq!((report.counts.stored, report.counts.skipped), (1, 299));

    let g = Fixture::new().await;
    let all = ImportOptions { all_or_nothing: true, ..into("p") };
    let err =
        transfer::import(&g.memories, text.as_bytes(), all, &mut |_| {}).await.expect_err("bad");
    assert!(err.to_string().contains("nothing was stored"), "{err}");
    assert_eq!(err.done.counts.stored, 0);
    assert!(g.store.projects().await.expect("projects").is_empty(), "nothing stored");
}

#[tokio::test]
async fn all_or_nothing_stores_nothing_when_the_write_fails() {
    let f = Fixture::new().await;
    let taken = f
        .memories
        .remember("other", "Owned by another project.".into(), tags(&["t"]), None, None)
        .await
        .stored("taken");
    let mut text = lines(20, None);
    text.push_str(&format!(
        "{{\"id\": \"{taken}\", \"text\": \"Same id.\", \"metadata\": {{\"tags\": [\"t\"]}}}}\n"
    ));
    // Skipping an existing id is fine; replacing one of another project is refused.
    let skipped = import(&f, &text, ImportOptions { all_or_nothing: true, ..into("p") }).await;
    assert_eq!((skipped.counts.stored, skipped.counts.skipped), (20, 1));

    let text = text.replace("\"id\": \"n", "\"id\": \"q");
    let options = ImportOptions { all_or_nothing: true, replace: true, ..into("q") };
    let err = transfer::import(&f.memories, text.as_bytes(), options, &mut |_| {})
        .await
        .expect_err("taken");
    assert!(err.to_string().starts_with("line 21: "), "{err}");
    assert!(err.to_string().contains("belongs to project \"other\""), "{err}");
    assert!(!f.store.projects().await.expect("projects").contains(&"q".to_owned()));
}

/// A model stand-in that counts the texts it embeds.
struct Counting(Arc<AtomicUsize>);

impl Embedder for Counting {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.0.fetch_add(texts.len(), Ordering::SeqCst);
        Ok(texts.iter().map(|t| unit_vector(t.len() as u64)).collect())
    }
}

#[tokio::test]
async fn a_re_import_embeds_nothing_and_replace_embeds_everything() {
    let f = Fixture::new().await;
    let embedded = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&embedded);
    let service = EmbedService::start(move || Ok(Counting(Arc::clone(&counter))));
    let events = EventBus::open(f.store.clone()).await.expect("events");
    let memories = Memories::new(f.store.clone(), service, events);
    let text = lines(600, None);
    let mut seen = Vec::new();
    let mut progress = |p: ImportProgress| seen.push(p);
    let first = transfer::import(&memories, text.as_bytes(), into("p"), &mut progress)
        .await
        .expect("import");
    assert_eq!((first.counts.stored, embedded.load(Ordering::SeqCst)), (600, 600));
    // After each batch of 256 (the last one short): how much of the input is done.
    let lines: Vec<u64> = seen.iter().map(|p| p.lines).collect();
    assert_eq!(lines, [256, 512, 600]);
    assert_eq!(seen.last().map(|p| p.bytes), Some(text.len() as u64));
    assert!(seen.windows(2).all(|w| w[0].bytes < w[1].bytes), "{seen:?}");
    let again =
        transfer::import(&memories, text.as_bytes(), into("p"), &mut |_| {}).await.expect("again");
    assert_eq!((again.counts.skipped, embedded.load(Ordering::SeqCst)), (600, 600));
    let replace = ImportOptions { replace: true, ..into("p") };
    let replaced =
        transfer::import(&memories, text.as_bytes(), replace, &mut |_| {}).await.expect("replace");
    assert_eq!((replaced.counts.replaced, embedded.load(Ordering::SeqCst)), (600, 1200));
}
