//! File indexing: chunking and reconcile. The watcher and the pool (which runs reconciles
//! in the background and reports their state) build on these.

pub mod chunk;
pub mod reconcile;
pub mod watch;

pub use reconcile::{IndexError, ReconcileReport, Skipped, index_file, reconcile};
