// The only module that knows how the dashboard talks to the engine: Tauri IPC (invoke and
// events) inside the desktop app, fetch and EventSource against the owner's HTTP port in a
// browser. Both reach the same engine functions (engine/src/dashboard), through clients
// generated from the same query declarations (./api.ts), with the same types.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { type Api, ERROR_KINDS, EVENT_KINDS, httpApi, ipcApi } from "./api";
import type { ErrorReply, Event } from "./bindings";

export type { Activity, DayCount, Event as AnnalEvent, IndexStatus as ProjectStatus, ListParams, Memory, Review, WatchConfig, Inbox, InboxItem, ReviewAction } from "./bindings";

export const inDesktopApp = typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;

/** The engine's answer to a failed call, as an Error whose message is the engine's text. */
export class EngineError extends Error {
  constructor(readonly reply: ErrorReply) {
    super(reply.message);
  }
}

/** The engine's `{kind, message}` refusal, if that is what `value` is. */
function errorReply(value: unknown): ErrorReply | undefined {
  if (typeof value !== "object" || value === null || !("kind" in value) || !("message" in value)) return undefined;
  const kind = ERROR_KINDS.find((known) => known === value.kind);
  return kind !== undefined && typeof value.message === "string" ? { kind, message: value.message } : undefined;
}

function queryString(params: object): string {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== "");
  return new URLSearchParams(pairs.map(([key, value]) => [key, String(value)])).toString();
}

const http = httpApi(async (method, path, input, answersWithBody) => {
  // The session cookie (HttpOnly, set at sign-in) is the credential; the page holds none.
  const headers: Record<string, string> = {};
  if (input.body !== undefined) headers["Content-Type"] = "application/json";
  const url = input.query === undefined ? path : `${path}?${queryString(input.query)}`;
  const body = input.body === undefined ? undefined : JSON.stringify(input.body);
  const response = await fetch(url, { method, headers, body });
  if (response.status === 401) {
    // Signed out (the session expired, or the token was replaced): the server's page says how
    // to sign in again.
    window.location.reload();
    throw new EngineError({ kind: "unavailable", message: "signed out" });
  }
  if (!response.ok) {
    const reply = errorReply(await response.json().catch(() => undefined));
    throw new EngineError(reply ?? { kind: "internal", message: response.statusText });
  }
  return answersWithBody ? response.json() : undefined;
});

const ipc = ipcApi(async (command, args) => {
  try {
    return await invoke(command, args);
  } catch (failure) {
    const reply = errorReply(failure);
    throw reply === undefined ? new Error(String(failure)) : new EngineError(reply);
  }
});

export const api: Api = inDesktopApp ? ipc : http;

/**
 * Calls `onEvent` for every live event; `onLagged` when events may have been missed;
 * `onReady` whenever the stream (re)starts — after a reconnect (an owner restart, a desktop
 * take-over) everything the page shows may be stale.
 */
export function subscribe(onEvent: (event: Event) => void, onLagged: () => void, onReady: () => void): void {
  if (inDesktopApp) {
    for (const kind of EVENT_KINDS) listen<Event>(kind, (message) => onEvent(message.payload));
    listen("lagged", onLagged);
    // The app's own engine cannot restart under the page: live from the first listen on.
    onReady();
    return;
  }
  const source = new EventSource("/api/events");
  for (const kind of EVENT_KINDS) {
    source.addEventListener(kind, (message: MessageEvent<string>) => onEvent(JSON.parse(message.data)));
  }
  source.addEventListener("lagged", onLagged);
  source.addEventListener("ready", onReady);
}
