// The only module that knows how the dashboard talks to the engine: Tauri IPC (invoke and
// events) inside the desktop app, fetch and EventSource against the owner's HTTP port in a
// browser. Both reach the same engine functions (src/dashboard.rs), with the same types.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type {
  Activity, DayCount, Deleted, ErrorReply, Event, EventKind, IndexStatus, InitReply, ListParams, Memory,
  MemoryDraft, MemoryEdit, Page, SearchParams, SearchReply, StoreOutcome, WatchConfig, WatchEdit,
} from "./bindings";

export type { Activity, DayCount, Event as AnnalEvent, IndexStatus as ProjectStatus, ListParams, Memory, WatchConfig } from "./bindings";

export const inDesktopApp = typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;

const EVENT_KINDS: EventKind[] = [
  "memory_stored", "memory_updated", "memory_deleted", "index_started", "index_progress",
  "index_complete", "index_failed", "project_updated", "watcher_error", "database_lost",
];

/** The engine's answer to a failed call, as an Error whose message is the engine's text. */
export class EngineError extends Error {
  constructor(readonly reply: ErrorReply) {
    super(reply.message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  // The session cookie (HttpOnly, set at sign-in) is the credential; the page holds none.
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) {
    // Signed out (the session expired, or the token was replaced): the server's page says how
    // to sign in again.
    window.location.reload();
    throw new EngineError({ kind: "unavailable", message: "signed out" } as ErrorReply);
  }
  if (!response.ok) {
    const reply = await response.json().catch(() => ({ kind: "internal", message: response.statusText }));
    throw new EngineError(reply as ErrorReply);
  }
  return response.status === 204 || response.status === 202 ? (undefined as T) : ((await response.json()) as T);
}

async function call<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reply) {
    throw typeof reply === "object" && reply !== null && "message" in reply
      ? new EngineError(reply as ErrorReply)
      : new Error(String(reply));
  }
}

function query(params: object): string {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== "");
  return new URLSearchParams(pairs.map(([key, value]) => [key, String(value)])).toString();
}

const enc = encodeURIComponent;

interface Api {
  projects(): Promise<IndexStatus[]>;
  memories(project: string, params: ListParams): Promise<Page>;
  search(project: string, params: SearchParams): Promise<SearchReply>;
  create(project: string, draft: MemoryDraft): Promise<StoreOutcome>;
  update(project: string, id: string, edit: MemoryEdit): Promise<Memory>;
  remove(project: string, id: string): Promise<void>;
  reindex(project: string): Promise<void>;
  recentEvents(): Promise<Event[]>;
  activity(): Promise<Activity>;
  watchConfig(project: string): Promise<WatchConfig | null>;
  configure(project: string, edit: WatchEdit): Promise<InitReply>;
  deleteSelected(project: string, ids: string[]): Promise<Deleted>;
  deleteMatching(project: string, filter: ListParams, expected: number): Promise<Deleted>;
  chain(project: string, id: string): Promise<Memory[]>;
  timeline(project: string): Promise<DayCount[]>;
}

const http: Api = {
  projects: () => request("GET", "/api/projects"),
  memories: (project, params) => request("GET", `/api/projects/${enc(project)}/memories?${query(params)}`),
  search: (project, params) => request("GET", `/api/projects/${enc(project)}/search?${query(params)}`),
  create: (project, draft) => request("POST", `/api/projects/${enc(project)}/memories`, draft),
  update: (project, id, edit) => request("PUT", `/api/projects/${enc(project)}/memories/${enc(id)}`, edit),
  remove: (project, id) => request("DELETE", `/api/projects/${enc(project)}/memories/${enc(id)}`),
  reindex: (project) => request("POST", `/api/projects/${enc(project)}/reindex`),
  recentEvents: () => request("GET", "/api/events/recent"),
  activity: () => request("GET", "/api/activity"),
  watchConfig: (project) => request("GET", `/api/projects/${enc(project)}/watch`),
  configure: (project, edit) => request("PUT", `/api/projects/${enc(project)}/watch`, edit),
  deleteSelected: (project, ids) => request("POST", `/api/projects/${enc(project)}/delete-selected`, { ids }),
  deleteMatching: (project, filter, expected) => request("POST", `/api/projects/${enc(project)}/delete-matching`, { filter, expected }),
  chain: (project, id) => request("GET", `/api/projects/${enc(project)}/memories/${enc(id)}/chain`),
  timeline: (project) => request("GET", `/api/projects/${enc(project)}/timeline`),
};

const ipc: Api = {
  projects: () => call("projects"),
  memories: (project, params) => call("memories", { project, params }),
  search: (project, params) => call("search", { project, params }),
  create: (project, draft) => call("create_memory", { project, draft }),
  update: (project, id, edit) => call("edit_memory", { project, id, edit }),
  remove: (project, id) => call("delete_memory", { project, id }),
  reindex: (project) => call("reindex", { project }),
  recentEvents: () => call("recent_events"),
  activity: () => call("activity"),
  watchConfig: (project) => call("watch_config", { project }),
  configure: (project, edit) => call("configure_project", { project, edit }),
  deleteSelected: (project, ids) => call("delete_selected", { project, ids }),
  deleteMatching: (project, filter, expected) => call("delete_matching", { project, filter, expected }),
  chain: (project, id) => call("chain", { project, id }),
  timeline: (project) => call("timeline", { project }),
};

export const api: Api = inDesktopApp ? ipc : http;

/**
 * Calls `onEvent` for every live event; `onLagged` when events may have been missed;
 * `onReady` whenever the stream (re)starts — after a reconnect (an owner restart, a desktop
 * take-over) everything the page shows may be stale.
 */
export function subscribe(onEvent: (event: Event) => void, onLagged: () => void, onReady: () => void): void {
  if (inDesktopApp) {
    for (const kind of EVENT_KINDS) listen<Event>(kind, (message) => onEvent(message.payload));
    listen("lagged", onLagged);
    // The app's own engine cannot restart under the page: live from the first listen on.
    onReady();
    return;
  }
  const source = new EventSource("/api/events");
  for (const kind of EVENT_KINDS) {
    source.addEventListener(kind, (message) => onEvent(JSON.parse((message as MessageEvent).data)));
  }
  source.addEventListener("lagged", onLagged);
  source.addEventListener("ready", onReady);
}
