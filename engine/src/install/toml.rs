//! Codex's `config.toml`, edited with `toml_edit`, which keeps comments, order and layout of
//! everything it is not asked to change. Removing our table removes its `.env` subtable with
//! it (Codex rejects an `env` table without its server).

use toml_edit::{Array, DocumentMut, Item, Table, TableLike};

use super::document::{EditError, Found, NAME, Shape, Upserted, Value, line_column};

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>().map_err(|err| {
        let (line, column) = line_column(text, err.span().map_or(0, |s| s.start));
        EditError::Parse { message: err.message().trim().to_owned(), line, column }
    })
}

fn servers(doc: &DocumentMut, shape: Shape) -> Result<Option<&dyn TableLike>, EditError> {
    let key = shape.servers_key();
    match doc.get(key) {
        None => Ok(None),
        Some(item) => item
            .as_table_like()
            .map(Some)
            .ok_or_else(|| EditError::Shape(format!("`{key}` is not a table"))),
    }
}

fn command_of(entry: &Item) -> Option<String> {
    entry.as_table_like()?.get("command")?.as_str().map(str::to_owned)
}

pub(super) fn read(text: &str, shape: Shape) -> Result<Option<Found>, EditError> {
    let doc = parse(text)?;
    Ok(servers(&doc, shape)?
        .and_then(|servers| servers.get(NAME))
        .map(|entry| Found { command: command_of(entry) }))
}

fn item(value: Value) -> Item {
    match value {
        Value::Str(s) => toml_edit::value(s),
        Value::List(items) => toml_edit::value(items.into_iter().collect::<Array>()),
        Value::EmptyMap => Item::Table(Table::new()),
        Value::Bool(b) => toml_edit::value(b),
    }
}

pub(super) fn upsert(
    text: &str,
    shape: Shape,
    command: &str,
) -> Result<(String, Upserted), EditError> {
    let mut doc = parse(text)?;
    let key = shape.servers_key();
    let servers = doc.entry(key).or_insert_with(|| {
        // `[mcp_servers.annal]` alone, without an empty `[mcp_servers]` above it.
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let servers = servers
        .as_table_like_mut()
        .ok_or_else(|| EditError::Shape(format!("`{key}` is not a table")))?;
    let indent = key_indent(&*servers);
    let upserted = match servers.get_mut(NAME) {
        None => {
            servers.insert(NAME, Item::Table(entry_table(shape, command, indent.as_deref())));
            Upserted::Added
        }
        Some(entry) if command_of(entry).as_deref() == Some(command) => {
            return Ok((text.to_owned(), Upserted::AlreadyConfigured));
        }
        Some(entry) => {
            match entry.as_table_like_mut() {
                Some(fields) => {
                    fields.insert("command", item(shape.command_value(command)));
                }
                None => *entry = Item::Table(entry_table(shape, command, indent.as_deref())),
            }
            Upserted::Updated
        }
    };
    Ok((keep_missing_final_newline(text, doc.to_string()), upserted))
}

fn entry_table(shape: Shape, command: &str, indent: Option<&str>) -> Table {
    let mut entry = Table::new();
    for (field, value) in shape.entry(command) {
        entry.insert(field, item(value));
        if let (Some(indent), Some(mut key)) = (indent, entry.key_mut(field)) {
            key.leaf_decor_mut().set_prefix(indent);
        }
    }
    entry
}

/// How the other servers' keys are indented (a tab, two spaces…), so that ours match them.
fn key_indent(servers: &dyn TableLike) -> Option<String> {
    servers.iter().filter_map(|(_, item)| item.as_table()).find_map(|table| {
        table.iter().find_map(|(name, _)| {
            let prefix = table.key(name)?.leaf_decor().prefix()?.as_str()?;
            (!prefix.is_empty() && prefix.chars().all(|c| c == ' ' || c == '\t'))
                .then(|| prefix.to_owned())
        })
    })
}

/// `toml_edit` ends every line it writes; a file that had no final newline keeps having none.
fn keep_missing_final_newline(original: &str, mut edited: String) -> String {
    if !original.is_empty() && !original.ends_with('\n') && edited.ends_with('\n') {
        edited.pop();
        if edited.ends_with('\r') {
            edited.pop();
        }
    }
    edited
}

pub(super) fn remove(text: &str, shape: Shape) -> Result<Option<String>, EditError> {
    let mut doc = parse(text)?;
    if servers(&doc, shape)?.and_then(|s| s.get(NAME)).is_none() {
        return Ok(None);
    }
    if let Some(servers) = doc.get_mut(shape.servers_key()).and_then(Item::as_table_like_mut) {
        servers.remove(NAME);
    }
    Ok(Some(keep_missing_final_newline(text, doc.to_string())))
}
