//! The unified diff a dry run shows and the dashboard's Connect button asks to confirm.

use std::path::Path;

/// `before` → `after` of `path` as a unified diff (`/dev/null` for a missing side); empty when
/// they are equal.
pub(super) fn unified(path: &Path, before: Option<&str>, after: Option<&str>) -> String {
    if before == after {
        return String::new();
    }
    let name = path.display().to_string();
    let old_name = if before.is_some() { name.as_str() } else { "/dev/null" };
    let new_name = if after.is_some() { name.as_str() } else { "/dev/null" };
    similar::TextDiff::from_lines(before.unwrap_or(""), after.unwrap_or(""))
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header(old_name, new_name)
        .to_string()
}
