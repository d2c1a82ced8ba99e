//! Files only the user can read. Loopback and `/tmp` are shared by every account on a machine,
//! so the data dir is 0700 and every file Annal keeps (database, WAL, lock, token, address,
//! logs, config) is 0600 — created so, and tightened when an older install left them wider.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) as 0700, and narrows it to 0700 if it already exists
/// with group or other access.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    tighten(dir, DIR_MODE)
}

/// Takes group and other access away from `path` (a no-op when it has none or does not
/// exist), with a log line saying what changed.
pub fn tighten(path: &Path, mode: u32) -> std::io::Result<()> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    // Never follow a link: chmod would change whatever it points at.
    if metadata.file_type().is_symlink() {
        return Ok(());
    }
    let before = metadata.permissions().mode() & 0o7777;
    if before & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    tracing::info!(
        path = %path.display(),
        "tightened permissions from {before:04o} to {mode:04o}: only this user may read Annal's files"
    );
    Ok(())
}

/// Tightens the data dir and every file directly in it, as an owner does at start so an
/// install made before files were created private stops being readable by other accounts.
pub fn tighten_data_dir(dir: &Path) -> std::io::Result<()> {
    create_dir(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        if file_type.is_file() {
            tighten(&entry.path(), FILE_MODE)?;
        } else if file_type.is_dir() {
            tighten(&entry.path(), DIR_MODE)?;
        }
    }
    Ok(())
}

/// Options that create a file as 0600.
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Opens `path` for appending, creating it as 0600.
pub fn append(path: &Path) -> std::io::Result<File> {
    let file = options().create(true).append(true).open(path)?;
    tighten(path, FILE_MODE)?;
    Ok(file)
}

/// Replaces `path`'s contents, creating it as 0600.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = options().create(true).write(true).truncate(true).open(path)?;
    tighten(path, FILE_MODE)?;
    file.write_all(bytes)?;
    file.sync_all()
}
