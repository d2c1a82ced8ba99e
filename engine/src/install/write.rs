//! Writing a client's file so that nothing of the user's can be lost: the file is re-read
//! just before and must still be what the plan was made from (a client may have rewritten it
//! meanwhile), a copy of the original goes beside it before Annal's first change
//! (`<file>.annal-backup`, never overwritten), and the new bytes replace the old in one rename
//! from a temp file in the same directory, with the old file's permissions.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The backup of `path`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".annal-backup");
    PathBuf::from(name)
}

/// The file's bytes, `None` when it does not exist.
pub(super) fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Whether the file exists and its permissions forbid writing it. Checked on the mode, not by
/// trying: a rename would replace a read-only file all the same, and root may write anything.
pub(super) fn read_only(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
}

/// Why a write did not happen. The file is as it was in each case.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("it changed since the plan was made; run the command again")]
    Changed,
    #[error("it is read-only")]
    ReadOnly,
    #[error("{what}: {source}")]
    Io { what: &'static str, source: std::io::Error },
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> WriteError {
    move |source| WriteError::Io { what, source }
}

/// Replaces `path`, which must still hold `before` (`None`: must not exist), with `after`
/// (`None`: remove it), backing `before` up first when `backup` (and no backup exists).
pub(super) fn replace(
    path: &Path,
    before: Option<&[u8]>,
    after: Option<&[u8]>,
    backup: bool,
) -> Result<(), WriteError> {
    // Through a symlink (dotfiles kept in a repository) to the file it names: a rename over
    // the link would replace the link.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let current = read(&target).map_err(io("reading it again"))?;
    if current.as_deref() != before {
        return Err(WriteError::Changed);
    }
    let Some(after) = after else {
        return std::fs::remove_file(&target).map_err(io("removing it"));
    };
    let permissions = match std::fs::metadata(&target) {
        Ok(metadata) if metadata.permissions().readonly() => return Err(WriteError::ReadOnly),
        Ok(metadata) => Some(metadata.permissions()),
        Err(_) => None,
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(io("creating its folder"))?;
    if let (Some(original), Some(permissions), true) = (before, &permissions, backup) {
        write_backup(&backup_path(path), original, permissions)?;
    }
    // The temp file is created 0600; a new config file stays so (agents' configs can hold
    // credentials), an existing one gets its own mode back.
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io("creating a temp file"))?;
    tmp.write_all(after).map_err(io("writing the temp file"))?;
    if let Some(permissions) = permissions {
        tmp.as_file().set_permissions(permissions).map_err(io("setting its permissions"))?;
    }
    tmp.as_file().sync_all().map_err(io("syncing the temp file"))?;
    tmp.persist(&target)
        .map_err(|e| WriteError::Io { what: "renaming it into place", source: e.error })?;
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io("syncing its folder"))?;
    Ok(())
}

/// Backs `path` up before another program (the client's own CLI) changes it: it must still
/// hold `before`.
pub(super) fn backup(path: &Path, before: Option<&[u8]>) -> Result<(), WriteError> {
    let current = read(path).map_err(io("reading it again"))?;
    if current.as_deref() != before {
        return Err(WriteError::Changed);
    }
    match (before, std::fs::metadata(path)) {
        (Some(original), Ok(metadata)) => {
            write_backup(&backup_path(path), original, &metadata.permissions())
        }
        _ => Ok(()),
    }
}

/// The original as it was before Annal first changed it; an existing backup is never
/// overwritten (it is older, so closer to what the user had).
fn write_backup(
    backup: &Path,
    original: &[u8],
    permissions: &std::fs::Permissions,
) -> Result<(), WriteError> {
    // Created 0600, then given the original's mode: never readable by others in between.
    let mut file = match crate::private_files::options().write(true).create_new(true).open(backup) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(source) => return Err(WriteError::Io { what: "creating its backup", source }),
    };
    file.set_permissions(permissions.clone()).map_err(io("setting the backup's permissions"))?;
    file.write_all(original).and_then(|()| file.sync_all()).map_err(io("writing its backup"))
}
