//! Project names: the namespaces inside the one database.
//!
//! A name ends up in file names, URLs and SQL parameters, so only a small, safe alphabet is
//! accepted. A refused name always comes with a valid suggestion, because the usual caller is
//! an agent that passed the basename of its working directory and needs to know what to use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::excerpt::excerpt;

/// Longest accepted project name, in characters.
pub const MAX_PROJECT_NAME_LEN: usize = 64;

/// A validated project name: 1–64 of `[A-Za-z0-9._-]`, not starting with `.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid project name {}: {reason}; use 1-{MAX_PROJECT_NAME_LEN} letters, digits, \
     '.', '_' or '-', not starting with '.', for example {suggestion:?}",
    excerpt(name)
)]
pub struct InvalidProjectName {
    pub name: String,
    pub reason: &'static str,
    pub suggestion: String,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

impl ProjectName {
    pub fn parse(name: &str) -> Result<Self, InvalidProjectName> {
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.chars().count() > MAX_PROJECT_NAME_LEN {
            Some("it is longer than 64 characters")
        } else if name.starts_with('.') {
            Some("it starts with '.'")
        } else if !name.chars().all(is_name_char) {
            Some("it contains a character other than letters, digits, '.', '_' or '-'")
        } else {
            None
        };
        match reason {
            None => Ok(Self(name.to_owned())),
            Some(reason) => {
                Err(InvalidProjectName { name: name.to_owned(), reason, suggestion: suggest(name) })
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Derives a valid name from an invalid one: path separators and other characters become
/// `-`, runs of `-` collapse, leading dots and dashes go, and the result is cut to length.
fn suggest(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if is_name_char(c) { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let trimmed: String =
        out.trim_start_matches(['.', '-']).chars().take(MAX_PROJECT_NAME_LEN).collect();
    let trimmed = trimmed.trim_end_matches('-');
    if trimmed.is_empty() { "my-project".to_owned() } else { trimmed.to_owned() }
}

impl TryFrom<String> for ProjectName {
    type Error = InvalidProjectName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProjectName> for String {
    fn from(value: ProjectName) -> Self {
        value.0
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in ["annal", "my_app-2.0", "A", &"x".repeat(64)] {
            assert_eq!(ProjectName::parse(name).map(|n| n.0), Ok(name.to_owned()));
        }
    }

    #[test]
    fn refuses_invalid_names_with_a_valid_suggestion() {
        let cases = [
            ("../x", "x"),
            ("a/b", "a-b"),
            ("", "my-project"),
            (".hidden", "hidden"),
            ("my project!", "my-project"),
        ];
        for (name, suggestion) in cases {
            let err = ProjectName::parse(name).expect_err(name);
            assert_eq!(err.suggestion, suggestion, "{name}");
            assert!(ProjectName::parse(&err.suggestion).is_ok());
            assert!(err.to_string().contains(&format!("{name:?}")));
        }
        let long = "y".repeat(65);
        let err = ProjectName::parse(&long).expect_err("65 chars");
        assert_eq!(err.suggestion.len(), 64);
    }
}
