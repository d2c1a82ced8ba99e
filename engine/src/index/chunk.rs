//! Cutting files into chunks: markdown by headings, YAML/TOML/JSON whole.
//!
//! A chunk's text starts with its heading path (`guide.md > Setup > Linux`), so the path is
//! both embedded and found by keyword search, and an agent reading a chunk sees where it is.
//!
//! Chunks come out with their secrets redacted, whatever the config's `secrets` policy says:
//! a file is not an agent's write to refuse, and a key in a checked-in `.env.example` or a
//! pasted config must not become searchable. Redacting here, where chunks are made, means the
//! hash that decides re-embedding, the embedding and the stored text are all of the redacted
//! text.

use std::path::Path;

use crate::secrets::redact;

/// One piece of a file, ready to embed, its secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// `file.md > Section > Subsection`, or the file name for a whole-file chunk.
    pub heading_path: String,
    /// The heading path, a blank line, then the section's body.
    pub text: String,
}

/// How a file is chunked, from its extension; `None` for files Annal does not index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Markdown,
    Whole,
}

impl FileKind {
    pub fn of(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "md" | "markdown" | "mdx" => Some(Self::Markdown),
            "yaml" | "yml" | "toml" | "json" => Some(Self::Whole),
            _ => None,
        }
    }
}

/// Chunks a file's text. `text` may carry a BOM and CRLF line ends.
pub fn chunk_file(file_name: &str, kind: FileKind, text: &str) -> Vec<Chunk> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).replace("\r\n", "\n");
    match kind {
        FileKind::Markdown => chunk_markdown(file_name, &text),
        FileKind::Whole => section(file_name.to_owned(), &text).into_iter().collect(),
    }
}

/// The chunk of one section, heading path and body redacted apart (a secret cannot span the
/// blank line between them, and the path alone becomes the chunk's source).
fn section(heading_path: String, body: &str) -> Option<Chunk> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let heading_path = redact(&heading_path).text.into_owned();
    let body = redact(body).text;
    Some(Chunk { text: format!("{heading_path}\n\n{body}"), heading_path })
}

/// An ATX heading: up to three spaces, 1-6 `#`, a space, the title (closing `#`s dropped).
fn heading(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let title = after.trim().trim_end_matches('#').trim_end();
    Some((level, title))
}

fn fence_marker(line: &str) -> Option<&'static str> {
    let trimmed = line.trim_start();
    if trimmed.starts_with("```") {
        Some("```")
    } else if trimmed.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

fn chunk_markdown(file_name: &str, text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut body = String::new();
    let mut fence: Option<&str> = None;
    let heading_path = |path: &[(usize, String)]| {
        std::iter::once(file_name)
            .chain(path.iter().map(|(_, title)| title.as_str()))
            .collect::<Vec<_>>()
            .join(" > ")
    };
    for line in text.lines() {
        match fence {
            Some(open) => {
                if line.trim_start().starts_with(open) {
                    fence = None;
                }
            }
            None => {
                if let Some((level, title)) = heading(line) {
                    chunks.extend(section(heading_path(&path), &body));
                    body.clear();
                    // A heading closes every open heading of its level or deeper; an h1
                    // therefore starts a fresh path.
                    path.retain(|(open, _)| *open < level);
                    path.push((level, title.to_owned()));
                    continue;
                }
                fence = fence_marker(line);
            }
        }
        body.push_str(line);
        body.push('\n');
    }
    chunks.extend(section(heading_path(&path), &body));
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str) -> Vec<String> {
        chunk_file("guide.md", FileKind::Markdown, text)
            .into_iter()
            .map(|c| c.heading_path)
            .collect()
    }

    #[test]
    fn nested_headings_build_paths_and_h1_resets() {
        let text = "# A\nintro\n## B\nbee\n### C\nsee\n## D\ndee\n# E\nee\n### F\neff\n";
        assert_eq!(
            paths(text),
            [
                "guide.md > A",
                "guide.md > A > B",
                "guide.md > A > B > C",
                "guide.md > A > D",
                "guide.md > E",
                "guide.md > E > F"
            ]
        );
    }

    #[test]
    fn headings_without_body_make_no_chunk() {
        let text = "# Title\n\n## Empty parent\n### Child\ncontent\n## Also empty\n   \n";
        assert_eq!(paths(text), ["guide.md > Title > Empty parent > Child"]);
    }

    #[test]
    fn text_without_headings_is_one_chunk_named_by_the_file() {
        let chunks = chunk_file("notes.md", FileKind::Markdown, "just text\nmore\n");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].text, "notes.md\n\njust text\nmore");
        assert!(chunk_file("empty.md", FileKind::Markdown, " \n\n").is_empty());
    }

    #[test]
    fn hashes_inside_code_fences_are_not_headings() {
        let text =
            "# Build\n```sh\n# not a heading\nmake\n```\n~~~\n## nor this\n~~~\n## Test\nrun\n";
        let chunks = chunk_file("guide.md", FileKind::Markdown, text);
        assert_eq!(chunks.len(), 2);
        assert!(
            chunks[0].text.contains("# not a heading") && chunks[0].text.contains("## nor this")
        );
        assert_eq!(chunks[1].heading_path, "guide.md > Build > Test");
    }

    #[test]
    fn crlf_and_bom_are_normalised() {
        let text = "\u{feff}# Title\r\nline one\r\nline two\r\n";
        let chunks = chunk_file("guide.md", FileKind::Markdown, text);
        assert_eq!(chunks[0].heading_path, "guide.md > Title");
        assert_eq!(chunks[0].text, "guide.md > Title\n\nline one\nline two");
    }

    #[test]
    fn heading_syntax_details() {
        assert_eq!(heading("## Title ##"), Some((2, "Title")));
        assert_eq!(heading("   # Indented"), Some((1, "Indented")));
        assert_eq!(heading("    # code block"), None);
        assert_eq!(heading("#hashtag"), None);
        assert_eq!(heading("####### seven"), None);
    }

    #[test]
    fn secrets_are_redacted_in_bodies_and_headings() {
        // Built from parts, so no scanner mistakes this file for a leak.
        let token = format!("gh{}_{}", "p", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bD1fH3jL5");
        let text = format!("# Deploy {token}\nexport GITHUB_TOKEN={token}\n");
        let chunks = chunk_file("guide.md", FileKind::Markdown, &text);
        assert_eq!(chunks[0].heading_path, "guide.md > Deploy [redacted:github-token]");
        assert!(chunks[0].text.ends_with("export GITHUB_TOKEN=[redacted:github-token]"));
        let yaml = chunk_file("ci.yaml", FileKind::Whole, &format!("token: {token}\n"));
        assert_eq!(yaml[0].text, "ci.yaml\n\ntoken: [redacted:github-token]");
    }

    #[test]
    fn config_files_are_one_chunk() {
        let chunks = chunk_file("app.yaml", FileKind::Whole, "# comment\nkey: value\n");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].heading_path, "app.yaml");
        assert_eq!(FileKind::of(Path::new("/x/a.YML")), Some(FileKind::Whole));
        assert_eq!(FileKind::of(Path::new("/x/a.rs")), None);
    }
}
