//! The dashboard the fixture's queries (`fixture_queries.rs`) call: it echoes what reached it,
//! and refuses the project `refused`, so a test sees arguments, replies and errors cross.

use annal_engine::dashboard::{DashboardError, Deleted, ListParams, Selection};

#[derive(Debug, Clone, Copy, Default)]
pub struct Fixture;

impl Fixture {
    pub async fn echo_filter(
        &self,
        project: &str,
        id: &str,
        params: ListParams,
    ) -> Result<Vec<String>, DashboardError> {
        Ok(vec![project.to_owned(), id.to_owned(), params.tag.unwrap_or_default()])
    }

    pub async fn forget_selected(
        &self,
        project: &str,
        selection: Selection,
    ) -> Result<Deleted, DashboardError> {
        if project == "refused" {
            return Err(DashboardError::ChunkType("refused".into()));
        }
        Ok(Deleted { deleted: selection.ids.len() })
    }
}
