// Generated from the Rust wire types by engine/tests/bindings.rs; do not edit.
// Regenerate: ANNAL_UPDATE_BINDINGS=1 cargo test -p annal-engine --test engine bindings

export type ChunkType = "agent-memory" | "file-indexed";

export type FileInfo = { path: string, 
/**
 * Modification time in nanoseconds since the Unix epoch.
 */
mtime_ns: number, size: number, 
/**
 * Hash of the chunk's embedded text, to skip re-embedding unchanged chunks.
 */
chunk_hash: string, };

export type ReviewReason = "changed" | "deleted" | "renamed";

export type Review = { reason: ReviewReason, path: string, 
/**
 * Where a renamed file went.
 */
to?: string, since: string, };

export type Memory = { id: string, project: string, content: string, tags: Array<string>, source: string, chunk_type: ChunkType, created_at: string, updated_at: string | null, superseded_by: string | null, hit_count: number, last_accessed_at: string | null, file: FileInfo | null, 
/**
 * Set when a file the memory names changed, went or moved since it was written.
 */
review: Review | null, };

export type Page = { total: number, items: Array<Memory>, };

export type TagCount = { tag: string, count: number, };

export type Stats = { total: number, agent_memories: number, file_chunks: number, superseded: number, 
/**
 * Agent memories last accessed before the cutoff.
 */
stale: number, 
/**
 * Agent memories never accessed and created before the cutoff.
 */
never_accessed: number, 
/**
 * What the review inbox holds: memories a changed file marked, and the near-duplicate
 * pairs, possible conflicts and redactions writes recorded.
 */
needs_review: number, 
/**
 * Of those, the memories marked because a file they name changed, went or moved.
 */
files_changed: number, 
/**
 * The most used tags of live memories, most used first.
 */
top_tags: Array<TagCount>, };

export type Similar = { id: string, score: number, };

export type Conflict = { id: string, score: number, created_at: string, 
/**
 * The older decision's first non-empty line, shortened.
 */
first_line: string, };

export type StoreOutcome = { "status": "stored", id: string, similar: Similar | null, 
/**
 * Set for a new decision that may contradict a live one.
 */
conflict: Conflict | null, } | { "status": "skipped", duplicate_of: string, score: number, in_batch: boolean, };

export type Redaction = { 
/**
 * `content`, `source` or `tags[<index>]`.
 */
field: string, 
/**
 * The detector's name, as in `[redacted:<kind>]` (e.g. `github-token`).
 */
kind: string, start: number, end: number, };

export type Stored = { redactions: Array<Redaction>, } & ({ "status": "stored", id: string, similar: Similar | null, 
/**
 * Set for a new decision that may contradict a live one.
 */
conflict: Conflict | null, } | { "status": "skipped", duplicate_of: string, score: number, in_batch: boolean, });

export type ReviewKind = "code_change" | "duplicate" | "conflict" | "redaction";

export type InboxItem = { 
/**
 * `memory:<id>` for a memory a changed file marked, `item:<n>` for a pair or redaction a
 * write recorded: what an action names.
 */
key: string, kind: ReviewKind, memory: Memory, 
/**
 * The older memory of a pair.
 */
other: Memory | null, score: number | null, 
/**
 * Why it is here, in a sentence.
 */
reason: string, since: string, };

export type Inbox = { project: string, items: Array<InboxItem>, };

export type ReviewAction = { "action": "confirm", key: string, } | { "action": "supersede", key: string, winner: string, } | { "action": "merge", key: string, winner: string, } | { "action": "delete", id: string, };

export type Updated = { redactions: Array<Redaction>, id: string, project: string, content: string, tags: Array<string>, source: string, chunk_type: ChunkType, created_at: string, updated_at: string | null, superseded_by: string | null, hit_count: number, last_accessed_at: string | null, file: FileInfo | null, 
/**
 * Set when a file the memory names changed, went or moved since it was written.
 */
review: Review | null, };

export type Skipped = { path: string, reason: string, };

export type ReconcileReport = { files_seen: number, files_indexed: number, files_unchanged: number, files_removed: number, chunks_embedded: number, chunks_kept: number, chunks_removed: number, skipped: Array<Skipped>, duration_ms: number, };

