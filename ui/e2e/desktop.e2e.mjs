// End-to-end test of the desktop app: the real Tauri binary in its real WebKitGTK webview under
// Xvfb, driven over WebDriver (tauri-driver + WebKitWebDriver). It takes over from a running
// headless owner while an agent is connected, and the dashboard works through Tauri IPC.
// Usage: node e2e/desktop.e2e.mjs   (ANNAL_BIN, ANNAL_DESKTOP_BIN, ANNAL_MODEL_DIR from the env)
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { agent, check, until } from "./harness.mjs";

const bin = process.env.ANNAL_BIN ?? resolve("../target/debug/annal");
const desktopBin = process.env.ANNAL_DESKTOP_BIN ?? resolve("../target/debug/annal-desktop");
const home = mkdtempSync(join(tmpdir(), "annal-desktop-e2e-"));
writeFileSync(join(home, "config.yaml"), "port: 0\n");
const display = process.env.E2E_DISPLAY ?? ":97";
const driverPort = Number(process.env.E2E_DRIVER_PORT ?? 4444);
const env = {
  ANNAL_LOG: "warn",
  ...process.env,
  ANNAL_HOME: home,
  // WebKitGTK keeps caches and local storage under the home and XDG dirs: never the real ones.
  HOME: home,
  XDG_CONFIG_HOME: join(home, ".config"),
  XDG_DATA_HOME: join(home, ".local/share"),
  XDG_CACHE_HOME: join(home, ".cache"),
  XDG_STATE_HOME: join(home, ".local/state"),
  DISPLAY: display,
  // No session bus under Xvfb: keep GTK, the tray and single-instance from looking for one.
  DBUS_SESSION_BUS_ADDRESS: "disabled:",
  NO_AT_BRIDGE: "1",
  CODEX_HOME: join(home, ".codex"),
};
// Cursor is "installed" (its config dir exists) with a server of its own.
const cursorConfig = join(home, ".cursor", "mcp.json");
const cursorOriginal = '{\n  "mcpServers": {\n    "other": { "command": "other-server" }\n  }\n}\n';
mkdirSync(join(home, ".cursor"), { recursive: true });
writeFileSync(cursorConfig, cursorOriginal);
const children = [];
const lockFile = join(home, "data", "owner.lock");
const lockHolder = () => (existsSync(lockFile) ? readFileSync(lockFile, "utf8").split("\n") : []);

function start(command, args, options = {}) {
  const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "inherit"], ...options });
  children.push(child);
  return child;
}

/** The pids of processes that have `path` open. */
function processesWith(path) {
  const pids = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let fds = [];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    if (fds.some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) === path; } catch { return false; } })) pids.push(Number(pid));
  }
  return pids;
}

/** A minimal W3C WebDriver client: all this test needs. */
async function webdriver(method, path, body) {
  const response = await fetch(`http://127.0.0.1:${driverPort}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const reply = await response.json();
  if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(reply.value)}`);
  return reply.value;
}

let session;
const run = (script, ...args) => webdriver("POST", `/session/${session}/execute/sync`, { script, args });
const text = (selector) => run("return document.querySelector(arguments[0])?.textContent ?? null", selector);

