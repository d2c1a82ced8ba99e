//! `annal`'s integration tests, one binary (ripgrep style): the adapters over real sockets
//! and real subprocesses (the engine's own are in `engine/tests/`). Nothing here reads or
//! writes the real home.

mod util;

mod cli;
mod cli_data;
mod clients;
mod connect;
mod doctor;
mod hooks;
mod http_api;
mod install;
mod malformed;
mod mcp;
mod owner;
mod private_files;
mod query_routes;
mod reliability;
mod secret_writes;
mod sidecar;
mod start_order;
