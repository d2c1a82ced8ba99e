// The command palette (Ctrl/Cmd+K): jump to a view or a project, or search memories.
import { el } from "./dom";
import { api } from "./transport";

interface Command {
  label: string;
  run(): void;
}

export function installPalette(search: (query: string) => void): void {
  const input = el("input", { id: "palette-input", placeholder: "Jump to… or type to search memories", autocomplete: "off" });
  const list = el("ul", { id: "palette-list" });
  const dialog = el("div", { id: "palette", hidden: true }, el("div", { className: "palette-box" }, input, list));
  document.body.append(dialog);
  let commands: Command[] = [];
  let active = 0;

  const close = () => { dialog.hidden = true; };
  const go = (hash: string) => () => { location.hash = hash; };

  function matching(): Command[] {
    const text = input.value.trim().toLowerCase();
    const found = commands.filter((c) => c.label.toLowerCase().includes(text));
    if (text) found.push({ label: `Search memories for “${input.value.trim()}”`, run: () => search(input.value.trim()) });
    return found;
  }

  function draw(): void {
    const found = matching();
    active = Math.min(active, Math.max(0, found.length - 1));
    list.replaceChildren(...found.map((command, i) => {
      const item = el("li", { className: i === active ? "active" : "" }, command.label);
      item.onclick = () => { close(); command.run(); };
      return item;
    }));
  }

  async function open(): Promise<void> {
    const projects = await api.projects().catch(() => []);
    commands = [
      { label: "Overview", run: go("#overview") },
      { label: "Memories", run: go("#memories") },
      { label: "Projects", run: go("#projects") },
      { label: "Connect agents", run: go("#connect") },
      ...projects.map((p) => ({ label: `Project: ${p.project}`, run: go(`#memories/${encodeURIComponent(p.project)}`) })),
    ];
    input.value = "";
    active = 0;
    dialog.hidden = false;
    draw();
    input.focus();
  }

  input.oninput = () => { active = 0; draw(); };
  input.onkeydown = (key) => {
    const found = matching();
    if (key.key === "Escape") close();
    else if (key.key === "ArrowDown") { active = Math.min(active + 1, found.length - 1); draw(); }
    else if (key.key === "ArrowUp") { active = Math.max(active - 1, 0); draw(); }
    else if (key.key === "Enter" && found[active]) { close(); found[active].run(); }
  };
  dialog.onclick = (event) => { if (event.target === dialog) close(); };
  document.addEventListener("keydown", (key) => {
    if ((key.ctrlKey || key.metaKey) && key.key.toLowerCase() === "k") {
      key.preventDefault();
      if (dialog.hidden) open(); else close();
    }
  });
}
