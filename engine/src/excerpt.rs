//! How error messages quote a rejected value: whole when it is short, else a short prefix and
//! its size. A value can be megabytes (a pasted file as a project name), and an error that
//! repeats it costs the agent's context and the transport as much as the value did.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// Longest quotation, in bytes of its escaped (`{:?}`) form, quotes included.
const MAX_QUOTED: usize = 80;

/// `text` as error messages quote it: `"abc"`, or `"abc…"… (2097152 bytes)` when long.
pub fn excerpt(text: &str) -> Excerpt<'_> {
    Excerpt(text)
}

/// Displays a value for an error message; see [`excerpt`].
#[derive(Debug, Clone, Copy)]
pub struct Excerpt<'a>(&'a str);

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let budget = MAX_QUOTED - 2;
        let mut escaped = 0;
        // The longest prefix that leaves room for the ellipsis.
        let mut end = 0;
        for (at, c) in text.char_indices() {
            escaped += c.escape_debug().count();
            if escaped > budget {
                return write!(f, "{:?}… ({} bytes)", &text[..end], text.len());
            }
            if escaped < budget {
                end = at + c.len_utf8();
            }
        }
        write!(f, "{text:?}")
    }
}

/// `message` with `value`, where it is quoted whole the way serde quotes strings (`{:?}`),
/// replaced by its [`excerpt`]. For messages built by code we do not own (serde's "invalid
/// type: string \"…\"").
pub fn shorten<'m>(message: &'m str, value: &str) -> Cow<'m, str> {
    let whole = format!("{value:?}");
    if whole.len() <= MAX_QUOTED || !message.contains(&whole) {
        return Cow::Borrowed(message);
    }
    Cow::Owned(message.replacen(&whole, &excerpt(value).to_string(), 1))
}

/// serde's error for `value` as a message: the path first when there is one (`limit: invalid
/// type: …`, `memories[1].tags: …`), a rejected string quoted short.
pub fn value_error(err: &serde_path_to_error::Error<serde_json::Error>, value: &Value) -> String {
    use serde_path_to_error::Segment;
    let cause = err.inner().to_string();
    let rejected = err.path().iter().try_fold(value, |value, segment| match segment {
        Segment::Seq { index } => value.get(index),
        Segment::Map { key } => value.get(key),
        Segment::Enum { .. } | Segment::Unknown => None,
    });
    let cause = match rejected {
        Some(Value::String(rejected)) => shorten(&cause, rejected).into_owned(),
        _ => cause,
    };
    match err.path().to_string().as_str() {
        "." => cause,
        path => format!("{path}: {cause}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(excerpt("my app").to_string(), "\"my app\"");
        let name = "a".repeat(70);
        assert_eq!(excerpt(&name).to_string(), format!("{name:?}"));
    }

    #[test]
    fn long_values_are_cut_and_their_size_stated() {
        let long = "é".repeat(1_000_000);
        let quoted = excerpt(&long).to_string();
        assert!(quoted.len() < 200, "{quoted}");
        assert!(quoted.ends_with("… (2000000 bytes)"), "{quoted}");
        assert!(quoted.starts_with("\"éé"), "{quoted}");
        // Escapes count against the budget too.
        let controls = "\u{1}".repeat(10_000);
        assert!(excerpt(&controls).to_string().len() < 120);
    }

    #[test]
    fn serde_quotations_are_shortened_in_place() {
        let value = "x".repeat(2_000_000);
        let message = format!("limit: invalid type: string {value:?}, expected i64");
        let short = shorten(&message, &value);
        assert!(short.starts_with("limit: invalid type: string \"xxx"), "{short}");
        assert!(short.ends_with("… (2000000 bytes), expected i64"), "{short}");
        assert!(short.len() < 200);
        assert_eq!(shorten("unrelated", &value), "unrelated");
    }
}
