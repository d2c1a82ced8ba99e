//! Eight sidecars storing at once while the owner indexes a project of a few hundred markdown
//! files: every store is answered without error and is on disk, and the index completes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Agent, Home, acknowledged_id, integrity, note, report, stop, stored_memories};

const SIDECARS: usize = 8;
const STORES_EACH: usize = 25;
const FILES: usize = 200;
const SECTIONS: usize = 2;

/// `FILES` markdown files of `SECTIONS` sections each, every section a distinct note (numbered
/// apart from the stored ones).
fn write_docs(dir: &Path) {
    std::fs::create_dir_all(dir).expect("docs dir");
    for file in 0..FILES {
        let mut text = format!("# Topic {file}\n");
        for section in 0..SECTIONS {
            let n = 100_000 + file * SECTIONS + section;
            text.push_str(&format!("\n## Part {section}\n{}\n", note(n)));
        }
        std::fs::write(dir.join(format!("topic-{file}.md")), text).expect("doc");
    }
}

#[test]
#[ignore = "over a minute on a loaded machine: scripts/reliability runs it"]
fn eight_sidecars_store_during_an_indexing_run_without_errors() {
    let home = Home::new();
    let docs = home.path().join("project").join("docs");
    write_docs(&docs);
    let started = Instant::now();
    let mut first = Agent::start(&home);
    let init = first
        .call("init_project", json!({"project_name": "app", "watch_paths": [docs]}))
        .expect("init_project");
    assert!(init.contains("Indexing runs"), "{init}");

    let acked = AtomicUsize::new(0);
    let (stores_during_index, status, indexed, stored, stores_done) = std::thread::scope(|scope| {
        let agents: Vec<_> = (0..SIDECARS)
            .map(|sidecar| {
                let (home, acked) = (&home, &acked);
                scope.spawn(move || {
                    let mut agent = Agent::start(home);
                    let mut results = Vec::new();
                    for k in 0..STORES_EACH {
                        let content = note(sidecar * 1_000 + k);
                        let arguments = json!({"project": "app", "content": content,
                            "tags": ["concurrent", format!("agent:{sidecar}")]});
                        results.push((content, agent.call("store_memory", arguments)));
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    (agent.finish(), results, started.elapsed())
                })
            })
            .collect();
        // Watch the index run while the sidecars store: how many stores it overlapped.
        let (stores_during_index, status) = loop {
            let status = first.call("index_status", json!({"project": "app"})).expect("status");
            if status.contains("idle") && status.contains("Last reconcile") {
                break (acked.load(Ordering::SeqCst), status);
            }
            assert!(!status.contains("FAILED"), "{status}");
            assert!(started.elapsed() < Duration::from_secs(600), "indexing never ended: {status}");
            std::thread::sleep(Duration::from_millis(50));
        };
        let indexed = started.elapsed();
        let mut stored = Vec::new();
        let mut stores_done = Duration::ZERO;
        for agent in agents {
            let (exit, results, done) = agent.join().expect("a storing sidecar");
            assert!(exit.success(), "sidecar exit {exit}");
            stored.extend(results);
            stores_done = stores_done.max(done);
        }
        (stores_during_index, status, indexed, stored, stores_done)
    });
    assert!(
        status.contains(&format!("{FILES} files indexed")) && status.contains(" 0 skipped"),
        "{status}"
    );
    assert!(stores_during_index > 0, "no store was answered while the index ran: {status}");
    assert!(first.finish().success());
    stop(home.owner_pid().expect("owner"));

    let errors: Vec<_> = stored.iter().filter_map(|(_, result)| result.as_ref().err()).collect();
    assert!(errors.is_empty(), "{} of {} stores failed: {errors:?}", errors.len(), stored.len());
    let db = home.database();
    assert_eq!(integrity(&db), "ok");
    let on_disk: HashMap<String, String> = stored_memories(&db, "app").into_iter().collect();
    for (content, result) in &stored {
        let text = result.as_deref().unwrap_or_default();
        assert!(text.starts_with("Stored memory"), "{content:?} was not stored: {text}");
        let id = acknowledged_id(text).expect("id");
        assert_eq!(on_disk.get(&id), Some(content), "{id} on disk");
    }
    assert_eq!(on_disk.len(), SIDECARS * STORES_EACH);
    let chunks: i64 = db
        .query_row("SELECT count(*) FROM memories WHERE chunk_type = 'file-indexed'", [], |row| {
            row.get(0)
        })
        .expect("chunk count");
    assert_eq!(chunks, (FILES * SECTIONS) as i64, "every section indexed");
    assert!(home.processes().is_empty(), "leftover processes: {:?}", home.processes());
    home.assert_no_panic_logged();
    report(
        &format!("{SIDECARS} sidecars storing during indexing"),
        &format!(
            "{} stored, 0 errors, {} while indexing {FILES} files, {chunks} chunks",
            stored.len(),
            stores_during_index
        ),
        &format!(
            "index run {:.1} s, all stores {:.1} s",
            indexed.as_secs_f64(),
            stores_done.as_secs_f64()
        ),
    );
}
