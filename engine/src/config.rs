//! The YAML config: where it lives, what it holds, how `init_project` merges into it, and how
//! it is saved without ever losing or half-writing it.
//!
//! Saving is deliberately separate from any engine lock: [`ConfigFile::update`] serialises
//! config writers among themselves only, and readers take an `Arc` snapshot that never waits
//! for file I/O.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::hooks::{HookOverrides, HookSettings};
use crate::project::{InvalidProjectName, ProjectName};
use crate::secrets::Policy;

pub const DEFAULT_PORT: u16 = 9200;
const CONFIG_FILE_NAME: &str = "config.yaml";

pub const DEFAULT_WATCH_PATTERNS: &[&str] =
    &["**/*.md", "**/*.yaml", "**/*.yml", "**/*.toml", "**/*.json"];
pub const DEFAULT_WATCH_EXCLUDE: &[&str] = &[
    "**/node_modules/**",
    "**/vendor/**",
    "**/.git/**",
    "**/.venv/**",
    "**/__pycache__/**",
    "**/dist/**",
    "**/build/**",
    "**/target/**",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config {path} is not valid UTF-8 text")]
    NotUtf8 { path: PathBuf },
    #[error("invalid config {path} at line {line}, column {column}: {message}")]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    #[error("invalid config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "cannot save config {path}: its setting `{key}` cannot be written back as YAML \
         ({message}); simplify that setting by hand"
    )]
    Unwritable { path: PathBuf, key: String, message: String },
    #[error("cannot write config {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("path {} is not valid UTF-8 and cannot be stored in the config", .path.display())]
    NonUtf8Path { path: PathBuf },
    #[error("watch path {} does not exist", .path.display())]
    WatchPathMissing { path: PathBuf },
    #[error("watch path {} is not a directory", .path.display())]
    WatchPathNotDir { path: PathBuf },
    #[error("cannot resolve watch path {}: {source}", .path.display())]
    WatchPathUnreadable { path: PathBuf, source: std::io::Error },
    #[error("{field}: invalid glob pattern {}: {message}", crate::excerpt::excerpt(.pattern))]
    InvalidPattern { field: &'static str, pattern: String, message: String },
    #[error("{} changed on disk and no longer parses, so the change was not saved: {source}", .path.display())]
    BrokenOnDisk { path: PathBuf, source: Box<ConfigError> },
    #[error(
        "watch path {} is relative, and this client's working directory is unknown (only the \
         stdio sidecar tells it); give an absolute path",
        .path.display()
    )]
    RelativeWatchPath { path: PathBuf },
    #[error(transparent)]
    ProjectName(#[from] InvalidProjectName),
    #[error("no home directory found; set ANNAL_HOME or pass --config")]
    NoHome,
}

/// The whole config file. Unknown keys are kept so a newer version's settings survive a save
/// by an older one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<PathBuf>,
    pub projects: BTreeMap<ProjectName, ProjectConfig>,
    /// What agent hooks inject (`annal hook`), for every project that does not say otherwise.
    #[serde(skip_serializing_if = "HookSettings::is_default")]
    pub hooks: HookSettings,
    /// What a write does with a secret in what an agent or a person stores (`redact`, `refuse`
    /// or `allow`), for every project that does not say otherwise. File chunks are redacted
    /// whatever this says.
    #[serde(skip_serializing_if = "is_default_policy")]
    pub secrets: Policy,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

fn is_default_policy(policy: &Policy) -> bool {
    *policy == Policy::default()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: None,
            port: DEFAULT_PORT,
            model_dir: None,
            projects: BTreeMap::new(),
            hooks: HookSettings::default(),
            secrets: Policy::default(),
            extra: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectConfig {
    pub watch_paths: Vec<PathBuf>,
    pub watch_patterns: Vec<String>,
    pub watch_exclude: Vec<String>,
    pub watch: bool,
    /// This project's own hook settings (e.g. `enabled: false` to keep its hooks quiet).
    #[serde(skip_serializing_if = "HookOverrides::is_empty")]
    pub hooks: HookOverrides,
    /// This project's own secrets policy; unset, the top-level `secrets` applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Policy>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            watch_paths: Vec::new(),
            watch_patterns: DEFAULT_WATCH_PATTERNS.iter().map(|s| s.to_string()).collect(),
            watch_exclude: DEFAULT_WATCH_EXCLUDE.iter().map(|s| s.to_string()).collect(),
            watch: true,
            hooks: HookOverrides::default(),
            secrets: None,
            extra: BTreeMap::new(),
        }
    }
}

