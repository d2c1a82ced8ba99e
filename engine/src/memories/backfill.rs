//! The window backfill. Memories stored before long text was embedded in windows have one
//! vector, of their first 256 tokens: their tails are findable only by keyword. Once per
//! database, each memory long enough to have more is embedded again, on the bulk queue, and
//! its windows are written back (content, dates and hits untouched).

use super::{Memories, MemoryError};
use crate::embed::{DIMENSIONS, Priority};

/// The maintenance entry that says the backfill ran.
pub const BACKFILL_JOB: &str = "embedding-windows-1";
/// Content shorter than this fits one window whatever it holds (a token is at least one
/// byte, and a window holds 254 of them), so it is not read.
const MIN_BYTES: usize = 255;
/// Memories embedded at a time.
const PAGE: usize = 64;

/// What a backfill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillReport {
    pub memories_read: usize,
    pub memories_windowed: usize,
}

impl Memories {
    /// Runs the window backfill unless it ran on this database before.
    pub async fn backfill_windows(&self) -> Result<BackfillReport, MemoryError> {
        let store = self.store();
        let mut report = BackfillReport::default();
        if store.maintenance_done(BACKFILL_JOB).await? {
            return Ok(report);
        }
        let mut after = 0;
        loop {
            let (page, last) = store.one_window_after(after, MIN_BYTES, PAGE).await?;
            let Some(last) = last else { break };
            after = last;
            report.memories_read += page.len();
            let texts = page.iter().map(|m| m.content.clone()).collect();
            let vectors = self.embedder().embed_windows(texts, Priority::Bulk).await?;
            // Those that fit one window after all keep the vector they have.
            let longer: Vec<_> =
                page.into_iter().zip(vectors).filter(|(_, v)| v.len() > DIMENSIONS).collect();
            if !longer.is_empty() {
                report.memories_windowed += store.write_windows(longer).await?;
            }
        }
        store.mark_maintenance_done(BACKFILL_JOB).await?;
        Ok(report)
    }
}
