import { el, relative, showError, tagList, type View } from "../dom";
import { api, type Memory } from "../transport";

const PAGE = 20;

/** Where the memories view stands; kept by the router across visits. */
export interface MemoriesState {
  project: string;
  tag: string;
  offset: number;
}

type Hit = { id: string; project?: string; content: string; tags: string[]; created_at: string };
/** What a row shows: a listed memory or a search hit. */
type Row = Pick<Memory, "id" | "project" | "content" | "tags" | "created_at">;

export function memories(app: HTMLElement, state: MemoriesState): View {
  const select = el("select", { id: "project-select" });
  const search = el("input", { id: "search", type: "search", placeholder: "Search memories…" });
  const filter = state.tag ? el("span", { id: "tag-filter", className: "tag" }, `tag: ${state.tag}`) : "";
  const content = el("textarea", { id: "new-content", placeholder: "What should agents remember?" });
  const tags = el("input", { id: "new-tags", placeholder: "tags, comma separated" });
  const create = el("button", { id: "create", textContent: "Store memory" });
  const body = el("tbody");
  const info = el("span", { id: "page-info" });
  const prev = el("button", { id: "prev", textContent: "Previous" });
  const next = el("button", { id: "next", textContent: "Next" });
  app.replaceChildren(
    el("section", { className: "toolbar" }, select, search, filter),
    el("section", { id: "new-memory", className: "toolbar" }, content, tags, create),
    el("table", { id: "memories" }, body),
    el("div", { className: "pager" }, prev, info, next));

  // A row being edited is not replaced by a live refresh; the save refreshes it.
  let editing = false;
  let query = "";

  function row(memory: Row): HTMLElement {
    const remove = el("button", { className: "delete", textContent: "Delete" });
    remove.onclick = () => {
      if (confirm(`Delete 1 memory (${memory.id})?`)) api.remove(memory.project, memory.id).then(() => view.refresh(), showError);
    };
    const text = el("td", { className: "content" }, memory.content.slice(0, 200));
    const edit = el("button", { className: "edit", textContent: "Edit" });
    edit.onclick = () => {
      editing = true;
      const area = el("textarea", { className: "edit-content", value: memory.content });
      const tagInput = el("input", { className: "edit-tags", value: memory.tags.join(", ") });
      const save = el("button", { className: "save", textContent: "Save" });
      const cancel = el("button", { className: "cancel", textContent: "Cancel" });
      save.onclick = () => api.update(memory.project, memory.id, { content: area.value, tags: tagList(tagInput.value) })
        .then(() => { editing = false; return view.refresh(); }, showError);
      cancel.onclick = () => { editing = false; view.refresh().catch(showError); };
      text.replaceChildren(area, tagInput, save, cancel);
    };
    return el("tr", { className: "memory-row" },
      text,
      el("td", {}, ...memory.tags.map((t) => el("span", { className: "tag" }, t))),
      el("td", {}, relative(memory.created_at)),
      el("td", {}, edit, remove));
  }

  async function showSearch(): Promise<void> {
    const found = ((await api.search(state.project, { query, mode: "full", limit: 20, include_superseded: false })) as { results: unknown }).results;
    const grouped = found as { agent_memories?: Hit[]; file_indexed?: Hit[] };
    const hits = Array.isArray(found) ? (found as Hit[]) : [...grouped.agent_memories ?? [], ...grouped.file_indexed ?? []];
    body.replaceChildren(...hits.map((h) => row({ ...h, project: h.project ?? state.project })));
    info.textContent = `${hits.length} results`;
    prev.disabled = next.disabled = true;
  }

  async function showPage(): Promise<void> {
    const page = await api.memories(state.project, { offset: state.offset, limit: PAGE, tag: state.tag, include_superseded: false });
    body.replaceChildren(...page.items.map(row));
    info.textContent = `${page.total === 0 ? 0 : state.offset + 1}–${Math.min(state.offset + PAGE, page.total)} of ${page.total}`;
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + PAGE >= page.total;
  }

  const view = {
    async refresh() {
      const projects = await api.projects();
      if (!state.project && projects.length > 0) state.project = projects[0].project;
      select.replaceChildren(...projects.map((p) => el("option", { value: p.project, selected: p.project === state.project }, p.project)));
      if (!state.project || editing) return;
      await (query ? showSearch() : showPage());
    },
  };

  select.onchange = () => { state.project = select.value; state.offset = 0; view.refresh().catch(showError); };
  prev.onclick = () => { state.offset = Math.max(0, state.offset - PAGE); view.refresh().catch(showError); };
  next.onclick = () => { state.offset += PAGE; view.refresh().catch(showError); };
  search.onkeydown = (key) => {
    if (key.key !== "Enter") return;
    query = search.value.trim();
    view.refresh().catch(showError);
  };
  create.onclick = () => {
    const project = state.project || "default";
    api.create(project, { content: content.value, tags: tagList(tags.value) }).then(() => {
      state.project = project;
      content.value = "";
      tags.value = "";
      return view.refresh();
    }, showError);
  };
  return view;
}
