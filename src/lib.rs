//! Annal's adapters over the engine (`annal-engine`): the MCP tools, JSON-RPC input checks,
//! HTTP (MCP, the dashboard API, its event stream and page), the owner process and the stdio
//! sidecar. Each parses its input, calls one engine function and renders the result.
//!
//! The engine's modules are re-exported under their own names, so `annal::config` and
//! `annal_engine::config` are the same module.

pub use annal_engine::{
    code_links, config, contradiction, dashboard, doctor, embed, events, excerpt, hooks, index,
    install, instructions, memories, memory, model_fetch, owner_lock, pool, private_files, project,
    search, secrets, store, transfer, vector_index,
};
pub use annal_engine::{dashboard_queries, describe_queries};

pub mod cli;
pub mod http;
pub mod jsonrpc;
pub mod mcp;
pub mod owner;
pub mod sidecar;

/// `ANNAL_LOG` (else `default_level`), through [`capped`].
pub fn log_filter(default_level: &str) -> tracing_subscriber::EnvFilter {
    capped(
        tracing_subscriber::EnvFilter::try_from_env("ANNAL_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
    )
}

/// `filter` with rmcp held at `info` whatever it says: rmcp's debug lines print whole
/// requests, and a request may carry a secret the filter redacts before storing it.
pub fn capped(filter: tracing_subscriber::EnvFilter) -> tracing_subscriber::EnvFilter {
    match "rmcp=info".parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    #[test]
    fn rmcp_is_held_at_info_whatever_the_filter_asks() {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_env_filter(super::capped(tracing_subscriber::EnvFilter::new("trace")))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(target: "rmcp::service", Level::DEBUG));
            assert!(tracing::enabled!(target: "rmcp::service", Level::INFO));
            assert!(tracing::enabled!(target: "annal_engine::memories", Level::TRACE));
        });
    }
}
