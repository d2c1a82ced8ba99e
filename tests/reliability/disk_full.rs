//! The data dir on a small tmpfs that fills up: stores fail with a clear error (no hang, no
//! crash), the owner stays up, what was stored before is intact, and stores work again once
//! space is freed. Needs root for the mount; skipped with a message otherwise.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Agent, Guard, Home, acknowledged_id, integrity, is_alive, note, report, stop};
use super::{stored_memories, wait_until};

const BEFORE: usize = 10;
/// Stores tried against the full disk before the test gives up on seeing one fail.
const MAX_TRIES: usize = 200;

/// Unmounts the tmpfs however the test ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn mount_tmpfs(dir: &Path) -> Result<Mount, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not root".into());
    }
    std::fs::create_dir_all(dir).map_err(|err| err.to_string())?;
    let output = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|err| format!("mount: {err}"))?;
    if !output.status.success() {
        return Err(format!("mount failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(Mount(dir.to_path_buf()))
}

/// Writes `path` until the file system is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("filler");
    let block = vec![0xa5_u8; 16 * 1024];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::StorageFull => break,
            Err(err) => panic!("filling the disk: {err}"),
        }
    }
    // What the page cache still holds must be on the tmpfs too.
    let _ = file.sync_all();
}

fn store(agent: &mut Agent, n: usize) -> (String, Result<String, String>) {
    let content = note(n);
    let arguments = json!({"project": "app", "content": content, "tags": ["disk"]});
    let result = agent.call("store_memory", arguments);
    (content, result)
}

#[test]
fn a_full_disk_fails_stores_clearly_and_they_resume_when_space_returns() {
    let home = Home::new();
    let data = home.data_dir();
    let _mount = match mount_tmpfs(&data) {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("skipped: the disk-full case needs a tmpfs mount ({why})");
            report("disk full (4 MiB tmpfs)", &format!("skipped: {why}"), "-");
            return;
        }
    };
    let owner = Guard(home.serve());
    let pid = owner.0.id();
    let mut agent = Agent::start(&home);
    let mut acknowledged = Vec::new();
    for n in 0..BEFORE {
        let (content, result) = store(&mut agent, n);
        let text = result.expect("a store before the disk is full");
        acknowledged.push((acknowledged_id(&text).expect("id"), content));
    }

    let filler = data.join("filler");
    fill(&filler);
    let full_at = Instant::now();
    let mut failed = Vec::new();
    let mut stored_while_full = 0;
    let mut slowest = Duration::ZERO;
    for n in BEFORE..BEFORE + MAX_TRIES {
        let asked = Instant::now();
        let (content, result) = store(&mut agent, n);
        slowest = slowest.max(asked.elapsed());
        match result {
            Ok(text) => {
                // SQLite reuses space its WAL already holds, so the first stores may fit.
                acknowledged.push((acknowledged_id(&text).expect("id"), content));
                stored_while_full += 1;
            }
            Err(message) => {
                failed.push((content, message));
                if failed.len() == 3 {
                    break;
                }
            }
        }
    }
    let first_error = full_at.elapsed();
    assert!(!failed.is_empty(), "{MAX_TRIES} stores on a full disk all succeeded");
    for (_, message) in &failed {
        assert!(
            message.contains("full") && message.len() < 1024,
            "not a clear disk-full error: {message}"
        );
    }
    assert!(is_alive(pid), "the owner survives the full disk");
    let found = agent
        .call("search_memories", json!({"project": "app", "query": note(0), "limit": 1}))
        .expect("search while the disk is full");
    assert!(found.contains(&acknowledged[0].0), "{found}");

    std::fs::remove_file(&filler).expect("free the space");
    let resumed_at = Instant::now();
    let resumed = BEFORE + MAX_TRIES;
    let (content, result) = store(&mut agent, resumed);
    let text = result.expect("the first store after space returned");
    acknowledged.push((acknowledged_id(&text).expect("id"), content));
    let resume = resumed_at.elapsed();
    let ids: Vec<&str> = acknowledged.iter().map(|(id, _)| id.as_str()).collect();
    let expanded = agent
        .call("expand_memories", json!({"project": "app", "memory_ids": ids}))
        .expect("expand");
    assert!(!expanded.contains("Not found"), "{expanded}");
    assert!(agent.finish().success());

    let mut owner = owner;
    stop(pid);
    let status = owner.0.wait().expect("owner exit");
    assert!(status.success(), "owner exit: {status}");
    let db = home.database();
    assert_eq!(integrity(&db), "ok");
    let on_disk = stored_memories(&db, "app");
    for (id, content) in &acknowledged {
        assert!(on_disk.contains(&(id.clone(), content.clone())), "acknowledged {id} is on disk");
    }
    for (content, message) in &failed {
        assert!(
            !on_disk.iter().any(|(_, c)| c == content),
            "{content:?} was reported failed ({message}) but is stored"
        );
    }
    wait_until("no process is left", Duration::from_secs(10), || home.processes().is_empty());
    home.assert_no_panic_logged();
    report(
        "disk full (4 MiB tmpfs)",
        &format!(
            "{BEFORE} before, {stored_while_full} fitted, {} failed ({:?}), resumed, intact",
            failed.len(),
            failed[0].1
        ),
        &format!(
            "first error after {} ms, slowest call {} ms, resumed in {} ms",
            first_error.as_millis(),
            slowest.as_millis(),
            resume.as_millis()
        ),
    );
}
