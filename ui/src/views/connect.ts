import { el, type View } from "../dom";

interface Client {
  name: string;
  file: string;
  snippet: string;
}

// The sidecar is the `annal` binary itself; agents start it and it finds the running owner.
const clients: Client[] = [
  { name: "Claude Code", file: "terminal", snippet: "claude mcp add --scope user annal -- annal" },
  { name: "Codex", file: "~/.codex/config.toml", snippet: '[mcp_servers.annal]\ncommand = "annal"\nargs = []' },
  { name: "Gemini CLI", file: "~/.gemini/settings.json", snippet: '{\n  "mcpServers": {\n    "annal": { "command": "annal", "args": [] }\n  }\n}' },
  { name: "Cursor", file: "~/.cursor/mcp.json", snippet: '{\n  "mcpServers": {\n    "annal": { "command": "annal", "args": [] }\n  }\n}' },
  { name: "VS Code", file: ".vscode/mcp.json", snippet: '{\n  "servers": {\n    "annal": { "type": "stdio", "command": "annal", "args": [] }\n  }\n}' },
  { name: "Claude Desktop", file: "claude_desktop_config.json", snippet: '{\n  "mcpServers": {\n    "annal": { "command": "annal", "args": [] }\n  }\n}' },
];

function copyButton(text: string): HTMLElement {
  const button = el("button", { className: "copy", textContent: "Copy" });
  button.onclick = () => {
    navigator.clipboard?.writeText(text).then(() => { button.textContent = "Copied"; }, () => { button.textContent = "Select and copy"; });
  };
  return button;
}

export function connect(app: HTMLElement): View {
  const origin = location.protocol.startsWith("http") ? location.origin : "http://127.0.0.1:9200";
  const http = `{\n  "mcpServers": {\n    "annal": {\n      "type": "http",\n      "url": "${origin}/mcp",\n      "headers": { "Authorization": "Bearer <contents of the http-token file in Annal's data dir>" }\n    }\n  }\n}`;
  app.replaceChildren(
    el("section", { id: "connect" },
      el("h2", {}, "Connect agents"),
      el("p", {}, "Agents start Annal's stdio sidecar, the ", el("code", {}, "annal"), " binary (put it on your PATH, or use its full path). It connects to this app, or starts a headless owner when the app is not running. Add it to each client:"),
      ...clients.map((client) => el("article", { className: "client" },
        el("h3", {}, client.name, " ", el("small", {}, client.file)),
        el("pre", {}, el("code", {}, client.snippet)),
        copyButton(client.snippet))),
      el("article", { className: "client" },
        el("h3", {}, "Any client over HTTP ", el("small", {}, "streamable HTTP")),
        el("pre", {}, el("code", {}, http)),
        copyButton(http))));
  return { refresh: async () => {} };
}
