//! Export and import of memories as JSONL in the reference system's format: `line` (what a
//! line holds, both ways), `export` (a project, or all, as a stream of pages) and `import`
//! (validate, embed in batches, restore through the store's writer).

mod export;
mod import;
mod line;

pub use export::{Export, Scope, export};
pub use import::{
    ImportError, ImportOptions, ImportProblem, ImportProgress, ImportReport, MAX_LINE_BYTES,
    Target, import,
};
pub use line::{Line, LineError, Parsed, UNTAGGED, iso_timestamp, parse_line, write_line};
