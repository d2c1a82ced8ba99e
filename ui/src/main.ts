import "./style.css";
import { api, subscribe, type AnnalEvent, type Memory, type ProjectStatus } from "./transport";

const app = document.getElementById("app")!;
const indicator = document.getElementById("activity-indicator")!;
const feed: AnnalEvent[] = [];
const PAGE = 20;
let memoriesOffset = 0;
let selectedProject = "";
let selectedTag = "";

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node: HTMLElementTagNameMap[K] = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function relative(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}

function stateLabel(status: ProjectStatus): HTMLElement {
  const index = status.index;
  const badge = el("span", { className: `state state-${index.state}` }, index.state);
  if (index.state === "indexing") badge.textContent = `indexing (${index.files_done} files)`;
  if (index.state !== "failed") return badge;
  const retry = el("button", { className: "retry", textContent: "Retry" });
  retry.onclick = () => api.reindex(status.project).then(render, showError);
  return el("span", {}, badge, el("span", { className: "error-text" }, index.error), retry);
}

function showError(error: Error): void {
  const banner = el("div", { className: "banner" }, error.message);
  app.prepend(banner);
}

async function renderOverview(): Promise<void> {
  const projects = await api.projects();
  if (projects.length === 0) {
    app.replaceChildren(
      el("section", { className: "empty" },
        el("h2", {}, "No memories yet"),
        el("p", {}, "Connect an agent: add the MCP server command "),
        el("code", {}, "annal"),
        el("p", {}, " to your agent's MCP configuration, then ask it to store a memory.")),
      feedSection());
    return;
  }
  const totals = projects.reduce((t, p) => ({
    memories: t.memories + p.stats.total,
    agent: t.agent + p.stats.agent_memories,
    stale: t.stale + p.stats.stale,
  }), { memories: 0, agent: 0, stale: 0 });
  const ribbon = el("section", { className: "ribbon", id: "stats" },
    el("div", {}, el("strong", { id: "stat-memories" }, String(totals.memories)), " memories"),
    el("div", {}, el("strong", {}, String(projects.length)), " projects"),
    el("div", {}, el("strong", {}, String(totals.agent)), " agent memories"),
    el("div", {}, el("strong", {}, String(totals.stale)), " stale"));
  const rows = projects.map((p) =>
    el("tr", { className: "project-row" },
      el("td", {}, p.project),
      el("td", {}, String(p.stats.agent_memories)),
      el("td", {}, String(p.stats.file_chunks)),
      el("td", { className: "index-state" }, stateLabel(p))));
  const table = el("table", { id: "projects" },
    el("thead", {}, el("tr", {}, el("th", {}, "Project"), el("th", {}, "Agent"), el("th", {}, "Files"), el("th", {}, "Indexing"))),
    el("tbody", {}, ...rows));
  app.replaceChildren(ribbon, table, feedSection());
}

function feedSection(): HTMLElement {
  const items = feed.slice(-30).reverse().map((event) =>
    el("li", {}, el("span", { className: "kind" }, event.type), " ", el("a", { href: `#memories/${event.project}` }, event.project), " ", el("time", {}, relative(event.created_at))));
  return el("section", { id: "feed" }, el("h2", {}, "Activity"), el("ul", {}, ...items));
}

function tagList(text: string): string[] {
  return text.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
}

function memoryRow(memory: Memory): HTMLElement {
  const remove = el("button", { className: "delete", textContent: "Delete" });
  remove.onclick = () => {
    if (confirm(`Delete 1 memory (${memory.id})?`)) api.remove(memory.project, memory.id).then(render, showError);
  };
  const content = el("td", { className: "content" }, memory.content.slice(0, 200));
  const edit = el("button", { className: "edit", textContent: "Edit" });
  edit.onclick = () => {
    const text = el("textarea", { className: "edit-content", value: memory.content });
    const tags = el("input", { className: "edit-tags", value: memory.tags.join(", ") });
    const save = el("button", { className: "save", textContent: "Save" });
    save.onclick = () => api.update(memory.project, memory.id, text.value, tagList(tags.value)).then(render, showError);
    content.replaceChildren(text, tags, save);
  };
  return el("tr", { className: "memory-row" },
    content,
    el("td", {}, ...memory.tags.map((t) => el("span", { className: "tag" }, t))),
    el("td", {}, relative(memory.created_at)),
    el("td", {}, edit, remove));
}

