// Generated from the dashboard's query declarations (engine/src/dashboard/queries.rs)
// by engine/tests/bindings.rs; do not edit.
// Regenerate: ANNAL_UPDATE_BINDINGS=1 cargo test -p annal-engine --test engine bindings

import type { Activity, ClientStatus, ConnectConfirm, ConnectParams, DayCount, Deleted, ErrorKind, Event, EventKind, HookOverrides, HookView, Inbox, IndexStatus, InitReply, ListParams, Matching, Memory, MemoryDraft, MemoryEdit, Page, Plan, ReviewAction, SearchParams, SearchReply, Selection, Stored, TagCount, Updated, WatchConfig, WatchEdit } from "./bindings";

export const EVENT_KINDS: EventKind[] = ["memory_stored", "memory_updated", "memory_deleted", "review_marked", "index_started", "index_progress", "index_complete", "index_failed", "project_updated", "watcher_error", "database_lost"];
export const ERROR_KINDS: ErrorKind[] = ["not_found", "invalid", "conflict", "unavailable", "internal"];

/** Every dashboard query. */
export interface Api {
  projects(): Promise<Array<IndexStatus>>;
  projectStatus(project: string): Promise<IndexStatus>;
  memories(project: string, params: ListParams): Promise<Page>;
  search(project: string, params: SearchParams): Promise<SearchReply>;
  createMemory(project: string, draft: MemoryDraft): Promise<Stored>;
  editMemory(project: string, id: string, edit: MemoryEdit): Promise<Updated>;
  deleteMemory(project: string, id: string): Promise<void>;
  confirmMemory(project: string, id: string): Promise<Memory>;
  reviewInbox(project: string): Promise<Inbox>;
  resolveReview(project: string, action: ReviewAction): Promise<Inbox>;
  chain(project: string, id: string): Promise<Array<Memory>>;
  deleteSelected(project: string, selection: Selection): Promise<Deleted>;
  deleteMatching(project: string, matching: Matching): Promise<Deleted>;
  topics(project: string): Promise<Array<TagCount>>;
  timeline(project: string): Promise<Array<DayCount>>;
  reindex(project: string): Promise<void>;
  watchConfig(project: string): Promise<WatchConfig | null>;
  configureProject(project: string, edit: WatchEdit): Promise<InitReply>;
  hookSettings(project: string): Promise<HookView>;
  configureHooks(project: string, edit: HookOverrides): Promise<HookView>;
  recentEvents(): Promise<Array<Event>>;
  activity(): Promise<Activity>;
  clients(): Promise<Array<ClientStatus>>;
  connectPlan(params: ConnectParams): Promise<Plan>;
  connectApply(confirm: ConnectConfirm): Promise<Plan>;
}

/** A query over the owner's HTTP API: `query` goes into the URL, `body` is sent as JSON;
 * resolves to the parsed answer, or to nothing when `answersWithBody` is false. */
export type Request = (method: string, path: string, input: { query?: object; body?: unknown }, answersWithBody: boolean) => Promise<any>;

/** A Tauri command with named arguments, resolving to its deserialized answer. */
export type Call = (command: string, args: Record<string, unknown>) => Promise<any>;

