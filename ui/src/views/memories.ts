import { el, relative, showError, tagList, type View } from "../dom";
import { api, type ListParams, type Memory, type Review } from "../transport";

const PAGE = 20;

/** Where the memories view stands; kept by the router across visits. */
export interface MemoriesState {
  project: string;
  tag: string;
  offset: number;
  query: string;
}

/** What a row shows: a listed memory or a search hit. */
type Row = Pick<Memory, "id" | "project" | "content" | "tags" | "created_at"> & { superseded_by?: string | null; chunk_type?: string; review?: Review | null };

/** Why a memory needs review, in a few words. */
function reviewText(review: Review): string {
  return review.reason === "renamed" && review.to
    ? `${review.path} was renamed to ${review.to}`
    : `${review.path} was ${review.reason}`;
}

export function memories(app: HTMLElement, state: MemoriesState): View {
  const select = el("select", { id: "project-select", title: "Project" });
  const search = el("input", { id: "search", type: "search", placeholder: "Search memories… (Enter)", value: state.query });
  const everywhere = el("input", { id: "search-all", type: "checkbox", title: "Search every project" });
  const type = el("select", { id: "type-filter", title: "Type" },
    el("option", { value: "" }, "all types"),
    el("option", { value: "agent-memory" }, "agent memories"),
    el("option", { value: "file-indexed" }, "file chunks"));
  const tag = el("input", { id: "tag-input", placeholder: "tag", value: state.tag, size: 10 });
  const source = el("input", { id: "source-filter", placeholder: "source starts with", size: 16 });
  const superseded = el("input", { id: "superseded-filter", type: "checkbox" });
  const stale = el("input", { id: "stale-filter", type: "checkbox" });
  const filter = state.tag ? el("span", { id: "tag-filter", className: "tag" }, `tag: ${state.tag}`) : "";
  const content = el("textarea", { id: "new-content", placeholder: "What should agents remember?" });
  const tags = el("input", { id: "new-tags", placeholder: "tags, comma separated" });
  const create = el("button", { id: "create", textContent: "Store memory" });
  const body = el("tbody");
  const info = el("span", { id: "page-info" });
  const prev = el("button", { id: "prev", textContent: "Previous" });
  const next = el("button", { id: "next", textContent: "Next" });
  const deleteSelected = el("button", { id: "delete-selected", textContent: "Delete selected", disabled: true });
  const deleteMatching = el("button", { id: "delete-matching", textContent: "Delete all matching" });
  const chainPanel = el("section", { id: "chain", hidden: true });
  app.replaceChildren(
    el("section", { className: "toolbar" }, select, search, el("label", {}, everywhere, " all projects"), filter),
    el("section", { className: "toolbar filters" }, type, tag, source,
      el("label", {}, superseded, " superseded"), el("label", {}, stale, " stale only")),
    el("section", { id: "new-memory", className: "toolbar" }, content, tags, create),
    el("section", { className: "toolbar" }, deleteSelected, deleteMatching),
    chainPanel,
    el("table", { id: "memories" }, body),
    el("div", { className: "pager" }, prev, info, next));

  // A row being edited is not replaced by a live refresh; the save refreshes it.
  let editing = false;
  const selected = new Set<string>();
  let total = 0;

  function params(): ListParams {
    return {
      type: type.value,
      tag: tag.value.trim(),
      source: source.value.trim(),
      include_superseded: superseded.checked,
      stale_only: stale.checked,
    };
  }

  function updateSelection(): void {
    deleteSelected.disabled = selected.size === 0;
    deleteSelected.textContent = selected.size === 0 ? "Delete selected" : `Delete selected (${selected.size})`;
  }

  async function showChain(memory: Row): Promise<void> {
    const chain = await api.chain(memory.project, memory.id);
    chainPanel.hidden = false;
    const close = el("button", { className: "close", textContent: "Close" });
    close.onclick = () => { chainPanel.hidden = true; };
    chainPanel.replaceChildren(
      el("h3", {}, "Supersession chain, oldest first"),
      el("ol", {}, ...chain.map((m) => el("li", { className: m.id === memory.id ? "current" : "" },
        el("span", { className: "chain-content" }, m.content.slice(0, 160)), " ",
        el("small", {}, m.superseded_by ? "superseded" : "current", " · ", relative(m.created_at))))),
      close);
  }

  function row(memory: Row): HTMLElement {
    const pick = el("input", { type: "checkbox", className: "pick", checked: selected.has(memory.id) });
    pick.onchange = () => { pick.checked ? selected.add(memory.id) : selected.delete(memory.id); updateSelection(); };
    const remove = el("button", { className: "delete", textContent: "Delete" });
    remove.onclick = () => {
      if (confirm(`Delete 1 memory (${memory.id})?`)) api.deleteMemory(memory.project, memory.id).then(() => view.refresh(), showError);
    };
    const long = memory.content.length > 200;
    const text = el("div", { className: "content" }, long ? `${memory.content.slice(0, 200)}…` : memory.content);
    const cell = el("td", {}, text);
    if (long) {
      const more = el("button", { className: "expand link", textContent: "more" });
      more.onclick = () => {
        const open = more.textContent === "more";
        text.textContent = open ? memory.content : `${memory.content.slice(0, 200)}…`;
        more.textContent = open ? "less" : "more";
      };
      cell.append(more);
    }
    if (memory.superseded_by) cell.append(el("span", { className: "badge" }, "superseded"));
    const actions: HTMLElement[] = [];
    if (memory.review) {
      cell.append(el("div", { className: "review", title: `since ${memory.review.since}` }, "Needs review: ", reviewText(memory.review)));
      const confirmButton = el("button", { className: "confirm", textContent: "Still holds" });
      confirmButton.onclick = () => api.confirmMemory(memory.project, memory.id).then(() => view.refresh(), showError);
      actions.push(confirmButton);
    }
    const edit = el("button", { className: "edit", textContent: "Edit" });
    edit.onclick = () => {
      editing = true;
      const area = el("textarea", { className: "edit-content", value: memory.content });
      const tagInput = el("input", { className: "edit-tags", value: memory.tags.join(", ") });
      const save = el("button", { className: "save", textContent: "Save" });
      const cancel = el("button", { className: "cancel", textContent: "Cancel" });
      save.onclick = () => api.editMemory(memory.project, memory.id, { content: area.value, tags: tagList(tagInput.value) })
        .then(() => { editing = false; return view.refresh(); }, showError);
      cancel.onclick = () => { editing = false; view.refresh().catch(showError); };
      cell.replaceChildren(area, tagInput, save, cancel);
    };
    const chain = el("button", { className: "chain", textContent: "Chain" });
    chain.onclick = () => showChain(memory).catch(showError);
    const pills = memory.tags.map((t) => {
      const pill = el("a", { className: "tag", href: `#memories/${encodeURIComponent(memory.project)}/${encodeURIComponent(t)}` }, t);
      return pill;
    });
    const project = state.query && everywhere.checked ? el("small", { className: "project" }, memory.project) : "";
    return el("tr", { className: "memory-row" },
      el("td", {}, pick),
      cell,
      el("td", {}, ...pills, project),
      el("td", {}, relative(memory.created_at)),
      el("td", { className: "actions" }, ...actions, edit, chain, remove));
  }

  async function showSearch(): Promise<void> {
    const { hits } = await api.search(state.project, {
      query: state.query, mode: "full", limit: 20, include_superseded: superseded.checked,
      tags: tag.value.trim(), projects: everywhere.checked ? "*" : undefined,
    });
    body.replaceChildren(...hits.map((hit) => row(hit.memory)));
    info.textContent = `${hits.length} results for “${state.query}”`;
    prev.disabled = next.disabled = true;
    deleteMatching.disabled = true;
  }

  async function showPage(): Promise<void> {
    const page = await api.memories(state.project, { ...params(), offset: state.offset, limit: PAGE });
    total = page.total;
    body.replaceChildren(...page.items.map(row));
    info.textContent = `${page.total === 0 ? 0 : state.offset + 1}–${Math.min(state.offset + PAGE, page.total)} of ${page.total}`;
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + PAGE >= page.total;
    deleteMatching.disabled = page.total === 0;
    deleteMatching.textContent = `Delete all matching (${page.total})`;
  }

  const view = {
    async refresh() {
      const projects = await api.projects();
      if (!state.project && projects.length > 0) state.project = projects[0].project;
      select.replaceChildren(...projects.map((p) => el("option", { value: p.project, selected: p.project === state.project }, p.project)));
      if (!state.project) {
        body.replaceChildren(el("tr", {}, el("td", { className: "empty" }, "No memories yet: store one above, or connect an agent.")));
        return;
      }
      if (editing) return;
      await (state.query ? showSearch() : showPage());
    },
  };

  const reload = () => { state.offset = 0; view.refresh().catch(showError); };
  select.onchange = () => { state.project = select.value; selected.clear(); updateSelection(); reload(); };
  for (const input of [type, superseded, stale, everywhere]) input.onchange = reload;
  for (const input of [tag, source]) input.onkeydown = (key) => { if (key.key === "Enter") reload(); };
  prev.onclick = () => { state.offset = Math.max(0, state.offset - PAGE); view.refresh().catch(showError); };
  next.onclick = () => { state.offset += PAGE; view.refresh().catch(showError); };
  search.onkeydown = (key) => {
    if (key.key !== "Enter") return;
    state.query = search.value.trim();
    reload();
  };
  create.onclick = () => {
    const project = state.project || "default";
    api.createMemory(project, { content: content.value, tags: tagList(tags.value) }).then(() => {
      state.project = project;
      content.value = "";
      tags.value = "";
      return view.refresh();
    }, showError);
  };
  deleteSelected.onclick = () => {
    const ids = [...selected];
    if (!confirm(`Delete ${ids.length} selected ${ids.length === 1 ? "memory" : "memories"}?`)) return;
    api.deleteSelected(state.project, { ids }).then(() => { selected.clear(); updateSelection(); return view.refresh(); }, showError);
  };
  deleteMatching.onclick = () => {
    const expected = total;
    if (!confirm(`Delete all ${expected} ${expected === 1 ? "memory" : "memories"} matching these filters in ${state.project}?`)) return;
    api.deleteMatching(state.project, { filter: params(), expected }).then(() => view.refresh(), showError);
  };
  return view;
}
