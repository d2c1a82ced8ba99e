//! The instruction block in a client's user-level instruction file (`CLAUDE.md`, `AGENTS.md`,
//! `GEMINI.md`): one marked section Annal owns, inserted once, replaced in place when its text
//! changes, removed on uninstall. Every byte outside the markers is the user's.

use super::document::EditError;

pub const BEGIN: &str = "<!-- annal:begin -->";
pub const END: &str = "<!-- annal:end -->";

/// Where the block is: the byte range from its begin marker to the end of its end marker.
fn find(text: &str) -> Result<Option<(usize, usize)>, EditError> {
    let Some(start) = text.find(BEGIN) else {
        if text.contains(END) {
            return Err(unbalanced(
                text,
                text.find(END).unwrap_or(0),
                "an end marker without a begin marker",
            ));
        }
        return Ok(None);
    };
    let Some(end) = text[start..].find(END).map(|e| start + e + END.len()) else {
        return Err(unbalanced(text, start, "a begin marker without an end marker"));
    };
    if text[end..].contains(BEGIN) {
        return Err(unbalanced(text, end + text[end..].find(BEGIN).unwrap_or(0), "a second block"));
    }
    Ok(Some((start, end)))
}

fn unbalanced(text: &str, offset: usize, what: &str) -> EditError {
    let (line, column) = super::document::line_column(text, offset);
    EditError::Parse { message: format!("{what} ({BEGIN} … {END})"), line, column }
}

/// The file's line ending: CRLF when every line has one.
fn newline(text: &str) -> &'static str {
    let crlf = text.matches("\r\n").count();
    if crlf > 0 && crlf == text.matches('\n').count() { "\r\n" } else { "\n" }
}

/// The block with its markers, in the file's line endings.
fn render(body: &str, nl: &str) -> String {
    let mut block = String::new();
    for line in [BEGIN, body.trim(), END] {
        block.push_str(line);
        block.push('\n');
    }
    block.pop();
    block.replace('\n', nl)
}

/// Whether the file holds a block, and whether it is the current text.
pub(super) fn state(text: &str, body: &str) -> Result<Option<bool>, EditError> {
    Ok(find(text)?.map(|(start, end)| text[start..end] == render(body, newline(text))))
}

/// The text with the current block; `None` when it already has it.
pub(super) fn upsert(text: &str, body: &str) -> Result<Option<String>, EditError> {
    let nl = newline(text);
    let block = render(body, nl);
    match find(text)? {
        Some((start, end)) if text[start..end] == block => Ok(None),
        Some((start, end)) => Ok(Some(format!("{}{block}{}", &text[..start], &text[end..]))),
        // Appended after a blank line, ending the way the file ended, so that removing it
        // gives back the same bytes.
        None if text.is_empty() => Ok(Some(format!("{block}{nl}"))),
        None if text.ends_with('\n') => Ok(Some(format!("{text}{nl}{block}{nl}"))),
        None => Ok(Some(format!("{text}{nl}{nl}{block}"))),
    }
}

/// The text without the block; `None` when it has none.
pub(super) fn remove(text: &str) -> Result<Option<String>, EditError> {
    let Some((start, end)) = find(text)? else { return Ok(None) };
    let nl = newline(text);
    let (before, after) = (&text[..start], &text[end..]);
    let after_line = after.strip_prefix(nl).unwrap_or(after);
    if !after_line.is_empty() {
        // In the middle of the file: take its lines out, leave the rest as it is.
        return Ok(Some(format!("{before}{after_line}")));
    }
    // At the end: also the blank line `upsert` put before it (and, when the block was the
    // last thing without a newline, the one that ended the user's last line).
    let ended_with_newline = after.starts_with(nl);
    let blank = format!("{nl}{nl}");
    let before = match before.strip_suffix(&blank) {
        Some(trimmed) if ended_with_newline => format!("{trimmed}{nl}"),
        Some(trimmed) => trimmed.to_owned(),
        None => before.to_owned(),
    };
    Ok(Some(before))
}
