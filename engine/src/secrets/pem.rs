//! PEM private key blocks: from the BEGIN line through the END line, or, when there is no END
//! line (a truncated paste, a file chunk cut mid-key), through the key material that follows.
//! Lines break at a newline or at an escaped `\n`, as in a JSON service-account file.
//!
//! Each BEGIN line's walk stops at the next `-----BEGIN ` and at [`MAX_BLOCK`], so over a
//! whole scan every byte is walked at most once.

use std::ops::Range;

/// Longest block taken whole; an RSA-16384 key is about 12 KiB. A lone END line further away
/// closes some other block, not this one.
const MAX_BLOCK: usize = 64 * 1024;

/// A block holds key material when it has a run of this many base64 characters: a PEM line
/// is 64. Docs' `...` or `(your key here)` bodies have none, and a shorter fragment of a key
/// is no use to anyone.
const MIN_KEY_RUN: usize = 32;

/// A cut-off last line counts as key material from this length; shorter, it is more likely
/// the first word of the prose after a truncated key.
const MIN_PARTIAL_LINE: usize = 16;

/// The block that the BEGIN line at `header` opens, if it holds key material.
pub(super) fn block(text: &str, header: Range<usize>) -> Option<Range<usize>> {
    let mut limit = (header.end + MAX_BLOCK).min(text.len());
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let bytes = &text.as_bytes()[..limit];
    match end_line(text, header.end, limit) {
        Some(end) => (longest_base64_run(&bytes[header.end..end]) >= MIN_KEY_RUN)
            .then_some(header.start..end),
        None => truncated(bytes, header.end).map(|end| header.start..end),
    }
}

/// The end of the first `-----END … PRIVATE KEY-----` line after `from`, unless another
/// marker line comes first.
fn end_line(text: &str, from: usize, limit: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let marker = at + text[at..limit].find("-----")?;
        let rest = &text[marker + 5..limit];
        if rest.starts_with("BEGIN ") {
            return None;
        }
        if let Some(label) = rest.strip_prefix("END ") {
            // A label is a few words: look no further, so the walk stays bounded.
            let window = &label.as_bytes()[..label.len().min(45)];
            let close = window.windows(5).position(|w| w == b"-----")?;
            let name = &label[..close];
            let private = name.ends_with("PRIVATE KEY") || name.ends_with("PRIVATE KEY BLOCK");
            let shape =
                name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
            return (private && shape).then_some(marker + 5 + 4 + close + 5);
        }
        at = marker + 5;
    }
}

/// The end of the key material after a BEGIN line with no END line: base64 lines, RFC 1421
/// headers (`Proc-Type: 4,ENCRYPTED`) and the blank line after them, and a cut-off last line.
fn truncated(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    let mut end = from;
    let mut longest = 0;
    let mut after_header = false;
    while let Some(line) = line_break(bytes, at) {
        let start = line + bytes[line..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        let run = bytes[start..].iter().take_while(|&&b| is_base64(b)).count();
        let run_end = start + run;
        if run_end == bytes.len() || line_break(bytes, run_end).is_some() {
            if run == 0 {
                // A blank line belongs to the block only after its headers.
                if !after_header {
                    break;
                }
            } else {
                longest = longest.max(run);
                end = run_end;
            }
            after_header = false;
            at = run_end;
        } else if let Some(line_end) = header_line(bytes, start) {
            end = line_end;
            at = line_end;
            after_header = true;
        } else {
            if run >= MIN_PARTIAL_LINE {
                longest = longest.max(run);
                end = run_end;
            }
            break;
        }
    }
    (longest >= MIN_KEY_RUN).then_some(end)
}

/// Where the line after the break at `at` starts, if there is a break at `at`.
fn line_break(bytes: &[u8], at: usize) -> Option<usize> {
    let rest = &bytes[at..];
    [&b"\r\n"[..], b"\n", b"\r", b"\\r\\n", b"\\n"]
        .iter()
        .find(|brk| rest.starts_with(brk))
        .map(|brk| at + brk.len())
}

/// The end of an RFC 1421 header line (`Name: value`) starting at `start`.
fn header_line(bytes: &[u8], start: usize) -> Option<usize> {
    let name =
        bytes[start..].iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-').count();
    let after = start + name;
    if name == 0 || !bytes[start].is_ascii_alphabetic() || !bytes[after..].starts_with(b": ") {
        return None;
    }
    let mut end = after;
    while end < bytes.len() && line_break(bytes, end).is_none() {
        end += 1;
    }
    Some(end)
}

fn longest_base64_run(bytes: &[u8]) -> usize {
    bytes.split(|&b| !is_base64(b)).map(<[u8]>::len).max().unwrap_or(0)
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}
