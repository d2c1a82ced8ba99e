//! The engine's integration tests, one binary (so the engine and its dependencies link once):
//! the real model, real SQLite files in temp dirs. Nothing here reads or writes the real home.

mod common;
mod util;

mod bindings;
mod code_links;
mod config;
mod conflicts;
mod curate;
mod embed;
mod events;
mod fuzzed;
mod hooks;
mod inbox;
mod index;
mod install;
mod instructions;
mod layering;
mod model_fetch;
mod pool;
mod search;
mod search_quality;
mod secret_writes;
mod secrets;
mod store;
mod store_loading;
mod store_snapshot;
mod transfer;
mod windows;
