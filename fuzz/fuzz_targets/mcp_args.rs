//! Tool arguments on any JSON: every tool's parameter struct parses through `Args<T>` (as rmcp
//! does, from a `Value`, and straight from the bytes) without panicking, and a list parameter
//! given as a string splits without panicking either.
#![no_main]

use annal::mcp::{
    Args, ExpandMemories, InitProject, MemoryRef, ProjectRef, PruneStale, RetagMemory,
    SearchMemories, StoreBatch, StoreMemory, UpdateMemory,
};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn parse<T: DeserializeOwned>(data: &[u8], value: Option<&serde_json::Value>) -> Option<T> {
    let _ = serde_json::from_slice::<Args<T>>(data);
    match serde_json::from_value::<Args<T>>(value?.clone()) {
        Ok(Args(parsed)) => Some(parsed),
        Err(err) => {
            assert!(!err.to_string().is_empty());
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let value = serde_json::from_slice::<serde_json::Value>(data).ok();
    let value = value.as_ref();
    if let Some(p) = parse::<StoreMemory>(data, value) {
        let _ = p.tags.into_vec();
    }
    if let Some(p) = parse::<StoreBatch>(data, value) {
        p.memories.into_iter().filter_map(|m| m.tags).for_each(|t| drop(t.into_vec()));
    }
    if let Some(p) = parse::<SearchMemories>(data, value) {
        let _ = (p.tags.map(|t| t.into_vec()), p.projects.map(|t| t.into_vec()));
    }
    if let Some(p) = parse::<ExpandMemories>(data, value) {
        let _ = p.memory_ids.into_vec();
    }
    if let Some(p) = parse::<UpdateMemory>(data, value) {
        let _ = p.tags.map(|t| t.into_vec());
    }
    if let Some(p) = parse::<RetagMemory>(data, value) {
        let _ = [p.add_tags, p.remove_tags, p.set_tags].map(|t| t.map(|t| t.into_vec()));
    }
    let _ = parse::<MemoryRef>(data, value);
    let _ = parse::<ProjectRef>(data, value);
    let _ = parse::<PruneStale>(data, value);
    if let Some(p) = parse::<InitProject>(data, value) {
        let lists = [p.watch_paths, p.watch_patterns, p.watch_exclude];
        let _ = lists.map(|t| t.map(|t| t.into_vec()));
    }
});
