//! The secret scrub. Memories stored before the secret filter existed may hold secrets, and a
//! file chunk of an unchanged file is never cut again. Once per database, every memory's
//! content, source and tags are screened as a write is now; what held a secret is written back
//! redacted (re-embedded, on the bulk queue), listed in the review inbox, and its old bytes are
//! wiped from the file (see [`Store::secure_delete`]).

use super::{Memories, MemoryError, summary};
use crate::embed::Priority;
use crate::index::reconcile::text_hash;
use crate::memory::{ChunkType, Content, Memory, Screen, Source, Tags};
use crate::secrets::Policy;
use crate::store::{Scrubbed, Store};

/// The maintenance entry that says the scrub ran.
pub const SCRUB_JOB: &str = "secret-scrub-1";
/// Memories read (and scrubbed) at a time.
const PAGE: usize = 500;

/// What a scrub did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrubReport {
    pub memories_seen: usize,
    pub memories_scrubbed: usize,
}

/// A memory that held a secret, screened: its new content (when that changed), source, tags
/// and what was taken out.
struct Found {
    memory: Memory,
    content: Option<Content>,
    source: Source,
    tags: Tags,
    redacted: String,
}

fn screen(memory: Memory) -> Option<Found> {
    let mut screen = Screen::new(Policy::Redact);
    // What no longer passes validation was stored by an older version; it is left as it is.
    let content = Content::screened(memory.content.clone(), memory.chunk_type, &mut screen).ok()?;
    let source = Source::screened(memory.source.clone(), &mut screen).ok()?;
    let tags = Tags::screened(memory.tags.clone(), &mut screen).ok()?;
    if screen.redactions().is_empty() {
        return None;
    }
    let redacted = summary(screen.redactions());
    let content = (content.as_str() != memory.content).then_some(content);
    Some(Found { memory, content, source, tags, redacted })
}

impl Memories {
    /// Runs the scrub unless it ran on this database before.
    pub async fn scrub_secrets(&self) -> Result<ScrubReport, MemoryError> {
        let store: &Store = self.store();
        let mut report = ScrubReport::default();
        if store.maintenance_done(SCRUB_JOB).await? {
            return Ok(report);
        }
        let mut after = 0;
        loop {
            let (page, last) = store.memories_after(after, PAGE).await?;
            let Some(last) = last else { break };
            after = last;
            report.memories_seen += page.len();
            let found: Vec<Found> = page.into_iter().filter_map(screen).collect();
            if found.is_empty() {
                continue;
            }
            if report.memories_scrubbed == 0 {
                store.secure_delete(true).await?;
            }
            report.memories_scrubbed += found.len();
            let texts =
                found.iter().filter_map(|f| f.content.as_ref().map(|c| c.as_str().to_owned()));
            let vectors = self.embedder().embed_windows(texts.collect(), Priority::Bulk).await?;
            let mut vectors = vectors.into_iter();
            let scrubbed = found
                .into_iter()
                .map(|f| {
                    let file = f.memory.chunk_type == ChunkType::FileIndexed;
                    let chunk_hash =
                        f.content.as_ref().filter(|_| file).map(|c| text_hash(c.as_str()));
                    let content = f.content.and_then(|c| vectors.next().map(|v| (c, v)));
                    Scrubbed {
                        project: f.memory.project,
                        id: f.memory.id,
                        content,
                        source: f.source,
                        tags: f.tags,
                        chunk_hash,
                        redacted: f.redacted,
                    }
                })
                .collect();
            store.write_scrubbed(scrubbed).await?;
        }
        if report.memories_scrubbed > 0 {
            store.secure_delete(false).await?;
        }
        store.mark_maintenance_done(SCRUB_JOB).await?;
        Ok(report)
    }
}