/// Where the config file and the data live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config_file: PathBuf,
    /// Data dir used when the config does not name one.
    pub default_data_dir: PathBuf,
    /// The reference system's config, read (never written) when `config_file` does not exist.
    pub legacy_config: Option<PathBuf>,
}

/// What path resolution depends on, gathered in one place so tests never read the real
/// environment or home.
#[derive(Debug, Clone, Default)]
pub struct PathInputs {
    pub explicit_config: Option<PathBuf>,
    pub annal_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    /// Platform dirs: (config dir, data dir), e.g. `~/.config/annal`, `~/.local/share/annal`.
    pub platform: Option<(PathBuf, PathBuf)>,
}

impl PathInputs {
    pub fn from_env(explicit_config: Option<PathBuf>) -> Self {
        let platform = directories::ProjectDirs::from("", "", "annal")
            .map(|dirs| (dirs.config_dir().to_path_buf(), dirs.data_dir().to_path_buf()));
        Self {
            explicit_config,
            annal_home: std::env::var_os("ANNAL_HOME").filter(|v| !v.is_empty()).map(PathBuf::from),
            home: directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()),
            platform,
        }
    }

    /// `--config` wins, then `ANNAL_HOME` (config and data under one folder), then the
    /// platform dirs with the legacy `~/.annal/config.yaml` as a read-only fallback.
    pub fn resolve(&self) -> Result<Paths, ConfigError> {
        if let Some(home) = &self.annal_home {
            return Ok(Paths {
                config_file: self
                    .explicit_config
                    .clone()
                    .unwrap_or_else(|| home.join(CONFIG_FILE_NAME)),
                default_data_dir: home.join("data"),
                legacy_config: None,
            });
        }
        let (config_dir, data_dir) = self.platform.clone().ok_or(ConfigError::NoHome)?;
        match &self.explicit_config {
            Some(file) => Ok(Paths {
                config_file: file.clone(),
                default_data_dir: data_dir,
                legacy_config: None,
            }),
            None => Ok(Paths {
                config_file: config_dir.join(CONFIG_FILE_NAME),
                default_data_dir: data_dir,
                legacy_config: self.home.as_ref().map(|h| h.join(".annal").join(CONFIG_FILE_NAME)),
            }),
        }
    }
}

