//! Export: every memory of one project (or of all) as JSONL, read a page at a time, so an
//! export of any size holds one page in memory.

use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt as _};

use super::line::write_line;
use crate::project::ProjectName;
use crate::store::{Store, StoreError};

/// Memories read (and rendered) per step of the stream.
const PAGE: usize = 500;

/// What to export.
#[derive(Debug, Clone)]
pub enum Scope {
    Project(ProjectName),
    /// Every project, one after another in name order, each line with a `project` key.
    All,
}

/// An export under way: how many memories it will hold (as of its start, for a progress
/// bar), and its text (ASCII), a page of lines per item.
pub struct Export {
    pub total: u64,
    pub chunks: BoxStream<'static, Result<Vec<u8>, StoreError>>,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export").field("total", &self.total).finish_non_exhaustive()
    }
}

struct Cursor {
    store: Store,
    projects: std::vec::IntoIter<ProjectName>,
    current: Option<ProjectName>,
    /// `(created_at, id)` of the last memory written.
    after: Option<(DateTime<Utc>, String)>,
    with_project: bool,
}

impl Cursor {
    /// The next page of lines, or `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        loop {
            let project = match &self.current {
                Some(project) => project.clone(),
                None => match self.projects.next() {
                    Some(project) => {
                        self.current = Some(project.clone());
                        self.after = None;
                        project
                    }
                    None => return Ok(None),
                },
            };
            let page = self.store.export_page(&project, self.after.take(), PAGE).await?;
            if page.len() < PAGE {
                self.current = None;
            }
            let Some(last) = page.last() else { continue };
            let mut chunk = Vec::with_capacity(page.len() * 512);
            for memory in &page {
                write_line(&mut chunk, memory, self.with_project);
            }
            self.after = Some((last.created_at, last.id.clone()));
            return Ok(Some(chunk));
        }
    }
}

/// Starts an export. An unknown project is [`StoreError::UnknownProject`] here, before any
/// line; a read that fails later ends the stream with that error.
pub async fn export(store: &Store, scope: Scope) -> Result<Export, StoreError> {
    let (projects, with_project) = match scope {
        Scope::Project(project) => (vec![project], false),
        Scope::All => {
            let names = store.projects().await?;
            let parsed = names.iter().filter_map(|name| ProjectName::parse(name).ok()).collect();
            (parsed, true)
        }
    };
    let mut total = 0;
    for project in &projects {
        total += store.count(project).await?;
    }
    let cursor = Cursor {
        store: store.clone(),
        projects: projects.into_iter(),
        current: None,
        after: None,
        with_project,
    };
    let chunks = stream::try_unfold(cursor, |mut cursor| async move {
        Ok(cursor.next_chunk().await?.map(|chunk| (chunk, cursor)))
    });
    Ok(Export { total, chunks: chunks.boxed() })
}
