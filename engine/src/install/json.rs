//! JSON and JSON-with-comments files, edited through `jsonc-parser`'s concrete syntax tree:
//! only our entry's text changes, so comments, key order, indentation and every other server
//! stay as they were. Strict-JSON targets are parsed strictly first and checked with
//! serde_json after the edit.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstContainerNode, CstInputValue, CstNode, CstObject, CstRootNode};

use super::document::{EditError, Found, NAME, Shape, Upserted, Value, line_column};

fn options(strict: bool) -> ParseOptions {
    if strict {
        ParseOptions {
            allow_comments: false,
            allow_loose_object_property_names: false,
            allow_trailing_commas: false,
            allow_missing_commas: false,
            allow_single_quoted_strings: false,
            allow_hexadecimal_numbers: false,
            allow_unary_plus_numbers: false,
        }
    } else {
        ParseOptions::default()
    }
}

pub(super) fn parse(text: &str, strict: bool) -> Result<CstRootNode, EditError> {
    let error = |err: jsonc_parser::errors::ParseError| {
        let (line, column) = line_column(text, err.range().start);
        EditError::Parse { message: err.kind().to_string(), line, column }
    };
    // The CST parser collects comments as tokens without consulting `allow_comments`, so
    // strictness is checked by the value parser first.
    if strict {
        jsonc_parser::parse_to_value(text, &options(true)).map_err(error)?;
    }
    CstRootNode::parse(text, &options(strict)).map_err(error)
}

/// The top-level object, created when the file is empty.
fn root_object(root: &CstRootNode) -> Result<CstObject, EditError> {
    root.object_value_or_create()
        .ok_or_else(|| EditError::Shape("the file's top level is not an object".into()))
}

fn servers(root: &CstObject, shape: Shape) -> Result<Option<CstObject>, EditError> {
    let key = shape.servers_key();
    match root.get(key) {
        None => Ok(None),
        Some(prop) => match prop.value() {
            Some(CstNode::Container(CstContainerNode::Object(object))) => Ok(Some(object)),
            _ => Err(EditError::Shape(format!("\"{key}\" is not an object"))),
        },
    }
}

fn command_of(entry: Option<CstNode>) -> Option<String> {
    let command = entry?.as_object()?.get("command")?.value()?;
    let string = match command.as_array() {
        Some(array) => array.elements().into_iter().next()?,
        None => command,
    };
    string.as_string_lit()?.decoded_value().ok()
}

pub(super) fn read(text: &str, strict: bool, shape: Shape) -> Result<Option<Found>, EditError> {
    let root = parse(text, strict)?;
    let Some(root_value) = root.value() else { return Ok(None) };
    let root = root_value
        .as_object()
        .ok_or_else(|| EditError::Shape("the file's top level is not an object".into()))?;
    let Some(servers) = servers(&root, shape)? else { return Ok(None) };
    Ok(servers.get(NAME).map(|entry| Found { command: command_of(entry.value()) }))
}

fn input(value: Value) -> CstInputValue {
    match value {
        Value::Str(s) => CstInputValue::String(s),
        Value::List(items) => {
            CstInputValue::Array(items.into_iter().map(CstInputValue::String).collect())
        }
        Value::EmptyMap => CstInputValue::Object(Vec::new()),
        Value::Bool(b) => CstInputValue::Bool(b),
    }
}

pub(super) fn upsert(
    text: &str,
    strict: bool,
    shape: Shape,
    command: &str,
) -> Result<(String, Upserted), EditError> {
    // An empty file is an empty object to the clients; start it the way a new one looks.
    let blank = text.trim().is_empty();
    let root = parse(if blank { "" } else { text }, strict)?;
    let object = root_object(&root)?;
    let servers = match servers(&object, shape)? {
        Some(servers) => servers,
        None => object
            .append(shape.servers_key(), CstInputValue::Object(Vec::new()))
            .object_value_or_set(),
    };
    let upserted = match servers.get(NAME) {
        None => {
            servers.append(NAME, entry_input(shape, command));
            Upserted::Added
        }
        Some(entry) if command_of(entry.value()).as_deref() == Some(command) => {
            return Ok((text.to_owned(), Upserted::AlreadyConfigured));
        }
        Some(entry) => {
            match entry.value().as_ref().and_then(CstNode::as_object) {
                Some(fields) => match fields.get("command") {
                    Some(field) => field.set_value(input(shape.command_value(command))),
                    None => {
                        fields.append("command", input(shape.command_value(command)));
                    }
                },
                // Not an object: no client could have read it, so ours takes its place.
                None => entry.set_value(entry_input(shape, command)),
            }
            Upserted::Updated
        }
    };
    let mut edited = root.to_string();
    if blank {
        edited.push('\n');
    }
    check(&edited, strict)?;
    Ok((edited, upserted))
}

fn entry_input(shape: Shape, command: &str) -> CstInputValue {
    CstInputValue::Object(
        shape.entry(command).into_iter().map(|(k, v)| (k.to_owned(), input(v))).collect(),
    )
}

pub(super) fn remove(text: &str, strict: bool, shape: Shape) -> Result<Option<String>, EditError> {
    let root = parse(text, strict)?;
    let Some(root_value) = root.value() else { return Ok(None) };
    let Some(object) = root_value.as_object() else {
        return Err(EditError::Shape("the file's top level is not an object".into()));
    };
    let Some(entry) = servers(&object, shape)?.and_then(|s| s.get(NAME)) else {
        return Ok(None);
    };
    entry.remove();
    let edited = root.to_string();
    check(&edited, strict)?;
    Ok(Some(edited))
}

/// A strict-JSON client must be able to read the result with any JSON parser.
fn check(edited: &str, strict: bool) -> Result<(), EditError> {
    if strict {
        serde_json::from_str::<serde_json::Value>(edited)
            .map_err(|err| EditError::Check(format!("not valid JSON: {err}")))?;
    }
    Ok(())
}