impl Config {
    /// Parses YAML text; `path` only labels errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut config: Self = serde_yaml::from_str(text).map_err(|err| match err.location() {
            Some(at) => ConfigError::Parse {
                path: path.to_path_buf(),
                line: at.line(),
                column: at.column(),
                message: err.to_string(),
            },
            None => ConfigError::Invalid { path: path.to_path_buf(), message: err.to_string() },
        })?;
        config.expand_home();
        config
            .check_hooks()
            .map_err(|message| ConfigError::Invalid { path: path.to_path_buf(), message })?;
        Ok(config)
    }

    /// Every hook setting in its range.
    pub fn check_hooks(&self) -> Result<(), String> {
        self.hooks.validate("hooks")?;
        for (name, project) in &self.projects {
            project.hooks.validate(&format!("projects.{name}.hooks"))?;
        }
        Ok(())
    }

    /// The secrets policy writes to `project` run with.
    pub fn secrets_for(&self, project: &ProjectName) -> Policy {
        self.projects.get(project).and_then(|config| config.secrets).unwrap_or(self.secrets)
    }

    /// The hook settings `project` runs with.
    pub fn hooks_for(&self, project: &ProjectName) -> HookSettings {
        match self.projects.get(project) {
            Some(config) => self.hooks.with(&config.hooks),
            None => self.hooks.clone(),
        }
    }

    pub fn to_yaml(&self, path: &Path) -> Result<String, ConfigError> {
        for path in self.all_paths() {
            if path.to_str().is_none() {
                return Err(ConfigError::NonUtf8Path { path: path.clone() });
            }
        }
        serde_yaml::to_string(self).map_err(|err| {
            let (path, message) = (path.to_path_buf(), err.to_string());
            match self.unwritable_setting() {
                Some(key) => ConfigError::Unwritable { path, key, message },
                None => ConfigError::Invalid { path, message },
            }
        })
    }

    /// The unknown setting that serde_yaml reads but cannot write (a mapping key that is itself
    /// a one-entry mapping, or tagged): `key` or `projects.<name>.key`.
    fn unwritable_setting(&self) -> Option<String> {
        let fails = |value: &serde_yaml::Value| serde_yaml::to_string(value).is_err();
        let top = self.extra.iter().find(|(_, value)| fails(value)).map(|(key, _)| key.clone());
        top.or_else(|| {
            self.projects.iter().find_map(|(name, project)| {
                let (key, _) = project.extra.iter().find(|(_, value)| fails(value))?;
                Some(format!("projects.{name}.{key}"))
            })
        })
    }

    /// The data dir: the config's own `data_dir` or the resolved default.
    pub fn data_dir(&self, paths: &Paths) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| paths.default_data_dir.clone())
    }

    fn all_paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.data_dir
            .iter()
            .chain(self.model_dir.iter())
            .chain(self.projects.values().flat_map(|p| p.watch_paths.iter()))
    }

    /// The reference system wrote `~/...` paths; expand them once at load.
    fn expand_home(&mut self) {
        let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()) else {
            return;
        };
        let expand = |p: &mut PathBuf| {
            if let Ok(rest) = p.strip_prefix("~") {
                *p = home.join(rest);
            }
        };
        self.data_dir.iter_mut().for_each(expand);
        self.model_dir.iter_mut().for_each(expand);
        for project in self.projects.values_mut() {
            project.watch_paths.iter_mut().for_each(expand);
        }
    }
}

/// Fields given to `init_project`; `None` means "leave as is" (or the default for a new
/// project).
#[derive(Debug, Clone, Default)]
pub struct ProjectInit {
    pub watch_paths: Option<Vec<PathBuf>>,
    pub watch_patterns: Option<Vec<String>>,
    pub watch_exclude: Option<Vec<String>>,
    pub watch: Option<bool>,
}

/// A [`ProjectInit`] whose paths are known to exist, absolute, canonical and unique.
#[derive(Debug, Clone, Default)]
pub struct ResolvedInit(ProjectInit);

impl ProjectInit {
    /// Checks and canonicalises watch paths; relative ones are taken from `base`, the caller's
    /// working directory, and refused when it is unknown. Patterns are trimmed and
    /// de-duplicated. This is the only step of a merge that touches the disk.
    pub fn resolve(self, base: Option<&Path>) -> Result<ResolvedInit, ConfigError> {
        let watch_paths = match self.watch_paths {
            None => None,
            Some(paths) => {
                let mut resolved: Vec<PathBuf> = Vec::with_capacity(paths.len());
                for path in paths {
                    let path = match base {
                        _ if path.is_absolute() => path,
                        Some(base) => base.join(path),
                        None => return Err(ConfigError::RelativeWatchPath { path }),
                    };
                    let path = resolve_watch_path(&path)?;
                    if !resolved.contains(&path) {
                        resolved.push(path);
                    }
                }
                Some(resolved)
            }
        };
        Ok(ResolvedInit(ProjectInit {
            watch_paths,
            watch_patterns: self
                .watch_patterns
                .map(|p| checked_patterns("watch_patterns", p))
                .transpose()?,
            watch_exclude: self
                .watch_exclude
                .map(|p| checked_patterns("watch_exclude", p))
                .transpose()?,
            watch: self.watch,
        }))
    }
}

