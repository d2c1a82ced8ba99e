import { el, showError, type View } from "../dom";
import { api } from "../transport";
import { stateLabel } from "./overview";

export function projects(app: HTMLElement): View {
  const container = el("div");
  app.replaceChildren(container);
  const view = {
    async refresh() {
      const projects = await api.projects();
      const cards = projects.map((p) => {
        const reindex = el("button", { className: "reindex", textContent: "Re-index" });
        reindex.onclick = () => api.reindex(p.project).then(() => view.refresh(), showError);
        const tags = p.stats.top_tags.map((t) =>
          el("a", { className: "tag", href: `#memories/${encodeURIComponent(p.project)}/${encodeURIComponent(t.tag)}` }, `${t.tag} (${t.count})`));
        const card = el("section", { className: "project-card" },
          el("h2", {}, p.project),
          el("p", {}, `${p.stats.agent_memories} agent memories, ${p.stats.file_chunks} file chunks, ${p.stats.superseded} superseded, ${p.stats.stale} stale, ${p.stats.never_accessed} never accessed`),
          el("p", { className: "top-tags" }, ...tags),
          el("p", {}, stateLabel(p, () => view.refresh()), " ", reindex));
        card.dataset.project = p.project;
        return card;
      });
      container.replaceChildren(...(cards.length > 0 ? cards : [el("p", {}, "No projects yet.")]));
    },
  };
  return view;
}
