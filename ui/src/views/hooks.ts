// A project's "Agent hooks" panel: what its agents get injected (the session-start brief and
// per-prompt recall), its settings over the `hooks:` defaults, and the brief as it would be now.
import type { Api } from "../api";
import type { HookOverrides, HookSettings, HookView } from "../bindings";
import { el } from "../dom";
import { api } from "../transport";

type Key = keyof HookSettings;

/** One setting: its key, its label, and how it is edited. */
export interface HookField {
  key: Key;
  label: string;
  kind: "flag" | "count" | "score";
  className: string;
}

export const HOOK_FIELDS: readonly HookField[] = [
  { key: "enabled", label: "Inject memories into agent sessions", kind: "flag", className: "hook-enabled" },
  { key: "brief_tokens", label: "Brief tokens", kind: "count", className: "hook-brief-tokens" },
  { key: "recall_tokens", label: "Recall tokens", kind: "count", className: "hook-recall-tokens" },
  { key: "recall_max", label: "Memories per prompt", kind: "count", className: "hook-recall-max" },
  { key: "min_score", label: "Minimum similarity", kind: "score", className: "hook-min-score" },
  { key: "budget_ms", label: "Time budget (ms)", kind: "count", className: "hook-budget-ms" },
  { key: "include_files", label: "Include indexed file chunks", kind: "flag", className: "hook-include-files" },
];

/** What the inputs hold: a checkbox's state, a number input's text. */
export type HookInputs = Record<Key, boolean | string>;

/**
 * The inputs as settings: an empty number field means the default. A value that is not a
 * number, or a fraction where a whole number is needed, is a problem to show; ranges are the
 * engine's to check (its message names the key).
 */
export function readInputs(inputs: HookInputs, defaults: HookSettings): { settings: HookSettings } | { problem: string } {
  const settings: Record<string, boolean | number> = { ...defaults };
  for (const field of HOOK_FIELDS) {
    const raw = inputs[field.key];
    if (typeof raw === "boolean") {
      settings[field.key] = raw;
      continue;
    }
    if (raw.trim() === "") continue;
    const value = Number(raw);
    if (!Number.isFinite(value)) return { problem: `${field.label} must be a number, got "${raw}"` };
    if (field.kind === "count" && !Number.isInteger(value)) return { problem: `${field.label} must be a whole number, got ${raw}` };
    settings[field.key] = value;
  }
  return { settings: settings as HookSettings };
}

