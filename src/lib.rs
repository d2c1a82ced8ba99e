//! Annal's adapters over the engine (`annal-engine`): the MCP tools, JSON-RPC input checks,
//! HTTP (MCP, the dashboard API, its event stream and page), the owner process and the stdio
//! sidecar. Each parses its input, calls one engine function and renders the result.
//!
//! The engine's modules are re-exported under their own names, so `annal::config` and
//! `annal_engine::config` are the same module.

pub use annal_engine::{
    config, dashboard, doctor, embed, events, excerpt, hooks, index, install, instructions,
    memories, memory, model_fetch, owner_lock, pool, private_files, project, search, store,
    transfer, vector_index,
};
pub use annal_engine::{dashboard_queries, describe_queries};

pub mod cli;
pub mod http;
pub mod jsonrpc;
pub mod mcp;
pub mod owner;
pub mod sidecar;
