//! The MCP adapter: twelve tools over the pool, with the reference system's names and
//! parameters. Each tool parses its input, calls one engine function, and renders the result;
//! a domain failure is a tool error (`isError: true`), never a protocol error.

mod params;
mod render;

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

use crate::config::ProjectInit;
use crate::excerpt::excerpt;
use crate::memories::BatchItem;
use crate::pool::Pool;
use crate::search::{Mode, SearchRequest};

pub use params::*;

type ToolResult = Result<String, String>;

fn list(value: Option<StringOrList>) -> Option<Vec<String>> {
    value.map(StringOrList::into_vec)
}

fn error(err: impl std::fmt::Display) -> String {
    err.to_string()
}

fn json_output(output: Option<&str>) -> Result<bool, String> {
    match output.map(|o| o.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(o) if o == "text" => Ok(false),
        Some(o) if o == "json" => Ok(true),
        Some(other) => Err(format!("output must be text or json, got {}", excerpt(&other))),
    }
}

/// The MCP server over one pool. Cheap to clone: every session shares the pool.
#[derive(Debug, Clone)]
pub struct AnnalServer {
    pool: Arc<Pool>,
    /// The client's working directory, which relative watch paths in `init_project` are taken
    /// from; unknown (and relative paths refused) unless the sidecar told it.
    base_dir: Option<PathBuf>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl AnnalServer {
    pub fn new(pool: Arc<Pool>, base_dir: Option<PathBuf>) -> Self {
        Self { pool, base_dir, tool_router: Self::tool_router() }
    }

    /// Store a memory: a decision, bug root cause, pattern or preference worth keeping.
    #[tool(annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false))]
    async fn store_memory(&self, Parameters(Args(p)): Parameters<Args<StoreMemory>>) -> ToolResult {
        let stored = self
            .pool
            .memories()
            .store_memory(&p.project, p.content, p.tags.into_vec(), p.source, p.supersedes)
            .await
            .map_err(error)?;
        Ok(render::stored(&stored))
    }

    /// Store up to 100 memories at once; each is de-duplicated and reported.
    #[tool(annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false))]
    async fn store_batch(&self, Parameters(Args(p)): Parameters<Args<StoreBatch>>) -> ToolResult {
        let items = p
            .memories
            .into_iter()
            .map(|m| BatchItem {
                content: m.content,
                tags: list(m.tags),
                source: m.source,
                supersedes: m.supersedes,
            })
            .collect();
        let stored = self.pool.memories().store_batch(&p.project, items).await.map_err(error)?;
        Ok(render::batch(&stored))
    }

    /// Search memories and indexed docs by meaning and by exact words.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn search_memories(
        &self,
        Parameters(Args(p)): Parameters<Args<SearchMemories>>,
    ) -> ToolResult {
        let json = json_output(p.output.as_deref())?;
        let mut request = SearchRequest::new(p.project, p.query);
        request.tags = list(p.tags).unwrap_or_default();
        request.limit = p.limit.unwrap_or(request.limit);
        request.mode =
            p.mode.as_deref().map(Mode::parse).transpose().map_err(error)?.unwrap_or(Mode::Summary);
        request.min_score = p.min_score.unwrap_or(request.min_score);
        request.after = p.after;
        request.before = p.before;
        request.projects = list(p.projects);
        request.include_superseded = p.include_superseded.unwrap_or(false);
        request.source = p.source;
        let results = self.pool.memories().search(request).await.map_err(error)?;
        Ok(if json { results.to_json().to_string() } else { render::search(&results) })
    }

    /// Full content of memories by id (after a probe search).
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn expand_memories(
        &self,
        Parameters(Args(p)): Parameters<Args<ExpandMemories>>,
    ) -> ToolResult {
        let json = json_output(p.output.as_deref())?;
        let expanded = self
            .pool
            .memories()
            .expand(&p.project, p.memory_ids.into_vec())
            .await
            .map_err(error)?;
        if expanded.memories.is_empty() {
            return Err(format!("not found: {}", expanded.missing.join(", ")));
        }
        Ok(if json {
            serde_json::to_string(&expanded).map_err(error)?
        } else {
            render::expanded(&expanded)
        })
    }

