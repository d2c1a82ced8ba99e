import { el, relative, showError, type View } from "../dom";
import { api, type AnnalEvent, type ProjectStatus } from "../transport";
import { clientCards } from "./connect";

export function stateLabel(status: ProjectStatus, afterAction: () => void): HTMLElement {
  const index = status.index;
  const badge = el("span", { className: `state state-${index.state}` }, index.state);
  if (index.state === "indexing") badge.textContent = `indexing (${index.files_done} files)`;
  if (index.state !== "failed") return badge;
  const retry = el("button", { className: "retry", textContent: "Retry" });
  retry.onclick = () => api.reindex(status.project).then(afterAction, showError);
  return el("span", {}, badge, el("span", { className: "error-text" }, index.error), retry);
}

/** No projects yet: offer to connect the agents found on this machine, in one click each. */
function emptyState(cards: HTMLElement): HTMLElement {
  return el("section", { className: "empty" },
    el("h2", {}, "No memories yet"),
    el("p", {}, "Connect an agent, then ask it to store a memory. Agents found on this machine (all of them on ", el("a", { href: "#connect" }, "Connect agents"), "):"),
    cards);
}

function feedList(feed: AnnalEvent[]): HTMLElement[] {
  return feed.slice(-30).reverse().map((event) =>
    el("li", {}, el("span", { className: "kind" }, event.type), " ",
      el("a", { href: `#memories/${encodeURIComponent(event.project)}` }, event.project), " ",
      el("time", {}, relative(event.created_at))));
}

export function overview(app: HTMLElement, feed: AnnalEvent[]): View {
  const summary = el("div");
  const list = el("ul");
  app.replaceChildren(summary, el("section", { id: "feed" }, el("h2", {}, "Activity"), list));
  let expanded = false;
  const cards = clientCards((c) => c.detected);
  const empty = emptyState(cards.element);
  const view = {
    async refresh() {
      const projects = await api.projects();
      list.replaceChildren(...feedList(feed));
      if (projects.length === 0) {
        if (!summary.contains(empty)) summary.replaceChildren(empty);
        await cards.refresh();
        return;
      }
      const totals = projects.reduce((t, p) => ({
        memories: t.memories + p.stats.total,
        agent: t.agent + p.stats.agent_memories,
        stale: t.stale + p.stats.stale,
        review: t.review + p.stats.needs_review,
      }), { memories: 0, agent: 0, stale: 0, review: 0 });
      const ribbon = el("button", { className: "ribbon", id: "stats", title: "Show per project" },
        el("div", {}, el("strong", { id: "stat-memories" }, String(totals.memories)), " memories"),
        el("div", {}, el("strong", {}, String(projects.length)), " projects"),
        el("div", {}, el("strong", {}, String(totals.agent)), " agent memories"),
        el("div", {}, el("strong", {}, String(totals.stale)), " stale"));
      const toReview = el("a", { href: "#review", id: "stat-review", className: "to-review" },
        el("strong", {}, String(totals.review)), " to review");
      ribbon.setAttribute("aria-expanded", String(expanded));
      ribbon.onclick = () => { expanded = !expanded; view.refresh().catch(showError); };
      const breakdown = expanded
        ? el("table", { id: "stats-breakdown" },
          el("thead", {}, el("tr", {}, ...["Project", "Memories", "Agent", "Files", "Stale", "Superseded", "Never accessed"].map((h) => el("th", {}, h)))),
          el("tbody", {}, ...projects.map((p) => el("tr", {},
            el("td", {}, el("a", { href: `#memories/${encodeURIComponent(p.project)}` }, p.project)),
            ...[p.stats.total, p.stats.agent_memories, p.stats.file_chunks, p.stats.stale, p.stats.superseded, p.stats.never_accessed]
              .map((n) => el("td", {}, String(n)))))))
        : "";
      const rows = projects.map((p) =>
        el("tr", { className: "project-row" },
          el("td", {}, p.project),
          el("td", {}, String(p.stats.agent_memories)),
          el("td", {}, String(p.stats.file_chunks)),
          el("td", { className: "index-state" }, stateLabel(p, () => view.refresh()))));
      const table = el("table", { id: "projects" },
        el("thead", {}, el("tr", {}, el("th", {}, "Project"), el("th", {}, "Agent"), el("th", {}, "Files"), el("th", {}, "Indexing"))),
        el("tbody", {}, ...rows));
      summary.replaceChildren(ribbon, toReview, breakdown, table);
    },
  };
  return view;
}
