//! The terminal commands. Each parses its arguments and either calls one engine function
//! (doctor, install) or the running owner (starting one when none answers: `owner_client`),
//! then renders the answer; none opens the database.

pub mod doctor;
pub mod export;
pub mod hook;
pub mod import;
pub mod index;
pub mod install;
pub mod owner_client;
mod progress;
pub mod review;
pub mod search;
pub mod status;
pub mod store;
pub mod topics;

use anyhow::Context as _;

use crate::project::ProjectName;

/// A project name as given on the command line, checked before it goes into a URL.
pub fn project(name: String) -> anyhow::Result<String> {
    Ok(ProjectName::parse(name.trim())?.to_string())
}

/// The project a command works on: the one given, else the current directory's basename (as
/// agents name it).
pub fn project_or_cwd(given: Option<String>) -> anyhow::Result<String> {
    if let Some(name) = given {
        return project(name);
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let name = cwd.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    ProjectName::parse(name)
        .map(|p| p.to_string())
        .with_context(|| format!("{} names no project; pass --project", cwd.display()))
}

/// What a started owner must be told to use the same config as this command.
pub fn serve_args(explicit_config: &Option<std::path::PathBuf>) -> Vec<String> {
    match explicit_config {
        Some(file) => vec!["--config".to_owned(), file.display().to_string()],
        None => Vec::new(),
    }
}