    /// Edit a memory in place (keeps its id and creation date).
    #[tool(annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true))]
    async fn update_memory(
        &self,
        Parameters(Args(p)): Parameters<Args<UpdateMemory>>,
    ) -> ToolResult {
        let updated = self
            .pool
            .memories()
            .update_memory(
                &p.project,
                &p.memory_id,
                p.content,
                list(p.tags),
                p.source,
                p.supersedes,
            )
            .await
            .map_err(error)?;
        Ok(render::updated(&updated))
    }

    /// Change a memory's tags: set_tags replaces them; add_tags/remove_tags edit them.
    #[tool(annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true))]
    async fn retag_memory(&self, Parameters(Args(p)): Parameters<Args<RetagMemory>>) -> ToolResult {
        let retagged = self
            .pool
            .memories()
            .retag_memory(
                &p.project,
                &p.memory_id,
                list(p.add_tags),
                list(p.remove_tags),
                list(p.set_tags),
            )
            .await
            .map_err(error)?;
        Ok(render::retagged(&p.memory_id, &retagged))
    }

    /// Delete one memory.
    #[tool(annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true))]
    async fn delete_memory(&self, Parameters(Args(p)): Parameters<Args<MemoryRef>>) -> ToolResult {
        self.pool.memories().delete(&p.project, &p.memory_id).await.map_err(error)?;
        Ok(format!("Deleted memory {}", p.memory_id))
    }

    /// Tags in use with their counts, most used first.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn list_topics(&self, Parameters(Args(p)): Parameters<Args<ProjectRef>>) -> ToolResult {
        let topics = self.pool.memories().topics(&p.project).await.map_err(error)?;
        Ok(render::topics(&p.project, &topics))
    }

    /// Find (and unless dry_run, delete) agent memories nobody has used for a long time.
    #[tool(annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true))]
    async fn prune_stale(&self, Parameters(Args(p)): Parameters<Args<PruneStale>>) -> ToolResult {
        let report = self
            .pool
            .memories()
            .prune_stale(
                &p.project,
                p.max_age_days.unwrap_or(crate::pool::STALE_AFTER_DAYS),
                p.include_never_accessed.unwrap_or(true),
                p.dry_run.unwrap_or(true),
            )
            .await
            .map_err(error)?;
        Ok(render::prune(&report))
    }

    /// Register or update a project and index its documents in the background.
    #[tool(annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true))]
    async fn init_project(&self, Parameters(Args(p)): Parameters<Args<InitProject>>) -> ToolResult {
        let init = ProjectInit {
            watch_paths: list(p.watch_paths)
                .map(|paths| paths.into_iter().map(PathBuf::from).collect()),
            watch_patterns: list(p.watch_patterns),
            watch_exclude: list(p.watch_exclude),
            watch: p.watch,
        };
        let base = self.base_dir.as_deref();
        let reply = self.pool.init_project(&p.project_name, init, base).await.map_err(error)?;
        Ok(render::init(&reply))
    }

    /// Re-index a project's documents from scratch in the background.
    #[tool(annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true))]
    async fn index_files(&self, Parameters(Args(p)): Parameters<Args<ProjectRef>>) -> ToolResult {
        self.pool.index_files(&p.project).await.map_err(error)?;
        Ok(format!("Re-indexing {} in the background; check index_status.", p.project))
    }

    /// Indexing state, memory counts and the last reconcile of a project.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn index_status(&self, Parameters(Args(p)): Parameters<Args<ProjectRef>>) -> ToolResult {
        let status = self.pool.index_status(&p.project).await.map_err(error)?;
        Ok(render::status(&status))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for AnnalServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("annal", env!("CARGO_PKG_VERSION")))
            .with_instructions(crate::instructions::server_instructions())
    }
}
