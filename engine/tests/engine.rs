//! The engine's integration tests, one binary (so the engine and its dependencies link once).

mod common;

mod bindings;
mod events;