export type LastReconcile = { at: string, report: ReconcileReport, };

export type IndexState = { "state": "idle" } | { "state": "indexing", started_at: string, files_done: number, } | { "state": "failed", at: string, error: string, };

export type IndexStatus = { project: string, index: IndexState, stats: Stats, last_reconcile: LastReconcile | null, };

export type Activity = { "state": "idle" } | { "state": "indexing", projects: Array<string>, files_done: number, } | { "state": "failed", project: string, error: string, };

export type ProjectChange = { "field": "created" } | { "field": "watch_paths", before: Array<string>, after: Array<string>, } | { "field": "watch_patterns", before: Array<string>, after: Array<string>, } | { "field": "watch_exclude", before: Array<string>, after: Array<string>, } | { "field": "watch", before: boolean, after: boolean, };

export type InitReply = { project: string, changes: Array<ProjectChange>, indexing: boolean, };

export type EventKind = "memory_stored" | "memory_updated" | "memory_deleted" | "review_marked" | "index_started" | "index_progress" | "index_complete" | "index_failed" | "project_updated" | "watcher_error" | "database_lost";

export type IndexCompleted = ReconcileReport | Record<string, never>;

export type EventDetail = { "type": "memory_stored", "detail": { id: string, } } | { "type": "memory_updated", "detail": { id: string, tags: Array<string>, } } | { "type": "memory_deleted", "detail": { ids: Array<string>, } } | { "type": "review_marked", "detail": { ids: Array<string>, path: string, reason: ReviewReason, } } | { "type": "index_started", "detail": Record<string, never> } | { "type": "index_progress", "detail": { files_done: number, } } | { "type": "index_complete", "detail": IndexCompleted } | { "type": "index_failed", "detail": { error: string, } } | { "type": "project_updated", "detail": { changes: Array<ProjectChange>, } } | { "type": "watcher_error", "detail": { error: string, } } | { "type": "database_lost", "detail": { path: string, error: string, } };

export type Event = { seq: number, project: string, created_at: string, } & ({ "type": "memory_stored", "detail": { id: string, } } | { "type": "memory_updated", "detail": { id: string, tags: Array<string>, } } | { "type": "memory_deleted", "detail": { ids: Array<string>, } } | { "type": "review_marked", "detail": { ids: Array<string>, path: string, reason: ReviewReason, } } | { "type": "index_started", "detail": Record<string, never> } | { "type": "index_progress", "detail": { files_done: number, } } | { "type": "index_complete", "detail": IndexCompleted } | { "type": "index_failed", "detail": { error: string, } } | { "type": "project_updated", "detail": { changes: Array<ProjectChange>, } } | { "type": "watcher_error", "detail": { error: string, } } | { "type": "database_lost", "detail": { path: string, error: string, } });

export type ErrorKind = "not_found" | "invalid" | "conflict" | "unavailable" | "internal";

export type ErrorReply = { kind: ErrorKind, message: string, };

export type ListParams = { type?: string, tag?: string, source?: string, include_superseded: boolean, 
/**
 * Only agent memories nobody has used for the stale period (the stats' "stale").
 */
stale_only: boolean, limit?: number, offset?: number, };

export type SearchParams = { query: string, mode?: string, limit: number, tags?: string, projects?: string, after?: string, before?: string, include_superseded: boolean, };

export type SearchHit = { memory: Memory, 
/**
 * Cosine similarity between the query and the memory.
 */
score: number, };

export type SearchReply = { hits: Array<SearchHit>, 
/**
 * Set when more than the primary project was searched.
 */
projects_searched: Array<string> | null, };

export type MemoryDraft = { content: string, tags: Array<string>, source?: string, supersedes?: string, };

export type MemoryEdit = { content?: string, tags?: Array<string>, source?: string, 
/**
 * An older memory the edited one replaces.
 */
supersedes?: string, };

export type WatchConfig = { watch_paths: Array<string>, watch_patterns: Array<string>, watch_exclude: Array<string>, watch: boolean, };

export type WatchEdit = { watch_paths?: Array<string>, watch_patterns?: Array<string>, watch_exclude?: Array<string>, watch?: boolean, };

export type Deleted = { deleted: number, };

