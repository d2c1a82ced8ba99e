import { barChart, timelineChart } from "../charts";
import { el, showError, type View } from "../dom";
import { api, type ProjectStatus, type WatchConfig } from "../transport";
import { hookPanel } from "./hooks";
import { stateLabel } from "./overview";

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);

/** The watch settings form: what it sends is merged by `init_project`'s rules. */
function watchForm(project: string, config: WatchConfig | undefined, done: () => void): HTMLElement {
  const paths = el("textarea", { className: "watch-paths", value: config?.watch_paths.join("\n") ?? "", placeholder: "/absolute/path/to/docs (one per line)" });
  const patterns = el("textarea", { className: "watch-patterns", value: config?.watch_patterns.join("\n") ?? "" });
  const exclude = el("textarea", { className: "watch-exclude", value: config?.watch_exclude.join("\n") ?? "" });
  const save = el("button", { className: "save-watch", textContent: "Save watch settings" });
  const outcome = el("span", { className: "watch-outcome" });
  const form = el("details", { className: "watch-config" });
  save.onclick = () => api.configureProject(project, {
    watch_paths: lines(paths.value), watch_patterns: lines(patterns.value), watch_exclude: lines(exclude.value),
  }).then((reply) => {
    outcome.textContent = reply.changes.length === 0 ? "No change." : `Saved: ${reply.changes.map((c) => c.field).join(", ")} changed${reply.indexing ? "; re-indexing" : ""}.`;
    form.open = false;
    done();
  }, showError);
  form.append(
    el("summary", {}, "Watch settings"),
    el("label", {}, "Paths", paths), el("label", {}, "Patterns", patterns), el("label", {}, "Excluded", exclude),
    save, outcome);
  return form;
}

async function card(p: ProjectStatus, refresh: () => void): Promise<HTMLElement> {
  const [config, days] = await Promise.all([
    api.watchConfig(p.project).then((c) => c ?? undefined),
    api.timeline(p.project).catch(() => []),
  ]);
  const reindex = el("button", { className: "reindex", textContent: "Re-index", disabled: !config });
  reindex.onclick = () => api.reindex(p.project).then(refresh, showError);
  const pause = el("button", { className: "pause", textContent: config?.watch === false ? "Resume watching" : "Pause watching", disabled: !config });
  pause.onclick = () => api.configureProject(p.project, { watch: config?.watch === false }).then(refresh, showError);
  const tags = p.stats.top_tags.map((t) =>
    el("a", { className: "tag", href: `#memories/${encodeURIComponent(p.project)}/${encodeURIComponent(t.tag)}` }, `${t.tag} (${t.count})`));
  const watching = config === undefined ? "not watching files (no watch settings yet)"
    : config.watch ? `watching ${config.watch_paths.length} path(s)` : "watching paused";
  const section = el("section", { className: "project-card" },
    el("h2", {}, p.project),
    el("p", {}, `${p.stats.agent_memories} agent memories, ${p.stats.file_chunks} file chunks, ${p.stats.superseded} superseded, ${p.stats.stale} stale, ${p.stats.never_accessed} never accessed`),
    el("p", { className: "top-tags" }, ...tags),
    el("p", {}, stateLabel(p, refresh), " ", el("span", { className: "watching" }, watching), " ", reindex, " ", pause),
    el("div", { className: "charts" },
      barChart("Tags", p.stats.top_tags.map((t) => ({ label: t.tag, value: t.count }))),
      timelineChart("Agent memories per day", days)),
    watchForm(p.project, config, refresh),
    hookPanel(p.project, p.stats.agent_memories));
  section.dataset.project = p.project;
  return section;
}

export function projects(app: HTMLElement): View {
  const container = el("div");
  app.replaceChildren(container);
  const view = {
    async refresh() {
      // An open settings form is being edited: keep it until it is saved (or closed).
      if (container.querySelector("details.watch-config[open], details.hook-settings[open]")) return;
      const projects = await api.projects();
      const refresh = () => { view.refresh().catch(showError); };
      const cards = await Promise.all(projects.map((p) => card(p, refresh)));
      container.replaceChildren(...(cards.length > 0 ? cards : [el("p", { className: "empty" }, "No projects yet. Projects appear when an agent stores a memory or calls init_project.")]));
    },
  };
  return view;
}
