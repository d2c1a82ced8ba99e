//! The check in front of rmcp. Every message a client sends — a line on stdio or the socket, a
//! POST body over HTTP — is checked here before rmcp sees it, because rmcp drops undecodable
//! input without a word (the client waits for its timeout), answers a malformed message with
//! an error that has no `id`, and turns a `tools/call` with wrong-typed params into "method not
//! found". What cannot be served gets exactly one JSON-RPC error here instead, with the
//! request's id when it can be recovered, else `null`; the session carries on.
//!
//! Notifications that are valid JSON but cannot be served get no reply (JSON-RPC); undecodable
//! input always gets one, since nobody can tell whether it was a request.

mod lines;

pub use lines::{Collected, Collector, LineReader};

use std::fmt;

use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, InitializeRequestParams,
    PaginatedRequestParams,
};
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value, json};

use crate::excerpt::{excerpt, value_error};

/// Largest message, in bytes. A full `store_batch` (100 memories of 64 KiB) is 6.5 MB of
/// content; this leaves room for its JSON escapes and tags.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;
/// Longest method name passed on; rmcp quotes an unknown one whole in its answer.
const MAX_METHOD_BYTES: usize = 256;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;

/// What to do with one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Pass it on to rmcp.
    Serve,
    /// Answer it with this error instead.
    Answer(Refusal),
    /// A notification that cannot be served: no reply on a stream; HTTP, which must answer
    /// every POST, answers with this.
    Ignore(Refusal),
}

/// A JSON-RPC error reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The request's id, or `null` when it is unknown.
    pub id: Value,
    pub code: i64,
    pub message: String,
}

impl Refusal {
    fn new(id: Value, code: i64, message: impl Into<String>) -> Self {
        Self { id, code, message: message.into() }
    }

    /// A message over [`MAX_MESSAGE_BYTES`], of which `head` and `tail` were kept.
    pub fn oversized(head: &[u8], tail: &[u8], bytes: u64) -> Self {
        Self::new(
            recover_id(head, tail),
            PARSE_ERROR,
            format!(
                "message is {bytes} bytes; the limit is {MAX_MESSAGE_BYTES} bytes (store large \
                 batches in several calls)"
            ),
        )
    }

    /// The reply as one line of JSON (no newline).
    pub fn to_json(&self) -> String {
        json!({
            "jsonrpc": "2.0",
            "id": self.id,
            "error": { "code": self.code, "message": self.message },
        })
        .to_string()
    }
}

/// The message without what rmcp's line transport strips too: a byte order mark and a `\r`
/// before the newline.
pub fn content(message: &[u8]) -> &[u8] {
    let message = message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message);
    message.strip_suffix(b"\r").unwrap_or(message)
}

/// Blank lines between messages are framing, not messages.
pub fn is_blank(line: &[u8]) -> bool {
    content(line).iter().all(u8::is_ascii_whitespace)
}

/// Decides whether rmcp can serve `message`, and if not, how to answer it.
pub fn check(message: &[u8]) -> Verdict {
    let message = content(message);
    let value: Value = match serde_json::from_slice(message) {
        Ok(value) => value,
        Err(err) => {
            let why = match std::str::from_utf8(message) {
                Err(bad) => format!("not valid UTF-8 (byte {})", bad.valid_up_to()),
                Ok(_) => err.to_string(),
            };
            let id = recover_id(message, message);
            return Verdict::Answer(Refusal::new(id, PARSE_ERROR, format!("parse error: {why}")));
        }
    };
    let object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Verdict::Answer(Refusal::new(
                Value::Null,
                INVALID_REQUEST,
                "batches are not supported: send one JSON-RPC message at a time",
            ));
        }
        other => {
            return Verdict::Answer(Refusal::new(
                Value::Null,
                INVALID_REQUEST,
                format!("a JSON-RPC message is an object, not {}", Kind(&other)),
            ));
        }
    };
    let id = object.get("id").filter(|id| is_valid_id(id)).cloned().unwrap_or(Value::Null);
    let notification = object.contains_key("method") && !object.contains_key("id");
    match examine(&object, message) {
        Ok(()) => Verdict::Serve,
        Err((code, why)) if notification => Verdict::Ignore(Refusal::new(id, code, why)),
        Err((code, why)) => Verdict::Answer(Refusal::new(id, code, why)),
    }
}