function newMemoryForm(): HTMLElement {
  const content = el("textarea", { id: "new-content", placeholder: "What should agents remember?" });
  const tags = el("input", { id: "new-tags", placeholder: "tags, comma separated" });
  const create = el("button", { id: "create", textContent: "Store memory" });
  create.onclick = () => api.create(selectedProject, content.value, tagList(tags.value)).then(render, showError);
  return el("section", { id: "new-memory", className: "toolbar" }, content, tags, create);
}

async function renderProjects(): Promise<void> {
  const projects = await api.projects();
  const cards = projects.map((p) => {
    const reindex = el("button", { className: "reindex", textContent: "Re-index" });
    reindex.onclick = () => api.reindex(p.project).then(render, showError);
    const tags = p.stats.top_tags.map((t) =>
      el("a", { className: "tag", href: `#memories/${encodeURIComponent(p.project)}/${encodeURIComponent(t.tag)}` }, `${t.tag} (${t.count})`));
    const card = el("section", { className: "project-card" },
      el("h2", {}, p.project),
      el("p", {}, `${p.stats.agent_memories} agent memories, ${p.stats.file_chunks} file chunks, ${p.stats.superseded} superseded, ${p.stats.stale} stale, ${p.stats.never_accessed} never accessed`),
      el("p", { className: "top-tags" }, ...tags),
      el("p", {}, stateLabel(p), " ", reindex));
    card.dataset.project = p.project;
    return card;
  });
  app.replaceChildren(...(cards.length > 0 ? cards : [el("p", {}, "No projects yet.")]));
}

async function renderMemories(): Promise<void> {
  const projects = await api.projects();
  if (!selectedProject && projects.length > 0) selectedProject = projects[0].project;
  const select = el("select", { id: "project-select" }, ...projects.map((p) => el("option", { value: p.project, selected: p.project === selectedProject }, p.project)));
  select.onchange = () => { selectedProject = select.value; memoriesOffset = 0; render(); };
  const search = el("input", { id: "search", type: "search", placeholder: "Search memories…" });
  const body = el("tbody");
  const info = el("span", { id: "page-info" });
  const prev = el("button", { id: "prev", textContent: "Previous" });
  const next = el("button", { id: "next", textContent: "Next" });
  const filter = selectedTag ? el("span", { id: "tag-filter", className: "tag" }, `tag: ${selectedTag}`) : "";
  app.replaceChildren(el("section", { className: "toolbar" }, select, search, filter), newMemoryForm(), el("table", { id: "memories" }, body), el("div", { className: "pager" }, prev, info, next));
  if (!selectedProject) return;
  const page = await api.memories(selectedProject, memoriesOffset, PAGE, selectedTag);
  body.replaceChildren(...page.items.map(memoryRow));
  info.textContent = `${page.total === 0 ? 0 : memoriesOffset + 1}–${Math.min(memoriesOffset + PAGE, page.total)} of ${page.total}`;
  prev.disabled = memoriesOffset === 0;
  next.disabled = memoriesOffset + PAGE >= page.total;
  prev.onclick = () => { memoriesOffset = Math.max(0, memoriesOffset - PAGE); render(); };
  next.onclick = () => { memoriesOffset += PAGE; render(); };
  search.onkeydown = async (key) => {
    if (key.key !== "Enter" || !search.value.trim()) return;
    const found = (await api.search(selectedProject, search.value)).results;
    const hits = (Array.isArray(found) ? found : [...(found as { agent_memories: unknown[] }).agent_memories ?? [], ...(found as { file_indexed: unknown[] }).file_indexed ?? []]) as { id: string; content_preview: string; tags: string[]; created_at: string }[];
    body.replaceChildren(...hits.map((h) => memoryRow({ id: h.id, project: selectedProject, content: h.content_preview, tags: h.tags, source: "", chunk_type: "agent-memory", created_at: h.created_at })));
    info.textContent = `${hits.length} results`;
  };
}

function render(): void {
  const [route, project, tag] = location.hash.split("/");
  const view = route === "#memories" ? renderMemories : route === "#projects" ? renderProjects : renderOverview;
  if (route === "#memories") {
    if (project) selectedProject = decodeURIComponent(project);
    selectedTag = tag ? decodeURIComponent(tag) : "";
  }
  view().catch(showError);
}

function onEvent(event: AnnalEvent): void {
  feed.push(event);
  if (event.type.startsWith("index_")) {
    indicator.dataset.state = event.type === "index_started" || event.type === "index_progress" ? "indexing" : event.type === "index_failed" ? "failed" : "idle";
  }
  if (event.type !== "index_progress") render();
}

window.addEventListener("hashchange", render);
api.recentEvents().then((events) => { feed.push(...events); render(); }, showError);
subscribe(onEvent, render);
