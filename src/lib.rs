//! Annal's engine: config, store, embeddings, and the memory operations built on them.
//!
//! The engine knows nothing of transports: no engine module imports tauri, rmcp or axum. The
//! adapters (`mcp`, `jsonrpc`, `http`, `owner`, `sidecar`, later `cli`, and the desktop shell)
//! call these functions and render their results.

pub mod config;
pub mod dashboard;
pub mod embed;
pub mod events;
pub mod excerpt;
pub mod http;
pub mod index;
pub mod jsonrpc;
pub mod mcp;
pub mod memories;
pub mod memory;
pub mod owner;
pub mod pool;
pub mod private_files;
pub mod project;
pub mod search;
pub mod sidecar;
pub mod store;
pub mod vector_index;
