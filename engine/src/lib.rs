//! Annal's engine: the config, the store, embeddings, search, file indexing, events and the
//! pool that holds them, plus the queries the dashboard asks and the agent-client configs
//! `annal install` writes. It knows nothing of transports —
//! this crate does not depend on axum, rmcp or tauri, so Cargo refuses any import of them.
//! The adapters in the `annal` package (MCP, HTTP, the owner and the sidecar) and the desktop
//! shell call these functions and render their results.

pub mod code_links;
pub mod config;
pub mod contradiction;
pub mod dashboard;
pub mod doctor;
pub mod embed;
pub mod events;
pub mod excerpt;
pub mod hooks;
pub mod index;
pub mod install;
pub mod instructions;
pub mod memories;
pub mod memory;
pub mod model_fetch;
pub mod owner_lock;
pub mod pool;
pub mod private_files;
pub mod project;
pub mod search;
pub mod secrets;
pub mod store;
pub mod transfer;
pub mod vector_index;