fn resolve_watch_path(path: &Path) -> Result<PathBuf, ConfigError> {
    let canonical = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::WatchPathMissing { path: path.to_path_buf() });
        }
        Err(source) => {
            return Err(ConfigError::WatchPathUnreadable { path: path.to_path_buf(), source });
        }
    };
    if !canonical.is_dir() {
        return Err(ConfigError::WatchPathNotDir { path: canonical });
    }
    if canonical.to_str().is_none() {
        return Err(ConfigError::NonUtf8Path { path: canonical });
    }
    Ok(canonical)
}

/// Trims and de-duplicates patterns, and compiles them so that one that cannot be used is
/// refused before it is saved (it would fail every later index run).
fn checked_patterns(
    field: &'static str,
    patterns: Vec<String>,
) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        let pattern = pattern.trim().to_owned();
        if !pattern.is_empty() && !out.contains(&pattern) {
            out.push(pattern);
        }
    }
    glob_set(field, &out)?;
    Ok(out)
}

/// Compiles a project's `watch_patterns` or `watch_exclude` (`field` labels errors).
pub fn glob_set(field: &'static str, patterns: &[String]) -> Result<GlobSet, ConfigError> {
    let invalid = |pattern: &str, err: globset::Error| ConfigError::InvalidPattern {
        field,
        pattern: pattern.to_owned(),
        message: err.kind().to_string(),
    };
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(Glob::new(pattern).map_err(|err| invalid(pattern, err))?);
    }
    builder.build().map_err(|err| invalid(&patterns.join(" "), err))
}

/// One thing `init_project` changed, for the reply to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum ProjectChange {
    Created,
    WatchPaths { before: Vec<PathBuf>, after: Vec<PathBuf> },
    WatchPatterns { before: Vec<String>, after: Vec<String> },
    WatchExclude { before: Vec<String>, after: Vec<String> },
    Watch { before: bool, after: bool },
}

/// The project after a merge and what changed; no changes means the call was a no-op.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome {
    pub project: ProjectConfig,
    pub changes: Vec<ProjectChange>,
}

/// `init_project`'s merge rules: a new project gets the given fields and defaults for the
/// rest; for an existing one each given field replaces that field and omitted fields stay.
pub fn merge_project(existing: Option<&ProjectConfig>, init: ResolvedInit) -> MergeOutcome {
    let init = init.0;
    let mut changes = Vec::new();
    let mut project = match existing {
        Some(project) => project.clone(),
        None => {
            changes.push(ProjectChange::Created);
            ProjectConfig::default()
        }
    };
    if let Some(after) = init.watch_paths
        && after != project.watch_paths
    {
        let before = std::mem::replace(&mut project.watch_paths, after.clone());
        changes.push(ProjectChange::WatchPaths { before, after });
    }
    if let Some(after) = init.watch_patterns
        && after != project.watch_patterns
    {
        let before = std::mem::replace(&mut project.watch_patterns, after.clone());
        changes.push(ProjectChange::WatchPatterns { before, after });
    }
    if let Some(after) = init.watch_exclude
        && after != project.watch_exclude
    {
        let before = std::mem::replace(&mut project.watch_exclude, after.clone());
        changes.push(ProjectChange::WatchExclude { before, after });
    }
    if let Some(after) = init.watch
        && after != project.watch
    {
        changes.push(ProjectChange::Watch { before: project.watch, after });
        project.watch = after;
    }
    MergeOutcome { project, changes }
}

/// The config file on disk and its current contents.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    paths: Paths,
    current: ConfigView,
    /// Orders read-modify-write-save cycles so concurrent updates never lose each other. Only
    /// config writers ever wait on it; readers use `current`.
    writer: tokio::sync::Mutex<()>,
}