export function httpApi(request: Request): Api {
  return {
    projects: () => request("GET", `/api/projects`, {}, true),
    projectStatus: (project) => request("GET", `/api/projects/${encodeURIComponent(project)}/status`, {}, true),
    memories: (project, params) => request("GET", `/api/projects/${encodeURIComponent(project)}/memories`, { query: params }, true),
    search: (project, params) => request("GET", `/api/projects/${encodeURIComponent(project)}/search`, { query: params }, true),
    createMemory: (project, draft) => request("POST", `/api/projects/${encodeURIComponent(project)}/memories`, { body: draft }, true),
    editMemory: (project, id, edit) => request("PUT", `/api/projects/${encodeURIComponent(project)}/memories/${encodeURIComponent(id)}`, { body: edit }, true),
    deleteMemory: (project, id) => request("DELETE", `/api/projects/${encodeURIComponent(project)}/memories/${encodeURIComponent(id)}`, {}, false),
    confirmMemory: (project, id) => request("POST", `/api/projects/${encodeURIComponent(project)}/memories/${encodeURIComponent(id)}/confirm`, {}, true),
    reviewInbox: (project) => request("GET", `/api/projects/${encodeURIComponent(project)}/review`, {}, true),
    resolveReview: (project, action) => request("POST", `/api/projects/${encodeURIComponent(project)}/review`, { body: action }, true),
    chain: (project, id) => request("GET", `/api/projects/${encodeURIComponent(project)}/memories/${encodeURIComponent(id)}/chain`, {}, true),
    deleteSelected: (project, selection) => request("POST", `/api/projects/${encodeURIComponent(project)}/delete-selected`, { body: selection }, true),
    deleteMatching: (project, matching) => request("POST", `/api/projects/${encodeURIComponent(project)}/delete-matching`, { body: matching }, true),
    topics: (project) => request("GET", `/api/projects/${encodeURIComponent(project)}/topics`, {}, true),
    timeline: (project) => request("GET", `/api/projects/${encodeURIComponent(project)}/timeline`, {}, true),
    reindex: (project) => request("POST", `/api/projects/${encodeURIComponent(project)}/reindex`, {}, false),
    watchConfig: (project) => request("GET", `/api/projects/${encodeURIComponent(project)}/watch`, {}, true),
    configureProject: (project, edit) => request("PUT", `/api/projects/${encodeURIComponent(project)}/watch`, { body: edit }, true),
    hookSettings: (project) => request("GET", `/api/projects/${encodeURIComponent(project)}/hooks`, {}, true),
    configureHooks: (project, edit) => request("PUT", `/api/projects/${encodeURIComponent(project)}/hooks`, { body: edit }, true),
    recentEvents: () => request("GET", `/api/events/recent`, {}, true),
    activity: () => request("GET", `/api/activity`, {}, true),
    clients: () => request("GET", `/api/clients`, {}, true),
    connectPlan: (params) => request("GET", `/api/clients/plan`, { query: params }, true),
    connectApply: (confirm) => request("POST", `/api/clients/apply`, { body: confirm }, true),
  };
}

export function ipcApi(call: Call): Api {
  return {
    projects: () => call("projects", {}),
    projectStatus: (project) => call("project_status", { project }),
    memories: (project, params) => call("memories", { project, params }),
    search: (project, params) => call("search", { project, params }),
    createMemory: (project, draft) => call("create_memory", { project, draft }),
    editMemory: (project, id, edit) => call("edit_memory", { project, id, edit }),
    deleteMemory: (project, id) => call("delete_memory", { project, id }),
    confirmMemory: (project, id) => call("confirm_memory", { project, id }),
    reviewInbox: (project) => call("review_inbox", { project }),
    resolveReview: (project, action) => call("resolve_review", { project, action }),
    chain: (project, id) => call("chain", { project, id }),
    deleteSelected: (project, selection) => call("delete_selected", { project, selection }),
    deleteMatching: (project, matching) => call("delete_matching", { project, matching }),
    topics: (project) => call("topics", { project }),
    timeline: (project) => call("timeline", { project }),
    reindex: (project) => call("reindex", { project }),
    watchConfig: (project) => call("watch_config", { project }),
    configureProject: (project, edit) => call("configure_project", { project, edit }),
    hookSettings: (project) => call("hook_settings", { project }),
    configureHooks: (project, edit) => call("configure_hooks", { project, edit }),
    recentEvents: () => call("recent_events", {}),
    activity: () => call("activity", {}),
    clients: () => call("clients", {}),
    connectPlan: (params) => call("connect_plan", { params }),
    connectApply: (confirm) => call("connect_apply", { confirm }),
  };
}
