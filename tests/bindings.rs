//! The dashboard's TypeScript types are generated from the Rust wire types, never written
//! twice. This fails when the committed `ui/src/bindings.ts` is stale; regenerate it with
//! `ANNAL_UPDATE_BINDINGS=1 cargo test --test integration bindings`.

use std::path::Path;

use annal::config::ProjectChange;
use annal::dashboard::{
    Deleted, ErrorKind, ErrorReply, ListParams, MemoryDraft, MemoryEdit, SearchParams, SearchReply,
    WatchConfig, WatchEdit,
};
use annal::events::{Event, EventKind};
use annal::index::{ReconcileReport, Skipped};
use annal::memory::{ChunkType, FileInfo, Memory};
use annal::pool::{Activity, IndexState, IndexStatus, InitReply, LastReconcile};
use annal::search::SearchHit;
use annal::store::{DayCount, Page, Similar, Stats, StoreOutcome, TagCount};
use ts_rs::TS;

fn generated() -> String {
    let declarations = [
        ChunkType::decl(),
        FileInfo::decl(),
        Memory::decl(),
        Page::decl(),
        TagCount::decl(),
        Stats::decl(),
        Similar::decl(),
        StoreOutcome::decl(),
        Skipped::decl(),
        ReconcileReport::decl(),
        LastReconcile::decl(),
        IndexState::decl(),
        IndexStatus::decl(),
        Activity::decl(),
        ProjectChange::decl(),
        InitReply::decl(),
        EventKind::decl(),
        serde_json::Value::decl(),
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
        DayCount::decl(),
    ];
    let mut text = String::from(
        "// Generated from the Rust wire types by tests/bindings.rs; do not edit.\n\
         // Regenerate: ANNAL_UPDATE_BINDINGS=1 cargo test --test integration bindings\n",
    );
    for declaration in declarations {
        text.push_str("\nexport ");
        text.push_str(&declaration);
        text.push('\n');
    }
    text
}

#[test]
fn committed_typescript_bindings_match_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/bindings.ts");
    let expected = generated();
    if std::env::var_os("ANNAL_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &expected).expect("write bindings");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "ui/src/bindings.ts is stale; run: ANNAL_UPDATE_BINDINGS=1 cargo test --test integration bindings"
    );
}