export type Selection = { ids: Array<string>, };

export type Matching = { filter: ListParams, expected: number, };

export type DayCount = { 
/**
 * `YYYY-MM-DD`
 */
day: string, count: number, };

export type Client = "claude-code" | "codex" | "gemini" | "cursor" | "vscode" | "claude-desktop" | "windsurf" | "zed" | "opencode";

export type Scope = "user" | "project";

export type Operation = "install" | "uninstall";

export type FileKind = "config" | "instructions" | "hooks";

export type Action = { "kind": "added" } | { "kind": "already-configured" } | { "kind": "updated" } | { "kind": "removed" } | { "kind": "not-configured" } | { "kind": "skipped", "reason": string } | { "kind": "failed", "reason": string };

export type Row = { client: Client, kind: FileKind, 
/**
 * `None` for a client skipped before any file was looked at.
 */
file: string | null, action: Action, 
/**
 * The unified diff of the change; empty when nothing changes.
 */
diff: string, };

export type Plan = { operation: Operation, 
/**
 * The command entries run (for an install).
 */
command: string, rows: Array<Row>, 
/**
 * A digest of every planned change (each file, its bytes before and after): what a
 * caller that showed the plan hands [`apply_confirmed`], so that what is written is what
 * was shown.
 */
fingerprint: string, };

export type InstructionStatus = { file: string, 
/**
 * The file has Annal's block.
 */
present: boolean, 
/**
 * The block has the current text.
 */
current: boolean, };

export type HookStatus = { file: string, 
/**
 * Both hooks are there.
 */
present: boolean, 
/**
 * They run the command `annal install` would write now.
 */
current: boolean, 
/**
 * Why the file could not be read.
 */
problem: string | null, };

export type ClientStatus = { client: Client, 
/**
 * The name people know it by ("Claude Code").
 */
name: string, scope: Scope, 
/**
 * Its config dir exists or its program is on PATH.
 */
detected: boolean, 
/**
 * Its MCP config file at this scope.
 */
file: string, file_exists: boolean, 
/**
 * The file has an `annal` entry.
 */
configured: boolean, 
/**
 * What that entry runs.
 */
command: string | null, 
/**
 * Whether that command names an existing executable (an absolute path, or a name PATH
 * finds).
 */
command_found: boolean, 
/**
 * The entry runs what `annal install` would write now: installing would change nothing
 * in this file.
 */
up_to_date: boolean, 
/**
 * Why the file could not be read, with line and column when it does not parse.
 */
problem: string | null, instructions: InstructionStatus | null, 
/**
 * Its hooks, for a client that runs them at this scope.
 */
hooks: HookStatus | null, 
/**
 * What a person would add by hand: the file's content for a fresh install, running
 * this binary.
 */
snippet: string, };

export type ConnectParams = { client: Client, operation: Operation, };

export type ConnectConfirm = { client: Client, operation: Operation, fingerprint: string, };

export type HookSettings = { 
/**
 * Whether the hooks inject anything at all.
 */
enabled: boolean, 
/**
 * From the hook process's start to its output; past it the hook prints nothing.
 */
budget_ms: number, 
/**
 * Estimated tokens the session-start brief may take.
 */
brief_tokens: number, 
/**
 * Estimated tokens one prompt's recall may take.
 */
recall_tokens: number, 
/**
 * Memories one prompt's recall may inject.
 */
recall_max: number, 
/**
 * Only results at least this similar to the prompt (cosine) are injected.
 */
min_score: number, 
/**
 * Whether indexed file chunks may be injected too (after agent memories).
 */
include_files: boolean, };

export type HookOverrides = { enabled?: boolean, budget_ms?: number, brief_tokens?: number, recall_tokens?: number, recall_max?: number, min_score?: number, include_files?: boolean, };

export type Injection = { text: string, 
/**
 * The memories in it, in its order.
 */
memories: Array<string>, 
/**
 * `text`'s estimated tokens.
 */
tokens: number, };

export type HookView = { 
/**
 * The `hooks:` section every project starts from.
 */
defaults: HookSettings, 
/**
 * What the project sets itself.
 */
project: HookOverrides, 
/**
 * What its hooks run with.
 */
effective: HookSettings, preview: Injection, };
