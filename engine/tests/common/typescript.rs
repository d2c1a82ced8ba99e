//! The page's TypeScript client, written from query declarations: an `Api` interface with one
//! function per query, and its two transports (`httpApi` over fetch, `ipcApi` over Tauri).

use annal_engine::dashboard::{Carrier, Query};

/// `create_memory` → `createMemory`: TypeScript names, and Tauri's argument names.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// The type names a TypeScript type expression refers to.
fn referenced(ts: &str) -> impl Iterator<Item = &str> {
    ts.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|word| word.starts_with(|c: char| c.is_ascii_uppercase()) && *word != "Array")
}

fn parameters(query: &Query) -> Vec<String> {
    let mut names: Vec<String> = query.path_args.iter().map(|arg| camel(arg)).collect();
    names.extend(query.input.iter().map(|input| camel(input.name)));
    names
}

fn signature(query: &Query) -> String {
    let mut typed: Vec<String> =
        query.path_args.iter().map(|arg| format!("{}: string", camel(arg))).collect();
    typed.extend(query.input.iter().map(|i| format!("{}: {}", camel(i.name), i.ts_type)));
    let reply = if query.answers_with_body() { query.reply.as_str() } else { "void" };
    format!("{}({}): Promise<{reply}>", camel(query.name), typed.join(", "))
}

fn http_call(query: &Query) -> String {
    let mut path = query.path.to_owned();
    for arg in &query.path_args {
        path = path
            .replace(&format!("{{{arg}}}"), &format!("${{encodeURIComponent({})}}", camel(arg)));
    }
    let carried = match &query.input {
        None => "{}".to_owned(),
        Some(input) => {
            let key = match input.carrier {
                Carrier::Query => "query",
                Carrier::Body => "body",
            };
            format!("{{ {key}: {} }}", camel(input.name))
        }
    };
    format!(
        "    {}: ({}) => request(\"{}\", `{path}`, {carried}, {}),\n",
        camel(query.name),
        parameters(query).join(", "),
        query.method,
        query.answers_with_body(),
    )
}

fn ipc_call(query: &Query) -> String {
    let args: Vec<String> = query
        .path_args
        .iter()
        .copied()
        .chain(query.input.iter().map(|input| input.name))
        .map(camel)
        .collect();
    let args = if args.is_empty() { "{}".to_owned() } else { format!("{{ {} }}", args.join(", ")) };
    format!(
        "    {}: ({}) => call(\"{}\", {args}),\n",
        camel(query.name),
        parameters(query).join(", "),
        query.name,
    )
}

/// A union of string literals listed as a constant array: (constant, type, the union).
pub type Listed<'a> = (&'a str, &'a str, String);

/// The client module for `queries`, importing their types from `./bindings`, with each of
/// `listed` as an array (the page subscribes to each event kind, checks error kinds).
pub fn client(queries: &[Query], listed: &[Listed]) -> String {
    let mut types: Vec<&str> = queries
        .iter()
        .flat_map(|q| {
            let input = q.input.as_ref().map(|i| i.ts_type.as_str());
            referenced(&q.reply).chain(input.into_iter().flat_map(referenced))
        })
        .chain(listed.iter().map(|(_, ty, _)| *ty))
        .collect();
    types.sort_unstable();
    types.dedup();
    let arrays: String = listed
        .iter()
        .map(|(name, ty, union)| {
            let values: Vec<&str> = union.split(" | ").collect();
            format!("export const {name}: {ty}[] = [{}];\n", values.join(", "))
        })
        .collect();
    let mut text = format!(
        "// Generated from the dashboard's query declarations (engine/src/dashboard/queries.rs)\n\
         // by engine/tests/bindings.rs; do not edit.\n\
         // Regenerate: ANNAL_UPDATE_BINDINGS=1 cargo test -p annal-engine --test engine bindings\n\
         \n\
         import type {{ {} }} from \"./bindings\";\n\
         \n\
         {arrays}\n\
         /** Every dashboard query. */\n\
         export interface Api {{\n",
        types.join(", "),
    );
    for query in queries {
        text.push_str(&format!("  {};\n", signature(query)));
    }
    text.push_str(
        "}\n\
         \n\
         /** A query over the owner's HTTP API: `query` goes into the URL, `body` is sent as JSON;\n \
         * resolves to the parsed answer, or to nothing when `answersWithBody` is false. */\n\
         export type Request = (method: string, path: string, input: { query?: object; body?: unknown }, answersWithBody: boolean) => Promise<any>;\n\
         \n\
         /** A Tauri command with named arguments, resolving to its deserialized answer. */\n\
         export type Call = (command: string, args: Record<string, unknown>) => Promise<any>;\n\
         \n\
         export function httpApi(request: Request): Api {\n  return {\n",
    );
    for query in queries {
        text.push_str(&http_call(query));
    }
    text.push_str("  };\n}\n\nexport function ipcApi(call: Call): Api {\n  return {\n");
    for query in queries {
        text.push_str(&ipc_call(query));
    }
    text.push_str("  };\n}\n");
    text
}
