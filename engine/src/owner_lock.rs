//! The lock that makes one process the owner of a data dir. Opening a [`crate::pool::Pool`]
//! takes an [`OwnerLock`], and only [`OwnerLock::acquire`] makes one, so a second pool over
//! one data dir cannot be written, let alone run.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "owner.lock";
/// Written by the desktop app while it takes over: headless owners that sidecars start in the
/// meantime step aside instead of grabbing the lock the app is waiting for.
const HANDOVER_FILE: &str = "handover";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another Annal owner (pid {pid}) is running on {}; stop it first", .data_dir.display())]
    Busy { pid: String, data_dir: PathBuf },
    #[error("the Annal desktop app (pid {pid}) is taking over {}; not starting", .data_dir.display())]
    HandingOver { pid: u32, data_dir: PathBuf },
    #[error("{what} {}: {source}", .path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LockError + use<> {
    let path = path.to_path_buf();
    move |source| LockError::Io { what, path, source }
}

/// Which kind of process owns a data dir; written into the lock file so the desktop app knows
/// whether it may ask the current owner to step aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Headless,
    Desktop,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Headless => "headless",
            Self::Desktop => "desktop",
        }
    }
}

/// The exclusive lock on a data dir, held for the owner's lifetime (released on exit, even a
/// crash: it is an OS file lock). The file holds the owner's pid and role.
#[derive(Debug)]
pub struct OwnerLock {
    _file: File,
    data_dir: PathBuf,
}

impl OwnerLock {
    pub fn acquire(data_dir: &Path, role: Role) -> Result<Self, LockError> {
        crate::private_files::tighten_data_dir(data_dir)
            .map_err(io("cannot create or secure the data dir", data_dir))?;
        if role == Role::Headless
            && let Some(pid) = taking_over(data_dir)
        {
            return Err(LockError::HandingOver { pid, data_dir: data_dir.to_path_buf() });
        }
        let path = data_dir.join(LOCK_FILE);
        let mut file = crate::private_files::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("cannot open lock file", &path))?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(LockError::Busy {
                pid: holder.lines().next().unwrap_or_default().trim().to_owned(),
                data_dir: data_dir.to_path_buf(),
            });
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .map_err(io("cannot write lock file", &path))?;
        write!(file, "{}\n{}\n", std::process::id(), role.as_str())
            .map_err(io("cannot write lock file", &path))?;
        file.sync_all().map_err(io("cannot write lock file", &path))?;
        Ok(Self { _file: file, data_dir: data_dir.to_path_buf() })
    }

    /// The data dir this lock owns.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// The owner named in the lock file, only if that process is alive and (on Linux, where
/// `/proc/locks` says so) holds the lock: a lock file outlives its owner, and its pid may
/// since have gone to another process.
pub fn live_owner(data_dir: &Path) -> Option<(u32, Role)> {
    let (pid, role) = current_owner(data_dir)?;
    rustix::process::test_kill_process(process(pid)?).ok()?;
    holds_lock(pid, &data_dir.join(LOCK_FILE)).then_some((pid, role))
}

#[cfg(target_os = "linux")]
fn holds_lock(pid: u32, lock: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let (Ok(meta), Ok(locks)) = (std::fs::metadata(lock), std::fs::read_to_string("/proc/locks"))
    else {
        return true;
    };
    // "1: FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF"
    let (pid, inode) = (pid.to_string(), meta.ino().to_string());
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&"FLOCK")
            && fields.get(4) == Some(&pid.as_str())
            && fields.get(5).and_then(|f| f.rsplit(':').next()) == Some(inode.as_str())
    })
}

#[cfg(not(target_os = "linux"))]
fn holds_lock(_pid: u32, _lock: &Path) -> bool {
    true
}

/// The owner's pid and role as written in the lock file, if any.
pub fn current_owner(data_dir: &Path) -> Option<(u32, Role)> {
    let text = std::fs::read_to_string(data_dir.join(LOCK_FILE)).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let role = if lines.next() == Some("desktop") { Role::Desktop } else { Role::Headless };
    Some((pid, role))
}

/// A process id as the OS takes it.
pub fn process(pid: u32) -> Option<rustix::process::Pid> {
    rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)
}

/// The live desktop app taking over this data dir, if any.
fn taking_over(data_dir: &Path) -> Option<u32> {
    let pid: u32 =
        std::fs::read_to_string(data_dir.join(HANDOVER_FILE)).ok()?.trim().parse().ok()?;
    let alive = rustix::process::test_kill_process(process(pid)?).is_ok();
    (alive && pid != std::process::id()).then_some(pid)
}

/// The handover marker of a desktop app taking over; removed however the take-over ends.
#[derive(Debug)]
pub struct Handover(PathBuf);

impl Handover {
    pub fn mark(data_dir: &Path) -> Result<Self, LockError> {
        let marker = data_dir.join(HANDOVER_FILE);
        crate::private_files::write(&marker, std::process::id().to_string().as_bytes())
            .map_err(io("cannot write the handover marker", &marker))?;
        Ok(Self(marker))
    }
}

impl Drop for Handover {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
