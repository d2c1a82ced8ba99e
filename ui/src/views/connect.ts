import type { ClientStatus, Operation, Plan, Row } from "../bindings";
import { el, showError, type View } from "../dom";
import { api } from "../transport";

function copyButton(text: string): HTMLElement {
  const button = el("button", { className: "copy", textContent: "Copy" });
  button.onclick = () => {
    navigator.clipboard?.writeText(text).then(() => { button.textContent = "Copied"; }, () => { button.textContent = "Select and copy"; });
  };
  return button;
}

function actionText(row: Row): string {
  const action = row.action;
  return "reason" in action ? `${action.kind.replace(/-/g, " ")}: ${action.reason}` : action.kind.replace(/-/g, " ");
}

function rowList(plan: Plan): HTMLElement {
  return el("ul", { className: "plan-rows" }, ...plan.rows.map((row) =>
    el("li", { className: `plan-row action-${row.action.kind}` },
      el("code", {}, row.file ?? row.client), " ", el("span", { className: "action" }, actionText(row)),
      ...(row.diff ? [el("pre", { className: "diff" }, el("code", {}, row.diff))] : []))));
}

function stateText(c: ClientStatus): string {
  if (c.problem) return `cannot read ${c.file}: ${c.problem}`;
  if (!c.configured) return c.detected ? "detected, not connected" : "not detected";
  const target = `connected, runs ${c.command ?? "?"}`;
  if (!c.command_found) return `${target}, which does not exist`;
  if (!c.up_to_date) return `${target} (Connect updates it to this Annal)`;
  if (c.hooks && !c.hooks.current) return `${target}; no session brief or prompt recall yet (Update adds the hooks)`;
  return c.hooks ? `${target}, with the session brief and prompt recall` : target;
}

/**
 * One client: its state, Connect / Disconnect (each shows the changes first and writes only
 * what was shown), and the snippet to copy. `busy` tells the view not to redraw meanwhile.
 */
function clientCard(c: ClientStatus, changed: () => void, busy: (on: boolean) => void): HTMLElement {
  const panel = el("div", { className: "plan" });
  const buttons = el("p", { className: "actions" });
  const propose = (operation: Operation) => {
    busy(true);
    api.connectPlan({ client: c.client, operation }).then((plan) => {
      const changes = plan.rows.filter((r) => r.diff.length > 0).length;
      const apply = el("button", { className: "apply", textContent: operation === "install" ? "Write these changes" : "Remove these entries", disabled: changes === 0 });
      const cancel = el("button", { className: "cancel", textContent: "Cancel" });
      cancel.onclick = () => { panel.replaceChildren(); busy(false); };
      apply.onclick = () => {
        apply.disabled = true;
        api.connectApply({ client: c.client, operation, fingerprint: plan.fingerprint }).then((done) => {
          panel.replaceChildren(el("p", { className: "applied" }, "Done:"), rowList(done));
          busy(false);
          changed();
        }, (error: unknown) => { showError(error); busy(false); panel.replaceChildren(); changed(); });
      };
      panel.replaceChildren(
        el("p", {}, changes === 0 ? "Nothing to change." : `${changes} file(s) change:`),
        rowList(plan), apply, " ", cancel);
    }, (error: unknown) => { showError(error); busy(false); });
  };
  const connect = el("button", { className: "connect", textContent: c.configured ? "Update" : "Connect" });
  connect.onclick = () => propose("install");
  const disconnect = el("button", { className: "disconnect", textContent: "Disconnect" });
  disconnect.onclick = () => propose("uninstall");
  const stale = (c.instructions && !c.instructions.current) || (c.hooks && !c.hooks.current);
  if (!c.configured || !c.up_to_date || stale) buttons.append(connect, " ");
  if (c.configured) buttons.append(disconnect);
  const card = el("article", { className: `client ${c.configured ? "configured" : "not-configured"}` },
    el("h3", {}, c.name, " ", el("small", {}, c.file)),
    el("p", { className: "client-state" }, stateText(c)),
    buttons, panel,
    el("details", {}, el("summary", {}, "Add it by hand"),
      el("pre", {}, el("code", {}, c.snippet)), copyButton(c.snippet)));
  card.dataset.client = c.client;
  return card;
}

/** The clients as cards, redrawn on `refresh` unless a change is being looked at. */
export function clientCards(filter: (c: ClientStatus) => boolean = () => true): { element: HTMLElement; refresh: () => Promise<void> } {
  const element = el("div", { className: "clients" });
  let open = false;
  const refresh = async () => {
    if (open) return;
    const clients = (await api.clients()).filter(filter);
    const changed = () => { refresh().catch(showError); };
    element.replaceChildren(...clients.map((c) => clientCard(c, changed, (on) => { open = on; })));
  };
  return { element, refresh };
}

export function connect(app: HTMLElement): View {
  const origin = location.protocol.startsWith("http") ? location.origin : "http://127.0.0.1:9200";
  const http = `{\n  "mcpServers": {\n    "annal": {\n      "type": "http",\n      "url": "${origin}/mcp",\n      "headers": { "Authorization": "Bearer <contents of the http-token file in Annal's data dir>" }\n    }\n  }\n}`;
  const cards = clientCards();
  app.replaceChildren(
    el("section", { id: "connect" },
      el("h2", {}, "Connect agents"),
      el("p", {}, "Connect adds Annal to a client's MCP config (and a short note on when to search and store to its instruction file), keeping everything else in the file as it was; you see the change before it is written. The same as ", el("code", {}, "annal install"), " in a terminal."),
      cards.element,
      el("article", { className: "client" },
        el("h3", {}, "Any client over HTTP ", el("small", {}, "streamable HTTP")),
        el("pre", {}, el("code", {}, http)),
        copyButton(http))));
  return { refresh: cards.refresh };
}