impl ConfigFile {
    /// Loads the config (or the legacy one, or defaults when neither exists). An invalid file
    /// is an error, so no `ConfigFile` exists that could overwrite it.
    pub fn load(paths: Paths) -> Result<Self, ConfigError> {
        crate::private_files::tighten(&paths.config_file, crate::private_files::FILE_MODE)
            .map_err(|source| ConfigError::Write { path: paths.config_file.clone(), source })?;
        let config = match read_config(&paths.config_file)? {
            Some(config) => config,
            None => match &paths.legacy_config {
                Some(legacy) => read_config(legacy)?
                    .map(|mut c| {
                        // The legacy data dir holds the reference system's ChromaDB files.
                        c.data_dir = None;
                        c
                    })
                    .unwrap_or_default(),
                None => Config::default(),
            },
        };
        Ok(Self {
            path: paths.config_file.clone(),
            paths,
            current: ConfigView(Arc::new(RwLock::new(Arc::new(config)))),
            writer: tokio::sync::Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn snapshot(&self) -> Arc<Config> {
        self.current.snapshot()
    }

    /// A handle that always reads what this file holds now, for a part of the engine that
    /// looks a setting up on each operation (the secrets policy of a write).
    pub fn view(&self) -> ConfigView {
        self.current.clone()
    }

    /// Re-reads the file, applies `change` to what is on disk (so keys a person added while
    /// the owner ran survive) and saves it atomically if anything changed. Returns `change`'s
    /// result; when the file no longer parses, `change` fails or saving fails, nothing changes
    /// on disk.
    pub async fn update<R>(
        &self,
        change: impl FnOnce(&mut Config) -> Result<R, ConfigError>,
    ) -> Result<R, ConfigError> {
        let _writer = self.writer.lock().await;
        let path = self.path.clone();
        let on_disk = tokio::task::spawn_blocking(move || read_config(&path))
            .await
            .map_err(|join| self.join_error(join))?
            .map_err(|source| ConfigError::BrokenOnDisk {
                path: self.path.clone(),
                source: Box::new(source),
            })?;
        // No file yet (first save, or only a legacy config was read): start from what was loaded.
        let before = on_disk.unwrap_or_else(|| Config::clone(&self.snapshot()));
        let mut next = before.clone();
        let result = change(&mut next)?;
        if next != before {
            let yaml = next.to_yaml(&self.path)?;
            let path = self.path.clone();
            tokio::task::spawn_blocking(move || write_atomically(&path, yaml.as_bytes()))
                .await
                .map_err(|join| self.join_error(join))??;
        }
        match self.current.0.write() {
            Ok(mut guard) => *guard = Arc::new(next),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(next),
        }
        Ok(result)
    }

    fn join_error(&self, join: tokio::task::JoinError) -> ConfigError {
        ConfigError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(join.to_string()),
        }
    }

    /// Merges an `init_project` request into the config and saves it; returns what changed.
    pub async fn init_project(
        &self,
        name: &ProjectName,
        init: ResolvedInit,
    ) -> Result<MergeOutcome, ConfigError> {
        self.update(|config| {
            let outcome = merge_project(config.projects.get(name), init);
            config.projects.insert(name.clone(), outcome.project.clone());
            Ok(outcome)
        })
        .await
    }
}

/// The current contents of a [`ConfigFile`], shared with it: a save is seen at once. Cheap to
/// clone; a read takes an `Arc` snapshot and never waits for I/O.
#[derive(Debug, Clone)]
pub struct ConfigView(Arc<RwLock<Arc<Config>>>);

impl ConfigView {
    pub fn snapshot(&self) -> Arc<Config> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc; the Arc inside
        // is always whole.
        match self.0.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

fn read_config(path: &Path) -> Result<Option<Config>, ConfigError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| ConfigError::NotUtf8 { path: path.to_path_buf() })?;
            Config::parse(&text, path).map(Some)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read { path: path.to_path_buf(), source }),
    }
}

/// Temp file in the same directory, fsync, rename over the target, fsync the directory: a
/// crash leaves either the old or the new file, never a mix.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    let err = |source| ConfigError::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    {
        use std::os::unix::fs::DirBuilderExt as _;
        // Only a folder this creates is made private: `--config` may name a file in any
        // folder of the user's.
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(err)?;
    }
    // The temp file is created 0600, and the rename keeps that mode.
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(err)?;
    Ok(())
}
