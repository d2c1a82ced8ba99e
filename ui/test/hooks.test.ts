import { describe, expect, it, vi } from "vitest";
import type { HookOverrides, HookSettings, HookView } from "../src/bindings";
import { EngineError } from "../src/transport";
import { briefSummary, hookController, type HookInputs, type HookPanelUi, overridesFor, readInputs } from "../src/views/hooks";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

const defaults: HookSettings = {
  enabled: true, budget_ms: 400, brief_tokens: 600, recall_tokens: 400, recall_max: 3, min_score: 0.45, include_files: false,
};

function view(project: HookOverrides = {}, preview = { text: "Annal memory of project web …", memories: ["m1", "m2"], tokens: 57 }): HookView {
  return { defaults, project, effective: { ...defaults, ...project }, preview };
}

/** The inputs as the panel fills them from `settings`. */
function inputsOf(settings: HookSettings): HookInputs {
  const inputs: Record<string, string | boolean> = {};
  for (const [key, value] of Object.entries(settings)) inputs[key] = typeof value === "boolean" ? value : String(value);
  return inputs as HookInputs;
}

/** A page that records what the controller does to it; `typed` is what its inputs hold. */
function fakeUi(typed: HookInputs) {
  const ui = {
    typed,
    shown: [] as { view: HookView; replaceInputs: boolean }[],
    outcomes: [] as { message: string; failed: boolean }[],
    inputs: () => ui.typed,
    show(view: HookView, replaceInputs: boolean) {
      ui.shown.push({ view, replaceInputs });
      if (replaceInputs) ui.typed = inputsOf(view.effective);
    },
    outcome(message: string, failed: boolean) { ui.outcomes.push({ message, failed }); },
    busy: vi.fn(),
  };
  return ui satisfies HookPanelUi;
}

function fakeApi(loaded: HookView) {
  return { hookSettings: vi.fn(async () => loaded), configureHooks: vi.fn(async (_: string, edit: HookOverrides) => view(edit)) };
}

describe("readInputs and overridesFor", () => {
  it("sends only the fields that differ from the defaults", () => {
    const read = readInputs({ ...inputsOf(defaults), recall_max: "2", min_score: "0.45", include_files: true }, defaults);
    expect("settings" in read && overridesFor(read.settings, defaults)).toEqual({ recall_max: 2, include_files: true });
  });
  it("takes an empty number field as the default", () => {
    const read = readInputs({ ...inputsOf(defaults), brief_tokens: "" }, defaults);
    expect("settings" in read && overridesFor(read.settings, defaults)).toEqual({});
  });
  it("refuses a fraction where a whole number is needed, but not for the similarity", () => {
    expect(readInputs({ ...inputsOf(defaults), recall_max: "2.5" }, defaults)).toEqual({ problem: "Memories per prompt must be a whole number, got 2.5" });
    const read = readInputs({ ...inputsOf(defaults), min_score: "0.5" }, defaults);
    expect("settings" in read && overridesFor(read.settings, defaults)).toEqual({ min_score: 0.5 });
  });
});

describe("briefSummary", () => {
  it("counts the memories and tokens of a brief", () => {
    expect(briefSummary(view(), 2)).toEqual({ line: "2 memories, about 57 tokens", shown: true });
  });
  it("says why nothing would be injected", () => {
    const empty = { text: "", memories: [], tokens: 0 };
    expect(briefSummary(view({}, empty), 0).line).toBe("Nothing would be injected: no agent memories in this project yet.");
    expect(briefSummary(view({ enabled: false }, empty), 0).line).toBe("Nothing would be injected: hooks are off for this project.");
    // The preview is computed even when off: it is shown, said to be not injected.
    const off = briefSummary(view({ enabled: false }), 2);
    expect(off.shown).toBe(true);
    expect(off.line).toMatch(/^Nothing would be injected: hooks are off for this project\. .*2 memories, about 57 tokens/);
  });
});

describe("hookController", () => {
  it("saves only the changed fields and shows the engine's answer", async () => {
    const api = fakeApi(view());
    const ui = fakeUi(inputsOf(defaults));
    const panel = hookController(api, "web", ui);
    await panel.load();
    expect(ui.shown.at(-1)?.replaceInputs).toBe(true);
    ui.typed = { ...ui.typed, recall_max: "2" };
    panel.edited();
    await panel.save();
    expect(api.configureHooks).toHaveBeenCalledWith("web", { recall_max: 2 });
    expect(ui.shown.at(-1)).toMatchObject({ replaceInputs: true, view: { project: { recall_max: 2 } } });
    expect(ui.outcomes.at(-1)).toEqual({ message: "Saved. Set for this project: memories per prompt.", failed: false });
  });

  it("resets by sending an empty edit", async () => {
    const api = fakeApi(view({ recall_max: 5, enabled: false }));
    const ui = fakeUi(inputsOf(defaults));
    const panel = hookController(api, "web", ui);
    await panel.load();
    await panel.reset();
    expect(api.configureHooks).toHaveBeenCalledWith("web", {});
    expect(ui.typed).toEqual(inputsOf(defaults));
    expect(ui.outcomes.at(-1)?.failed).toBe(false);
  });

  it("shows a refusal inline and keeps what was typed", async () => {
    const api = fakeApi(view());
    const message = "hooks.recall_max must be between 1 and 10, got 40";
    api.configureHooks.mockRejectedValueOnce(new EngineError({ kind: "invalid", message }));
    const ui = fakeUi(inputsOf(defaults));
    const panel = hookController(api, "web", ui);
    await panel.load();
    ui.typed = { ...ui.typed, recall_max: "40" };
    panel.edited();
    await panel.save();
    expect(api.configureHooks).toHaveBeenCalledWith("web", { recall_max: 40 });
    expect(ui.outcomes.at(-1)).toEqual({ message, failed: true });
    expect(ui.shown).toHaveLength(1);
    expect(ui.typed.recall_max).toBe("40");
    // A load landing afterwards (the panel reopened) refreshes the view but not the inputs.
    await panel.load();
    expect(ui.shown.at(-1)?.replaceInputs).toBe(false);
    expect(ui.typed.recall_max).toBe("40");
    expect(ui.busy).toHaveBeenLastCalledWith(false);
  });

  it("does not send a value it cannot read", async () => {
    const api = fakeApi(view());
    const ui = fakeUi(inputsOf(defaults));
    const panel = hookController(api, "web", ui);
    await panel.load();
    ui.typed = { ...ui.typed, budget_ms: "12.5" };
    await panel.save();
    expect(api.configureHooks).not.toHaveBeenCalled();
    expect(ui.outcomes.at(-1)).toEqual({ message: "Time budget (ms) must be a whole number, got 12.5", failed: true });
  });
});
