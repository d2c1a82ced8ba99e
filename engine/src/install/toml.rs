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

fn servers<'d>(doc: &'d DocumentMut, shape: Shape) -> Result<Option<&'d dyn TableLike>, EditError> {
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
    let upserted = match servers.get_mut(NAME) {
        None => {
            let mut entry = Table::new();
            for (field, value) in shape.entry(command) {
                entry.insert(field, item(value));
            }
            servers.insert(NAME, Item::Table(entry));
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
                None => {
                    let mut fresh = Table::new();
                    for (field, value) in shape.entry(command) {
                        fresh.insert(field, item(value));
                    }
                    *entry = Item::Table(fresh);
                }
            }
            Upserted::Updated
        }
    };
    Ok((doc.to_string(), upserted))
}

pub(super) fn remove(text: &str, shape: Shape) -> Result<Option<String>, EditError> {
    let mut doc = parse(text)?;
    if servers(&doc, shape)?.and_then(|s| s.get(NAME)).is_none() {
        return Ok(None);
    }
    if let Some(servers) = doc.get_mut(shape.servers_key()).and_then(Item::as_table_like_mut) {
        servers.remove(NAME);
    }
    Ok(Some(doc.to_string()))
}
