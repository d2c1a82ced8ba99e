import { el, relative, showError, type View } from "../dom";
import { api, type Inbox, type InboxItem, type ReviewAction } from "../transport";

const KIND_LABEL: Record<InboxItem["kind"], string> = {
  code_change: "File changed",
  conflict: "Possible conflict",
  duplicate: "Near-duplicate",
  redaction: "Redacted",
};

function excerpt(text: string): string {
  return text.length > 240 ? `${text.slice(0, 240)}…` : text;
}

/** One inbox item: why it is here, the memory (and the older one of a pair), and the actions. */
function itemRow(project: string, item: InboxItem, act: (action: ReviewAction) => void): HTMLElement {
  const button = (label: string, className: string, action: ReviewAction) => {
    const b = el("button", { className, textContent: label });
    b.onclick = () => act(action);
    return b;
  };
  const actions: HTMLElement[] = [button(item.kind === "code_change" ? "Still holds" : "Fine as is", "confirm", { action: "confirm", key: item.key })];
  const memories = [el("div", { className: "content newer" }, excerpt(item.memory.content), el("small", {}, ` — ${item.memory.id}`))];
  if (item.other) {
    const other = item.other;
    memories.push(el("div", { className: "content older" }, "Older: ", excerpt(other.content), el("small", {}, ` — ${other.id}`)));
    actions.push(
      button("Keep newer", "keep-newer", { action: "supersede", key: item.key, winner: item.memory.id }),
      button("Keep older", "keep-older", { action: "supersede", key: item.key, winner: other.id }));
    if (item.kind === "duplicate") actions.push(button("Merge", "merge", { action: "merge", key: item.key, winner: item.memory.id }));
  }
  const edit = el("a", { className: "edit", href: `#memories/${encodeURIComponent(project)}`, textContent: "Edit" });
  const remove = el("button", { className: "delete", textContent: "Delete" });
  remove.onclick = () => {
    if (confirm(`Delete memory ${item.memory.id}?`)) act({ action: "delete", id: item.memory.id });
  };
  const row = el("li", { className: `review-item kind-${item.kind}` },
    el("div", {}, el("strong", {}, KIND_LABEL[item.kind]), " ", el("span", { className: "reason" }, item.reason), " ", el("time", {}, relative(item.since))),
    ...memories,
    el("div", { className: "actions" }, ...actions, edit, remove));
  row.dataset.key = item.key;
  return row;
}

/** The review inbox: everything that needs a person, per project, with its actions. */
export function review(app: HTMLElement): View {
  const list = el("div", { id: "review" });
  app.replaceChildren(el("h2", {}, "Review"), list);
  const render = (inboxes: Inbox[]) => {
    const open = inboxes.filter((inbox) => inbox.items.length > 0);
    if (open.length === 0) {
      list.replaceChildren(el("p", { className: "empty-inbox" }, "Nothing to review."));
      return;
    }
    list.replaceChildren(...open.map((inbox) => el("section", { className: "inbox" },
      el("h3", {}, `${inbox.project} (${inbox.items.length})`),
      el("ul", {}, ...inbox.items.map((item) => itemRow(inbox.project, item, (action) => {
        api.resolveReview(inbox.project, action).then(() => view.refresh(), showError);
      }))))));
  };
  const view = {
    async refresh() {
      const projects = await api.projects();
      render(await Promise.all(projects.map((p) => api.reviewInbox(p.project))));
    },
  };
  return view;
}
