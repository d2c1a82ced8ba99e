import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke }));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

async function load(desktop: boolean) {
  vi.resetModules();
  vi.stubGlobal("window", desktop ? { __TAURI_INTERNALS__: {} } : {});
  return import("../src/transport");
}

function reply(status: number, body: unknown) {
  return { ok: status < 400, status, statusText: "status text", json: async () => body };
}

describe("in a browser", () => {
  const fetch = vi.fn();
  beforeEach(() => vi.stubGlobal("fetch", fetch));
  afterEach(() => { vi.unstubAllGlobals(); fetch.mockReset(); });

  it("sends list filters as a query string without empty values", async () => {
    const { api, inDesktopApp } = await load(false);
    expect(inDesktopApp).toBe(false);
    fetch.mockResolvedValue(reply(200, { total: 0, items: [] }));
    await api.memories("my project", { type: "", tag: "x y", include_superseded: false, stale_only: true, offset: 0, limit: 20 });
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe("/api/projects/my%20project/memories?tag=x+y&include_superseded=false&stale_only=true&offset=0&limit=20");
    expect(init.method).toBe("GET");
    expect(init.headers.Authorization).toBeUndefined();
  });

  it("sends JSON and no credential of its own (the session cookie is the credential)", async () => {
    const { api } = await load(false);
    fetch.mockResolvedValue(reply(200, { deleted: 2 }));
    const result = await api.deleteMatching("web", { filter: { tag: "bulk", include_superseded: false, stale_only: false }, expected: 2 });
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe("/api/projects/web/delete-matching");
    expect(init.headers.Authorization).toBeUndefined();
    expect(JSON.parse(init.body)).toEqual({ filter: { tag: "bulk", include_superseded: false, stale_only: false }, expected: 2 });
    expect(result).toEqual({ deleted: 2 });
  });

  it("reloads into the server's sign-in page when the session is gone", async () => {
    const { api } = await load(false);
    const reload = vi.fn();
    vi.stubGlobal("window", { location: { reload } });
    fetch.mockResolvedValue(reply(401, "sign in first"));
    await expect(api.projects()).rejects.toMatchObject({ message: "signed out" });
    expect(reload).toHaveBeenCalledOnce();
  });

  it("turns an engine refusal into an error with the engine's message and kind", async () => {
    const { api, EngineError } = await load(false);
    fetch.mockResolvedValue(reply(409, { kind: "conflict", message: "3 memories match now, not the 2 confirmed" }));
    const failure = api.deleteMatching("web", { filter: { include_superseded: false, stale_only: false }, expected: 2 });
    await expect(failure).rejects.toBeInstanceOf(EngineError);
    await expect(failure).rejects.toMatchObject({ message: "3 memories match now, not the 2 confirmed", reply: { kind: "conflict" } });
  });

  it("keeps a useful message when the body is not JSON", async () => {
    const { api } = await load(false);
    fetch.mockResolvedValue({ ok: false, status: 502, statusText: "Bad Gateway", json: async () => { throw new Error("not json"); } });
    await expect(api.projects()).rejects.toMatchObject({ message: "Bad Gateway" });
  });

  it("reloads on every (re)start of the event stream and on lagged, and passes events on", async () => {
    const { subscribe } = await load(false);
    const listeners: Record<string, ((message: { data: string }) => void)[]> = {};
    vi.stubGlobal("EventSource", class {
      constructor(readonly url: string) { expect(url).toBe("/api/events"); }
      addEventListener(kind: string, listener: (message: { data: string }) => void) {
        (listeners[kind] ??= []).push(listener);
      }
    });
    const events: unknown[] = [];
    const lagged = vi.fn();
    const ready = vi.fn();
    subscribe((event) => events.push(event), lagged, ready);
    // EventSource reconnects by itself; each new stream starts with `ready` (an owner restart,
    // a desktop take-over), after which everything the page shows may be stale.
    listeners.ready.forEach((l) => l({ data: '{"after_seq": 3}' }));
    listeners.ready.forEach((l) => l({ data: '{"after_seq": 9}' }));
    listeners.lagged.forEach((l) => l({ data: "4" }));
    listeners.index_failed.forEach((l) => l({ data: '{"seq": 10, "type": "index_failed"}' }));
    listeners.database_lost.forEach((l) => l({ data: '{"seq": 11, "type": "database_lost"}' }));
    expect(ready).toHaveBeenCalledTimes(2);
    expect(lagged).toHaveBeenCalledOnce();
    expect(events).toEqual([{ seq: 10, type: "index_failed" }, { seq: 11, type: "database_lost" }]);
  });

  it("answers nothing for 202 and 204", async () => {
    const { api } = await load(false);
    fetch.mockResolvedValue(reply(202, null));
    await expect(api.reindex("web")).resolves.toBeUndefined();
  });
});

describe("in the desktop app", () => {
  afterEach(() => { vi.unstubAllGlobals(); invoke.mockReset(); });

  it("calls the matching Tauri command with named arguments", async () => {
    const { api, inDesktopApp } = await load(true);
    expect(inDesktopApp).toBe(true);
    invoke.mockResolvedValue({ total: 1, items: [] });
    const params = { tag: "ui", include_superseded: false, stale_only: false, offset: 20, limit: 20 };
    await api.memories("web", params);
    expect(invoke).toHaveBeenCalledWith("memories", { project: "web", params });
    invoke.mockResolvedValue({ changes: [], indexing: false, project: "web" });
    await api.configureProject("web", { watch: false });
    expect(invoke).toHaveBeenLastCalledWith("configure_project", { project: "web", edit: { watch: false } });
  });

  it("turns a command's error reply into an EngineError", async () => {
    const { api, EngineError } = await load(true);
    invoke.mockRejectedValue({ kind: "not_found", message: "unknown project \"x\"" });
    const failure = api.reindex("x");
    await expect(failure).rejects.toBeInstanceOf(EngineError);
    await expect(failure).rejects.toMatchObject({ reply: { kind: "not_found" } });
    invoke.mockRejectedValue("plain text failure");
    await expect(api.projects()).rejects.toMatchObject({ message: "plain text failure" });
  });
});