/** The edit to send: only what differs from the defaults, so the rest keeps following them. */
export function overridesFor(settings: HookSettings, defaults: HookSettings): HookOverrides {
  const edit: Record<string, boolean | number> = {};
  for (const { key } of HOOK_FIELDS) {
    if (settings[key] !== defaults[key]) edit[key] = settings[key];
  }
  return edit as HookOverrides;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The line over the brief preview, and whether there is a brief to show. */
export function briefSummary(view: HookView, agentMemories: number): { line: string; shown: boolean } {
  const { preview, effective } = view;
  const size = `${plural(preview.memories.length, "memory", "memories")}, about ${plural(preview.tokens, "token", "tokens")}`;
  if (!effective.enabled) {
    return preview.text === ""
      ? { line: "Nothing would be injected: hooks are off for this project.", shown: false }
      : { line: `Nothing would be injected: hooks are off for this project. With them on, a session would start with this (${size}):`, shown: true };
  }
  if (preview.text !== "") return { line: size, shown: true };
  return {
    line: agentMemories === 0
      ? "Nothing would be injected: no agent memories in this project yet."
      : "Nothing would be injected: no memory fits the brief (its token budget may be too small; memories tagged secret are never injected).",
    shown: false,
  };
}

/** What the panel's controller needs of its page. */
export interface HookPanelUi {
  /** What the inputs hold now. */
  inputs(): HookInputs;
  /** Shows the engine's view; the inputs take its values only when `replaceInputs`. */
  show(view: HookView, replaceInputs: boolean): void;
  outcome(message: string, failed: boolean): void;
  busy(busy: boolean): void;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Loading, saving and resetting, apart from the DOM. What the user typed is theirs until a
 * save or reset succeeds: a refusal, or a load that lands meanwhile, leaves the inputs alone.
 */
export function hookController(hooks: Pick<Api, "hookSettings" | "configureHooks">, project: string, ui: HookPanelUi) {
  let view: HookView | undefined;
  let edited = false;
  // Each call's number: an answer that a later call's has overtaken is dropped.
  let calls = 0;
  const send = async (edit: HookOverrides, done: (view: HookView) => string) => {
    const call = ++calls;
    ui.busy(true);
    try {
      const saved = await hooks.configureHooks(project, edit);
      if (call !== calls) return;
      view = saved;
      edited = false;
      ui.show(view, true);
      ui.outcome(done(view), false);
    } catch (error) {
      if (call === calls) ui.outcome(messageOf(error), true);
    } finally {
      if (call === calls) ui.busy(false);
    }
  };
  return {
    /** The user changed an input. */
    edited() { edited = true; },
    async load() {
      const call = ++calls;
      try {
        const loaded = await hooks.hookSettings(project);
        if (call !== calls) return;
        view = loaded;
        ui.show(view, !edited);
        ui.busy(false);
      } catch (error) {
        if (call === calls) ui.outcome(messageOf(error), true);
      }
    },
    async save() {
      if (view === undefined) return;
      const read = readInputs(ui.inputs(), view.defaults);
      if ("problem" in read) {
        ui.outcome(read.problem, true);
        return;
      }
      await send(overridesFor(read.settings, view.defaults), (saved) => {
        const own = HOOK_FIELDS.filter((f) => saved.project[f.key] !== undefined).map((f) => f.label.toLowerCase());
        return own.length === 0 ? "Saved: this project follows the defaults." : `Saved. Set for this project: ${own.join(", ")}.`;
      });
    },
    async reset() {
      await send({}, () => "Reset: this project follows the defaults.");
    },
  };
}

const shown = (value: boolean | number) => (typeof value === "boolean" ? (value ? "on" : "off") : String(value));

/** The collapsible panel of one project; its data loads each time it is opened. */
export function hookPanel(project: string, agentMemories: number): HTMLDetailsElement {
  const panel = el("details", { className: "hook-settings" });
  const outcome = el("span", { className: "hook-outcome" });
  const save = el("button", { className: "save-hooks", textContent: "Save hook settings", disabled: true });
  const reset = el("button", { className: "reset-hooks", textContent: "Reset to defaults", disabled: true });
  const summary = el("p", { className: "brief-summary" }, "Loading…");
  const text = el("pre", { className: "brief-preview", hidden: true });
  const inputs = new Map<Key, HTMLInputElement>();
  const markers = new Map<Key, HTMLElement>();
  let loaded = false;

  const rows = HOOK_FIELDS.map((field) => {
    const input = field.kind === "flag"
      ? el("input", { className: field.className, type: "checkbox" })
      : el("input", { className: field.className, type: "number", step: field.kind === "score" ? "0.01" : "1" });
    const marker = el("span", { className: "hook-marker" });
    inputs.set(field.key, input);
    markers.set(field.key, marker);
    const row = field.kind === "flag"
      ? el("label", { className: "hook-field hook-flag" }, input, ` ${field.label} `, marker)
      : el("label", { className: "hook-field" }, el("span", { className: "hook-label" }, field.label), input, marker);
    row.dataset.key = field.key;
    return row;
  });

  const ui: HookPanelUi = {
    inputs() {
      const values: Partial<HookInputs> = {};
      for (const field of HOOK_FIELDS) {
        const input = inputs.get(field.key)!;
        values[field.key] = field.kind === "flag" ? input.checked : input.value;
      }
      return values as HookInputs;
    },
    show(view, replaceInputs) {
      loaded = true;
      for (const field of HOOK_FIELDS) {
        const input = inputs.get(field.key)!;
        const marker = markers.get(field.key)!;
        const own = view.project[field.key] !== undefined;
        const base = view.defaults[field.key];
        if (field.kind !== "flag") input.placeholder = String(base);
        if (replaceInputs) {
          if (field.kind === "flag") input.checked = view.effective[field.key] as boolean;
          else input.value = String(view.effective[field.key]);
        }
        marker.textContent = own ? `(set for this project; default ${shown(base)})` : "(default)";
        marker.dataset.state = own ? "project" : "default";
      }
      const brief = briefSummary(view, agentMemories);
      summary.textContent = brief.line;
      text.textContent = view.preview.text;
      text.hidden = !brief.shown;
      panel.dataset.enabled = String(view.effective.enabled);
    },
    outcome(message, failed) {
      outcome.textContent = message;
      outcome.classList.toggle("failed", failed);
    },
    busy(busy) {
      save.disabled = busy || !loaded;
      reset.disabled = busy || !loaded;
    },
  };
  const controller = hookController(api, project, ui);
  for (const input of inputs.values()) {
    input.addEventListener("input", () => controller.edited());
    input.addEventListener("change", () => controller.edited());
    input.addEventListener("keydown", (event) => { if (event.key === "Enter" && !save.disabled) void controller.save(); });
  }
  save.onclick = () => void controller.save();
  reset.onclick = () => void controller.reset();
  panel.addEventListener("toggle", () => {
    if (panel.open) void controller.load();
  });

  panel.append(
    el("summary", {}, "Agent hooks"),
    el("p", { className: "muted" }, "At session start an agent gets this project's brief; with each prompt, up to the set number of memories at least as similar as the minimum."),
    el("div", { className: "hook-fields" }, ...rows),
    el("p", { className: "actions" }, save, reset, outcome),
    el("section", { className: "brief" }, el("h3", {}, "Brief preview"), summary, text));
  return panel;
}
