// Small DOM helpers shared by the views.

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node: HTMLElementTagNameMap[K] = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

export function relative(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

export function showError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const app = document.getElementById("app");
  // One banner per distinct message: a failure that repeats on every refresh must not stack.
  const shown = [...(app?.querySelectorAll(".banner") ?? [])].some((b) => b.textContent === message);
  if (!shown) app?.prepend(el("div", { className: "banner" }, message));
}

/** Removes error banners: called when a refresh succeeds, so they go with their cause. */
export function clearErrors(): void {
  document.querySelectorAll("#app .banner").forEach((banner) => banner.remove());
}

export function tagList(text: string): string[] {
  return text.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
}

/**
 * A mounted view. Live events call `refresh`, which reloads data regions only: forms and
 * anything the user is typing survive.
 */
export interface View {
  refresh(): Promise<void>;
}
