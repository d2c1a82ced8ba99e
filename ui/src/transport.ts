// The only module that knows how the dashboard talks to the owner. In a browser that is
// fetch and EventSource against the owner's HTTP port; the desktop shell will add its
// IPC here without touching the views.

export interface Stats {
  total: number;
  agent_memories: number;
  file_chunks: number;
  superseded: number;
  stale: number;
  never_accessed: number;
  top_tags: { tag: string; count: number }[];
}

export type IndexState =
  | { state: "idle" }
  | { state: "indexing"; started_at: string; files_done: number }
  | { state: "failed"; at: string; error: string };

export interface ProjectStatus {
  project: string;
  index: IndexState;
  stats: Stats;
}

export interface Memory {
  id: string;
  project: string;
  content: string;
  tags: string[];
  source: string;
  chunk_type: "agent-memory" | "file-indexed";
  created_at: string;
}

export interface Page {
  total: number;
  items: Memory[];
}

export interface AnnalEvent {
  seq: number;
  type: string;
  project: string;
  detail: Record<string, unknown>;
  created_at: string;
}

function token(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="annal-token"]')?.content ?? "";
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== "GET") headers["Authorization"] = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) {
    const error = await response.json().catch(() => ({ message: response.statusText }));
    throw new Error(error.message ?? response.statusText);
  }
  return response.status === 204 || response.status === 202 ? (undefined as T) : ((await response.json()) as T);
}

const enc = encodeURIComponent;

export const api = {
  projects: () => request<ProjectStatus[]>("GET", "/api/projects"),
  memories: (project: string, offset: number, limit: number, tag = "") =>
    request<Page>("GET", `/api/projects/${enc(project)}/memories?offset=${offset}&limit=${limit}&tag=${enc(tag)}`),
  search: (project: string, query: string) =>
    request<{ results: unknown }>("GET", `/api/projects/${enc(project)}/search?query=${enc(query)}&mode=summary&limit=20`),
  create: (project: string, content: string, tags: string[]) =>
    request<unknown>("POST", `/api/projects/${enc(project)}/memories`, { content, tags }),
  update: (project: string, id: string, content: string, tags: string[]) =>
    request<Memory>("PUT", `/api/projects/${enc(project)}/memories/${enc(id)}`, { content, tags }),
  remove: (project: string, id: string) => request<void>("DELETE", `/api/projects/${enc(project)}/memories/${enc(id)}`),
  reindex: (project: string) => request<void>("POST", `/api/projects/${enc(project)}/reindex`),
  recentEvents: () => request<AnnalEvent[]>("GET", "/api/events/recent"),
};

/** Calls `onEvent` for every live event; `onLagged` when the stream says events were missed. */
export function subscribe(onEvent: (event: AnnalEvent) => void, onLagged: () => void): void {
  const source = new EventSource("/api/events");
  const kinds = [
    "memory_stored", "memory_updated", "memory_deleted", "index_started", "index_progress",
    "index_complete", "index_failed", "project_updated", "watcher_error",
  ];
  for (const kind of kinds) {
    source.addEventListener(kind, (message) => onEvent(JSON.parse((message as MessageEvent).data)));
  }
  source.addEventListener("lagged", onLagged);
}