try {
  // A headless owner serves an agent before the desktop app starts.
  const headless = start(bin, ["serve"]);
  const a = agent(bin, env);
  await a.start();
  await a.call("store_memory", { project: "web", content: "Stored while the headless owner ran.", tags: ["takeover"] });
  check(lockHolder()[1] === "headless", `the headless owner holds the data: ${lockHolder()}`);

  if (!process.env.E2E_DISPLAY) {
    start("Xvfb", [display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"]);
    await until("Xvfb", () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`));
  }
  start("tauri-driver", ["--port", String(driverPort), "--native-port", String(driverPort + 1), "--native-driver", "/usr/bin/WebKitWebDriver"]);
  await until("tauri-driver", () => fetch(`http://127.0.0.1:${driverPort}/status`).then(() => true, () => false));
  session = (await webdriver("POST", "/session", {
    capabilities: { alwaysMatch: { "tauri:options": { application: desktopBin } } },
  })).sessionId;

  // The desktop app took over: the headless owner drained and exited, the lock is the app's.
  await until("the take-over", () => lockHolder()[1] === "desktop");
  await until("the headless owner to exit", () => headless.exitCode !== null);
  // The agent's next call works: its sidecar reconnects to the app.
  const found = await a.call("search_memories", { project: "web", query: "headless owner", mode: "probe" });
  check(found.includes("Stored while the headless owner ran."), `the agent still finds its memory: ${found}`);

  // The dashboard in the webview talks to the engine over IPC and hears its events.
  await until("the overview", async () => (await text("#stat-memories")) === "1");
  await a.call("store_memory", { project: "web", content: "Stored while the desktop app runs.", tags: ["live"] });
  await until("the live update", async () => (await text("#stat-memories")) === "2");
  await until("the feed", async () => (await text("#feed .kind")) === "memory_stored");

  await run("location.hash = '#memories'");
  await until("the memories view", async () => (await text("#memories")) !== null && (await run("return document.querySelectorAll('.memory-row').length")) === 2);
  await run(`document.querySelector('#new-content').value = 'Created in the desktop app.';
             document.querySelector('#new-tags').value = 'desktop';
             document.querySelector('#create').click();`);
  await until("the created row", async () => (await text("#memories"))?.includes("Created in the desktop app."));
  const seen = await a.call("search_memories", { project: "web", query: "created in the desktop app", mode: "probe" });
  check(seen.includes("Created in the desktop app."), `agents see what the app stored: ${seen}`);
  check((await text(".banner")) === null, `no error banner: ${await text(".banner")}`);
  if (process.env.ANNAL_SCREENSHOTS) {
    const png = await webdriver("GET", `/session/${session}/screenshot`);
    writeFileSync(join(process.env.ANNAL_SCREENSHOTS, "desktop.png"), Buffer.from(png, "base64"));
  }

  // One pool: what an agent stores is there for the dashboard's command at once, and no
  // process but the app has the database open.
  await a.call("store_memory", { project: "web", content: "Visible to the app at once.", tags: ["pool"] });
  const listed = await run(`return window.__TAURI_INTERNALS__.invoke("memories", { project: "web", params: { tag: "pool", include_superseded: false, stale_only: false } })`);
  check(listed.items.length === 1 && listed.items[0].content === "Visible to the app at once.", `the command sees it: ${JSON.stringify(listed)}`);
  const appPid = Number(lockHolder()[0]);
  check(JSON.stringify(processesWith(join(home, "data", "annal.db"))) === JSON.stringify([appPid]), `only the app (${appPid}) opens the database: ${processesWith(join(home, "data", "annal.db"))}`);

  // A real index failure shows in the app, with its error.
  const docs = mkdtempSync(join(tmpdir(), "annal-desktop-docs-"));
  writeFileSync(join(docs, "guide.md"), "# Guide\nHow we deploy.\n");
  await a.call("init_project", { project_name: "web", watch_paths: [docs] });
  await until("the first index", async () => (await a.call("index_status", { project: "web" })).includes("Last reconcile"));
  rmSync(docs, { recursive: true });
  await a.call("index_files", { project: "web" });
  await run("location.hash = '#overview'");
  await until("the failed state", async () => (await text(".state-failed")) !== null);
  check((await text(".error-text"))?.includes(docs), `the error names the path: ${await text(".error-text")}`);
  await until("the indicator", async () => (await run("return document.querySelector('#activity-indicator').dataset.state")) === "failed");

  // Connect in the webview writes through the same engine function, pointing at the sidecar
  // beside the app; Disconnect puts the file back.
  await run("location.hash = '#connect'");
  const card = `.client[data-client="cursor"]`;
  await until("the Cursor card", async () => (await text(`${card} .connect`)) === "Connect");
  await run(`document.querySelector('${card} .connect').click()`);
  await until("the diff", async () => (await text(`${card} pre.diff`))?.includes("annal"));
  check(readFileSync(cursorConfig, "utf8") === cursorOriginal, "showing the change writes nothing");
  await run(`document.querySelector('${card} .apply').click()`);
  await until("the card connected", async () => (await run(`return document.querySelector('.client.configured[data-client="cursor"]') !== null`)));
  const written = readFileSync(cursorConfig, "utf8");
  const sidecar = join(dirname(desktopBin), "annal");
  check(written.includes("other-server") && written.includes(realpathSync(sidecar)), `Connect points Cursor at the sidecar beside the app: ${written}`);
  await run(`document.querySelector('${card} .disconnect').click()`);
  await until("the removal plan", async () => (await text(`${card} .apply`)) !== null);
  await run(`document.querySelector('${card} .apply').click()`);
  await until("the card disconnected", async () => (await run(`return document.querySelector('.client.not-configured[data-client="cursor"]') !== null`)));
  check(readFileSync(cursorConfig, "utf8") === cursorOriginal, "Disconnect restores the file's bytes");

  // Closing the window hides it; the app keeps serving agents.
  await run(`return window.__TAURI_INTERNALS__.invoke("plugin:window|close", { label: "main" }).then(() => "asked")`);
  await until("the window to hide", async () => (await run(`return window.__TAURI_INTERNALS__.invoke("plugin:window|is_visible", { label: "main" })`)) === false);
  check(existsSync(`/proc/${appPid}`), "the app still runs");
  const after = await a.call("search_memories", { project: "web", query: "visible to the app", mode: "probe" });
  check(after.includes("Visible to the app at once."), `agents are still served: ${after}`);
  a.stop();

  // Ending the session ends the app and frees the data dir.
  const pid = Number(lockHolder()[0]);
  await webdriver("DELETE", `/session/${session}`);
  session = undefined;
  await until("the app to exit", () => !existsSync(`/proc/${pid}`), 30000);
  console.log("ok");
} finally {
  if (session) await webdriver("DELETE", `/session/${session}`).catch(() => {});
  for (const child of children.reverse()) child.kill("SIGTERM");
}
