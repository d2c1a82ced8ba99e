//! One integration-test binary (ripgrep style): real model, real SQLite files in temp dirs,
//! real subprocesses. Nothing here reads or writes the real home.

mod util;

mod cli;
mod config;
mod curate;
mod embed;
mod fuzzed;
mod http_api;
mod index;
mod layering;
mod malformed;
mod mcp;
mod owner;
mod pool;
mod private_files;
mod query_routes;
mod reliability;
mod search;
mod sidecar;
mod store;
