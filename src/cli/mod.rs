//! The terminal commands' adapters: each parses its arguments, calls one engine function and
//! renders the result. `main.rs` holds only their clap variants and dispatch.

pub mod doctor;
pub mod install;
