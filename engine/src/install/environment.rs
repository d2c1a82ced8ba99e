//! Where a client's files are depends on the process environment (HOME, XDG_CONFIG_HOME,
//! CODEX_HOME, PATH, the working directory). Taking it once into a value lets the CLI use the
//! real one and tests a temp home, without touching process-wide variables.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::InstallError;

/// The environment an install plan is made in.
#[derive(Debug, Clone)]
pub struct Environment {
    pub home: PathBuf,
    /// `XDG_CONFIG_HOME`, else `~/.config`.
    pub config_home: PathBuf,
    /// `CODEX_HOME`, else `~/.codex`.
    pub codex_home: PathBuf,
    /// `CLAUDE_CONFIG_DIR`: where Claude Code keeps `.claude.json` and `CLAUDE.md` when set.
    pub claude_config_dir: Option<PathBuf>,
    /// `%APPDATA%` (Windows).
    pub app_data: Option<PathBuf>,
    /// `PATH`, for detecting clients' binaries and resolving `annal`.
    pub path: Option<OsString>,
    /// The project directory for project scope.
    pub cwd: PathBuf,
    /// The `annal` binary entries point at unless told otherwise: the running one for the
    /// CLI; a desktop app (whose own executable is not the MCP server) sets its sidecar's.
    pub exe: PathBuf,
}

impl Environment {
    /// The running process's environment.
    pub fn from_process() -> Result<Self, InstallError> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME").or_else(|| var("USERPROFILE")).ok_or(InstallError::NoHome)?;
        let cwd = std::env::current_dir().map_err(|source| InstallError::Environment {
            what: "the working directory",
            source,
        })?;
        let exe = std::env::current_exe()
            .map_err(|source| InstallError::Environment { what: "the running binary", source })?;
        Ok(Self {
            config_home: var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")),
            codex_home: var("CODEX_HOME").unwrap_or_else(|| home.join(".codex")),
            claude_config_dir: var("CLAUDE_CONFIG_DIR"),
            app_data: var("APPDATA"),
            path: std::env::var_os("PATH"),
            home,
            cwd,
            exe,
        })
    }

    /// An environment rooted at `home` (the defaults of every variable, no PATH): what tests
    /// and benchmarks start from.
    pub fn in_home(home: &Path, exe: &Path) -> Self {
        Self {
            home: home.to_path_buf(),
            config_home: home.join(".config"),
            codex_home: home.join(".codex"),
            claude_config_dir: None,
            app_data: None,
            path: None,
            cwd: home.to_path_buf(),
            exe: exe.to_path_buf(),
        }
    }

    /// The first executable named `name` on PATH.
    pub fn which(&self, name: &str) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        std::env::split_paths(path).map(|dir| dir.join(name)).find(|file| is_executable(file))
    }

    /// What an entry runs: `annal` when PATH finds this same binary under that name (the entry
    /// then survives a reinstall to the same place), else the binary's absolute path.
    pub fn annal_command(&self) -> String {
        let exe = std::fs::canonicalize(&self.exe).unwrap_or_else(|_| self.exe.clone());
        let on_path = self.which("annal").and_then(|found| std::fs::canonicalize(found).ok());
        if on_path.as_deref() == Some(exe.as_path()) {
            "annal".to_owned()
        } else {
            exe.display().to_string()
        }
    }

    /// Whether `command` (an absolute path, or a name looked up on PATH) names an executable.
    pub fn command_found(&self, command: &str) -> bool {
        let path = Path::new(command);
        if path.components().count() > 1 {
            is_executable(path)
        } else {
            self.which(command).is_some()
        }
    }
}

#[cfg(unix)]
fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(file: &Path) -> bool {
    std::fs::metadata(file).is_ok_and(|m| m.is_file())
}