/// What is wrong with a message that parsed as a JSON object, as (code, message).
fn examine(object: &Map<String, Value>, raw: &[u8]) -> Result<(), (i64, String)> {
    let invalid = |why: String| Err((INVALID_REQUEST, why));
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid("jsonrpc must be \"2.0\"".into());
    }
    if let Some(id) = object.get("id")
        && !is_valid_id(id)
    {
        return invalid(format!("id must be a string or an integer, not {}", Kind(id)));
    }
    let method = match object.get("method") {
        Some(Value::String(method)) => method,
        Some(other) => return invalid(format!("method must be a string, not {}", Kind(other))),
        None if object.contains_key("id")
            && (object.contains_key("result") != object.contains_key("error")) =>
        {
            // A response to a request of ours: rmcp's to judge.
            return parse_as_rmcp(raw).map(drop);
        }
        None => {
            return invalid(
                "a message needs a method (a request or notification), or an id and a result \
                 or error (a response)"
                    .into(),
            );
        }
    };
    if method.len() > MAX_METHOD_BYTES {
        return Err((METHOD_NOT_FOUND, format!("no method {}", excerpt(method))));
    }
    let params = object.get("params").filter(|params| !params.is_null());
    if let Some(params) = params
        && !params.is_object()
    {
        return Err((INVALID_PARAMS, format!("params must be an object, not {}", Kind(params))));
    }
    if method == "tools/call" {
        check_tool_call(params)?;
    }
    match parse_as_rmcp(raw)? {
        // rmcp falls back to a custom request when the params do not fit the method's.
        ClientJsonRpcMessage::Request(request)
            if matches!(request.request, ClientRequest::CustomRequest(_)) =>
        {
            match params_error(method, params) {
                Some(why) => Err((INVALID_PARAMS, format!("{method} params: {why}"))),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

fn check_tool_call(params: Option<&Value>) -> Result<(), (i64, String)> {
    let fault = |why: String| Err((INVALID_PARAMS, why));
    let Some(params) = params else {
        return fault("tools/call needs params with the tool's name and arguments".into());
    };
    match params.get("name") {
        Some(Value::String(_)) => {}
        None => return fault("params.name is missing: give the tool's name".into()),
        Some(other) => return fault(format!("params.name must be a string, not {}", Kind(other))),
    }
    match params.get("arguments") {
        None | Some(Value::Null | Value::Object(_)) => Ok(()),
        Some(other) => fault(format!("params.arguments must be an object, not {}", Kind(other))),
    }
}

fn parse_as_rmcp(raw: &[u8]) -> Result<ClientJsonRpcMessage, (i64, String)> {
    serde_json::from_slice(raw).map_err(|err| (INVALID_REQUEST, format!("invalid message: {err}")))
}

/// Why `params` do not fit a method this server serves; `None` for the methods rmcp answers
/// itself ("method not found" for those it does not serve).
fn params_error(method: &str, params: Option<&Value>) -> Option<String> {
    fn explain<T: DeserializeOwned>(params: &Value) -> Option<String> {
        let parsed = serde_path_to_error::deserialize::<_, T>(params);
        Some(parsed.err().map_or_else(|| "do not fit".to_owned(), |e| value_error(&e, params)))
    }
    let empty = Value::Object(Map::new());
    let params = params.unwrap_or(&empty);
    match method {
        "initialize" => explain::<InitializeRequestParams>(params),
        "tools/call" => explain::<CallToolRequestParams>(params),
        "tools/list" => explain::<PaginatedRequestParams>(params),
        "ping" => Some("ping takes no params".into()),
        _ => None,
    }
}

/// JSON-RPC ids as MCP allows them (and rmcp parses them): strings and integers.
fn is_valid_id(id: &Value) -> bool {
    id.is_string() || id.as_i64().is_some()
}

/// A JSON value's kind, for messages that must not quote it.
struct Kind<'a>(&'a Value);

impl fmt::Display for Kind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        })
    }
}

/// The id of a message that cannot be parsed whole: from its first members (skipped values
/// are not decoded, so bad strings and deep nesting after the id do not matter), else from
/// its last member (clients that put the id last, even when only the tail was kept).
pub fn recover_id(head: &[u8], tail: &[u8]) -> Value {
    leading_id(head).or_else(|| trailing_id(tail)).unwrap_or(Value::Null)
}

fn leading_id(message: &[u8]) -> Option<Value> {
    /// Visits the top-level object, noting the id if it comes before whatever breaks.
    struct Top<'a>(&'a mut Option<Value>);

    impl<'de> Visitor<'de> for Top<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON-RPC message")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                if key == "id" {
                    let id: Value = map.next_value()?;
                    *self.0 = Some(id).filter(is_valid_id);
                    return Ok(());
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    let mut id = None;
    let mut deserializer = serde_json::Deserializer::from_slice(message);
    let _ = serde::Deserializer::deserialize_map(&mut deserializer, Top(&mut id));
    id
}

/// `…,"id":7}` or `…,"id":"a"}` at the very end: the member before the closing brace of the
/// top-level object is a top-level member, whatever came before it.
fn trailing_id(tail: &[u8]) -> Option<Value> {
    let rest = tail.trim_ascii_end().strip_suffix(b"}")?.trim_ascii_end();
    let start = match rest.last()? {
        b'"' => {
            let inner = &rest[..rest.len() - 1];
            let mut end = inner.len();
            loop {
                let quote = inner[..end].iter().rposition(|&b| b == b'"')?;
                let escapes = inner[..quote].iter().rev().take_while(|&&b| b == b'\\').count();
                if escapes % 2 == 0 {
                    break quote;
                }
                end = quote;
            }
        }
        _ => rest.iter().rposition(|b| !(b.is_ascii_digit() || *b == b'-')).map_or(0, |i| i + 1),
    };
    let (before, id) = rest.split_at(start);
    let before = before.trim_ascii_end().strip_suffix(b":")?;
    let before = before.trim_ascii_end().strip_suffix(b"\"id\"")?;
    if !matches!(before.trim_ascii_end().last(), Some(b',' | b'{')) {
        return None;
    }
    serde_json::from_slice(id).ok().filter(is_valid_id)
}

#[cfg(test)]
mod tests;
