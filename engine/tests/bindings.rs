//! The dashboard's TypeScript is generated from Rust, never written twice: the wire types
//! (`ui/src/bindings.ts`) and the client with one function per declared query
//! (`ui/src/api.ts`). This fails when either committed file is stale; regenerate both with
//! `ANNAL_UPDATE_BINDINGS=1 cargo test -p annal-engine --test engine bindings`.

use std::path::Path;

use annal_engine::code_links::{Review, ReviewReason};
use annal_engine::config::ProjectChange;
use annal_engine::dashboard::{
    ConnectConfirm, ConnectParams, Deleted, ErrorKind, ErrorReply, ListParams, Matching,
    MemoryDraft, MemoryEdit, SearchParams, SearchReply, Selection, WatchConfig, WatchEdit, queries,
};
use annal_engine::events::{Event, EventDetail, EventKind, IndexCompleted};
use annal_engine::hooks::{HookOverrides, HookSettings, HookView, Injection};
use annal_engine::index::{ReconcileReport, Skipped};
use annal_engine::install::{
    Action, Client, ClientStatus, FileKind, HookStatus, InstructionStatus, Operation, Plan, Row,
    Scope,
};
use annal_engine::memories::{Inbox, InboxItem, ReviewAction, Stored, Updated};
use annal_engine::memory::{ChunkType, FileInfo, Memory, Redaction};
use annal_engine::pool::{Activity, IndexState, IndexStatus, InitReply, LastReconcile};
use annal_engine::search::SearchHit;
use annal_engine::store::{
    Conflict, DayCount, Page, ReviewKind, Similar, Stats, StoreOutcome, TagCount,
};
use ts_rs::TS;

use crate::common::typescript;

fn generated() -> String {
    let declarations = [
        ChunkType::decl(),
        FileInfo::decl(),
        ReviewReason::decl(),
        Review::decl(),
        Memory::decl(),
        Page::decl(),
        TagCount::decl(),
        Stats::decl(),
        Similar::decl(),
        Conflict::decl(),
        StoreOutcome::decl(),
        Redaction::decl(),
        Stored::decl(),
        ReviewKind::decl(),
        InboxItem::decl(),
        Inbox::decl(),
        ReviewAction::decl(),
        Updated::decl(),
        Skipped::decl(),
        ReconcileReport::decl(),
        LastReconcile::decl(),
        IndexState::decl(),
        IndexStatus::decl(),
        Activity::decl(),
        ProjectChange::decl(),
        InitReply::decl(),
        EventKind::decl(),
        IndexCompleted::decl(),
        EventDetail::decl(),
        Event::decl(),
        ErrorKind::decl(),
        ErrorReply::decl(),
        ListParams::decl(),
        SearchParams::decl(),
        SearchHit::decl(),
        SearchReply::decl(),
        MemoryDraft::decl(),
        MemoryEdit::decl(),
        WatchConfig::decl(),
        WatchEdit::decl(),
        Deleted::decl(),
        Selection::decl(),
        Matching::decl(),
        DayCount::decl(),
        Client::decl(),
        Scope::decl(),
        Operation::decl(),
        FileKind::decl(),
        Action::decl(),
        Row::decl(),
        Plan::decl(),
        InstructionStatus::decl(),
        HookStatus::decl(),
        ClientStatus::decl(),
        ConnectParams::decl(),
        ConnectConfirm::decl(),
        HookSettings::decl(),
        HookOverrides::decl(),
        Injection::decl(),
        HookView::decl(),
    ];
    let mut text = String::from(
        "// Generated from the Rust wire types by engine/tests/bindings.rs; do not edit.\n\
         // Regenerate: ANNAL_UPDATE_BINDINGS=1 cargo test -p annal-engine --test engine bindings\n",
    );
    for declaration in declarations {
        text.push_str("\nexport ");
        text.push_str(&declaration);
        text.push('\n');
    }
    text
}

/// Compares `expected` with the committed file (rewriting it first when asked to).
fn check_committed(relative: &str, expected: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative);
    if std::env::var_os("ANNAL_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, expected).expect("write the generated file");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{relative} is stale; run: ANNAL_UPDATE_BINDINGS=1 cargo test -p annal-engine --test engine bindings"
    );
}

#[test]
fn committed_typescript_bindings_match_the_rust_types() {
    check_committed("ui/src/bindings.ts", &generated());
}

#[test]
fn committed_typescript_client_matches_the_query_declarations() {
    let listed = [
        ("EVENT_KINDS", "EventKind", EventKind::inline()),
        ("ERROR_KINDS", "ErrorKind", ErrorKind::inline()),
    ];
    check_committed("ui/src/api.ts", &typescript::client(&queries(), &listed));
}

#[test]
fn a_declared_query_appears_in_the_typescript_client() {
    use crate::common::fixture_queries::fixture_queries;
    let declared = fixture_queries!(annal_engine::describe_queries[]);
    let client = typescript::client(&declared, &[]);
    for expected in [
        "import type { Deleted, ListParams, Selection } from \"./bindings\";",
        "  echoFilter(project: string, id: string, params: ListParams): Promise<Array<string>>;",
        "  forgetSelected(project: string, selection: Selection): Promise<Deleted>;",
        "    echoFilter: (project, id, params) => request(\"GET\", \
         `/api/projects/${encodeURIComponent(project)}/echo/${encodeURIComponent(id)}`, \
         { query: params }, true),",
        "    forgetSelected: (project, selection) => request(\"POST\", \
         `/api/projects/${encodeURIComponent(project)}/forget`, { body: selection }, true),",
        "    echoFilter: (project, id, params) => call(\"echo_filter\", { project, id, params }),",
        "    forgetSelected: (project, selection) => call(\"forget_selected\", { project, selection }),",
    ] {
        assert!(client.contains(expected), "missing {expected:?} in:\n{client}");
    }
}
