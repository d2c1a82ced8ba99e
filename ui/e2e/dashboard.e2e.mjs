// End-to-end test of the browser dashboard against a real `annal serve`, driven with
// Playwright and Debian's Chromium. Agents act through the real stdio sidecar.
// Usage: node e2e/dashboard.e2e.mjs   (ANNAL_BIN, ANNAL_MODEL_DIR from the environment)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { agent as sidecarAgent, check, signInUrl, until } from "./harness.mjs";

const bin = process.env.ANNAL_BIN ?? resolve("../target/debug/annal");
const home = mkdtempSync(join(tmpdir(), "annal-e2e-"));
writeFileSync(join(home, "config.yaml"), "port: 0\n");
const env = {
  ANNAL_LOG: "warn", ...process.env, ANNAL_HOME: home, HOME: home,
  XDG_CONFIG_HOME: join(home, ".config"), XDG_DATA_HOME: join(home, ".local/share"), XDG_CACHE_HOME: join(home, ".cache"),
  CODEX_HOME: join(home, ".codex"),
};
// Cursor is "installed" (its config dir exists) with a server of its own.
const cursorConfig = join(home, ".cursor", "mcp.json");
const cursorOriginal = '{\n  "mcpServers": {\n    "other": { "command": "other-server" }\n  }\n}\n';
mkdirSync(join(home, ".cursor"));
writeFileSync(cursorConfig, cursorOriginal);
const failures = [];
const agent = () => sidecarAgent(bin, env);

const owner = spawn(bin, ["serve"], { env, stdio: ["ignore", "ignore", "inherit"] });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const addressFile = join(home, "data", "http-address");
  await until("the owner's HTTP port", () => existsSync(addressFile));
  const base = `http://${readFileSync(addressFile, "utf8").trim()}`;
  const page = await browser.newPage();
  // A refusal the test provokes on purpose logs one failed request, and only that is expected.
  let refusalsExpected = 0;
  const refusal = /^Failed to load resource: the server responded with a status of 400\b/;
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    if (refusalsExpected > 0 && refusal.test(message.text())) refusalsExpected -= 1;
    else failures.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
  page.on("response", (response) => response.status() >= 400 && console.log(`HTTP ${response.status()} ${response.request().method()} ${response.url()}`));
  const dialogs = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    dialog.accept();
  });
  const shots = process.env.ANNAL_SCREENSHOTS;
  const screenshot = async (name) => shots && (await page.screenshot({ path: join(shots, `${name}.png`) }));

  // Without a session the server shows how to sign in, and nothing else.
  const stranger = await browser.newPage();
  const refused = await stranger.goto(base);
  check(refused.status() === 401, `a page without a session is refused: ${refused.status()}`);
  await stranger.getByText("annal dashboard").first().waitFor();
  const api = await stranger.evaluate(async () => (await fetch("/api/projects")).status);
  check(api === 401, `the API refuses a browser without a session: ${api}`);
  await stranger.close();

  // Signing in: the one-time URL sets the session cookie and lands on the dashboard.
  const url = signInUrl(bin, env);
  await page.goto(url);
  check(new URL(page.url()).pathname === "/", `sign-in lands on the dashboard: ${page.url()}`);
  await page.getByText("No memories yet").waitFor();
  // The empty overview offers the detected client's one-click connect.
  await page.locator('#app .empty .client[data-client="cursor"] .connect').waitFor();
  const cookies = await page.context().cookies();
  const session = cookies.find((cookie) => cookie.name.startsWith("annal_session_"));
  check(session?.httpOnly && session.sameSite === "Strict", `the session cookie is HttpOnly and SameSite=Strict: ${JSON.stringify(cookies)}`);
  const reused = await browser.newPage();
  check((await reused.goto(url)).status() === 401, "a used sign-in URL does not work twice");
  await reused.close();

  // An agent stores a memory: it appears live, without a reload.
  const a = agent();
  await a.start();
  await a.call("store_memory", { project: "web", content: "The dashboard shows memories live.", tags: ["ui", "decision"] });
  await page.locator("#stat-memories", { hasText: "1" }).waitFor();
  await page.locator("#feed .kind", { hasText: "memory_stored" }).first().waitFor();

  // Memories view: the row is there; deleting it asks with the count and removes it.
  await page.click("#nav-memories");
  await page.locator(".memory-row", { hasText: "shows memories live" }).waitFor();
  await page.locator(".memory-row .delete").first().click();
  await page.locator(".memory-row").waitFor({ state: "detached" });
  check(dialogs.at(-1).includes("Delete 1 memory"), `confirmation states the count: ${dialogs.at(-1)}`);

  // Create and edit a memory from the page.
  await page.fill("#new-content", "Created from the dashboard.");
  await page.fill("#new-tags", "ui, manual");
  // Live events refresh the data but never wipe what the user is typing.
  await a.call("store_memory", { project: "elsewhere", content: "Arrives while the user types.", tags: ["noise"] });
  await page.locator('#project-select option[value="elsewhere"]').waitFor({ state: "attached" });
  check(await page.inputValue("#new-content") === "Created from the dashboard.", "typed content survives a live refresh");
  await page.click("#create");
  await page.locator(".memory-row", { hasText: "Created from the dashboard." }).waitFor();
  await page.locator(".memory-row .edit").first().click();
  await page.fill(".edit-content", "Edited in the dashboard.");
  await page.click(".save");
  await page.locator(".memory-row", { hasText: "Edited in the dashboard." }).waitFor();
  const found = await a.call("search_memories", { project: "web", query: "edited in the dashboard", mode: "probe" });
  check(found.includes("Edited in the dashboard."), `agents see the edit: ${found}`);

  // Projects view: counts and top tags; a tag link opens the memories filtered by it.
  await a.call("store_memory", { project: "web", content: "Tagged for the projects view.", tags: ["projects-view"] });
  await page.click("#nav-projects");
  await page.locator('.project-card[data-project="web"]', { hasText: "2 agent memories" }).waitFor();
  await page.locator(".top-tags a", { hasText: "projects-view (1)" }).click();
  await page.locator("#tag-filter", { hasText: "projects-view" }).waitFor();
  await page.locator(".memory-row", { hasText: "Tagged for the projects view." }).waitFor();
  check((await page.locator(".memory-row").count()) === 1, "the tag filter leaves one row");

  // A reconcile that fails for real shows the failure with its error, then recovers.
  const docs = mkdtempSync(join(tmpdir(), "annal-e2e-docs-"));
  writeFileSync(join(docs, "guide.md"), "# Guide\nHow we deploy.\n");
  await a.call("init_project", { project_name: "web", watch_paths: [docs] });
  await page.click("#nav-overview");
  await until("the first index", async () => (await a.call("index_status", { project: "web" })).includes("Last reconcile"));
  rmSync(docs, { recursive: true });
  await a.call("index_files", { project: "web" });
  await page.locator(".state-failed").waitFor();
  await page.locator(".error-text", { hasText: docs }).waitFor();
  await page.locator('#activity-indicator[data-state="failed"]').waitFor();
  await screenshot("failed-indexing");
  mkdirSync(docs);
  writeFileSync(join(docs, "guide.md"), "# Guide\nHow we deploy.\n");
  await page.click(".retry");
  await page.getByRole("row", { name: /^web / }).locator(".state-idle").waitFor();
  await page.locator('#activity-indicator[data-state="idle"]').waitFor();
  // The re-created path is watched again: a memory naming one of its files is flagged when
  // the file changes.
  await a.call("store_memory", { project: "web", content: "The deploy order is written down in guide.md.", tags: ["deploy"] });
  writeFileSync(join(docs, "guide.md"), "# Guide\nHow we deploy, canary first.\n");
  await until("the watcher after the failure", async () =>
    (await a.call("search_memories", { project: "web", query: "deploy order written down" })).includes("guide.md was changed"));
  await screenshot("overview");

  // Select-and-delete and delete-all-matching, each confirmed with its count.
  for (const note of ["The CDN caches images for a week.", "Flaky test: retry the payment mock twice.", "Use UTC in every log line."]) {
    await a.call("store_memory", { project: "web", content: note, tags: ["bulk"] });
  }
  await page.goto(`${base}/#memories/web/bulk`);
  await until("three bulk rows", async () => (await page.locator(".memory-row").count()) === 3);
  await page.locator(".memory-row .pick").nth(0).check();
  await page.locator(".memory-row .pick").nth(1).check();
  await page.locator("#delete-selected", { hasText: "(2)" }).click();
  await until("one bulk row left", async () => (await page.locator(".memory-row").count()) === 1);
  check(dialogs.at(-1) === "Delete 2 selected memories?", `selection confirmation: ${dialogs.at(-1)}`);
  await page.locator("#delete-matching", { hasText: "(1)" }).click();
  await until("no bulk rows", async () => (await page.locator(".memory-row").count()) === 0);
  check(dialogs.at(-1).includes("Delete all 1 memory matching"), `matching confirmation: ${dialogs.at(-1)}`);

  // Server-side paging: 25 memories, 20 per page.
  const facts = [
    "Postgres runs with 200 max connections.", "The CDN purge takes two minutes.", "Our logo font is Inter.",
    "Releases are tagged from main on Tuesdays.", "Staging resets every night at 3am.", "The mobile app targets iOS 17.",
    "Feature flags live in LaunchDarkly.", "Invoices are numbered per year.", "Redis keys expire after one day.",
    "The API rate limit is 600 requests a minute.", "Secrets rotate every quarter.", "Alerts page the on-call via Opsgenie.",
    "Unit tests must not touch the network.", "We pin Node to version 20.", "Terraform state is kept in S3.",
    "The search index rebuilds on Sundays.", "Customer emails go through Postmark.", "Images are resized to 1600px.",
    "Docs are written in Markdown with Vale checks.", "Kafka topics keep seven days of data.", "The VPN uses WireGuard.",
    "Backups are restored monthly as a drill.", "Dark mode follows the OS setting.", "Translations are managed in Crowdin.",
    "Cron jobs run in UTC.",
  ];
  await a.call("store_batch", { project: "paged", memories: facts.map((content) => ({ content, tags: ["fact"] })) });
  await page.goto(`${base}/#memories/paged`);
  await page.locator("#page-info", { hasText: "1–20 of 25" }).waitFor();
  check((await page.locator(".memory-row").count()) === 20, "the first page holds 20 rows");
  await page.click("#next");
  await page.locator("#page-info", { hasText: "21–25 of 25" }).waitFor();
  check((await page.locator(".memory-row").count()) === 5, "the last page holds the other 5");
  check(await page.isDisabled("#next"), "no page after the last");
  await page.click("#prev");
  await page.locator("#page-info", { hasText: "1–20 of 25" }).waitFor();

  // A supersession chain, oldest first; filters; search across projects.
  const old = await a.call("store_memory", { project: "web", content: "Sessions live in Redis.", tags: ["sessions", "decision"] });
  const oldId = old.match(/^Stored memory (\S+?)\.?$/m)[1];
  const current = await a.call("store_memory", { project: "web", content: "Sessions live in signed cookies now.", tags: ["sessions", "decision"], supersedes: oldId });
  const currentId = current.match(/^Stored memory (\S+?)\.?$/m)[1];
  await page.goto(`${base}/#memories/web/sessions`);
  await page.locator(".memory-row", { hasText: "signed cookies" }).locator(".chain").click();
  await page.locator("#chain li").nth(1).waitFor();
  check((await page.locator("#chain li").first().textContent()).includes("Redis"), "the chain starts with the oldest decision");
  check((await page.locator(".memory-row").count()) === 1, "superseded memories are hidden by default");
  await page.check("#superseded-filter");
  await until("the superseded row", async () => (await page.locator(".memory-row").count()) === 2);
  await page.locator(".memory-row .badge", { hasText: "superseded" }).waitFor();
  await page.goto(`${base}/#memories/web`);
  await page.check("#search-all");
  await page.fill("#search", "user typing arrives");
  await page.press("#search", "Enter");
  await page.locator(".memory-row", { hasText: "Arrives while the user types." }).locator(".project", { hasText: "elsewhere" }).waitFor();
  await screenshot("memories");

  // The review inbox: a memory naming a watched file is flagged live when the file changes,
  // and "Still holds" clears it.
  const runbooks = mkdtempSync(join(tmpdir(), "annal-e2e-runbooks-"));
  writeFileSync(join(runbooks, "deploy.md"), "# Deploy\nBlue, then green.\n");
  await a.call("init_project", { project_name: "ops", watch_paths: [runbooks] });
  await until("the ops index", async () => (await a.call("index_status", { project: "ops" })).includes("Last reconcile"));
  const linked = await a.call("store_memory", { project: "ops", content: "Deploy steps are in deploy.md; follow them in order.", tags: ["deploy"] });
  const linkedId = linked.match(/^Stored memory (\S+?)\.?$/m)[1];
  await page.goto(`${base}/#review`);
  await page.locator("#review h3, #review .empty-inbox").first().waitFor();
  writeFileSync(join(runbooks, "deploy.md"), "# Deploy\nCanary first, then blue, then green.\n");
  const flagged = page.locator(`.review-item[data-key="memory:${linkedId}"]`);
  await flagged.waitFor();
  const reason = await flagged.locator(".reason").textContent();
  check(reason.includes("deploy.md was changed"), `the inbox says why: ${reason}`);
  await screenshot("review");
  await flagged.locator(".confirm").click();
  await flagged.waitFor({ state: "detached" });
  const cleared = await page.evaluate(async (id) => (await (await fetch(`/api/projects/ops/memories?limit=200`)).json()).items.find((m) => m.id === id), linkedId);
  check(cleared && cleared.review === null, `confirming clears the mark: ${JSON.stringify(cleared?.review)}`);

  // The command palette jumps to a project.
  await page.keyboard.press("Control+k");
  await page.fill("#palette-input", "project: web");
  await page.keyboard.press("Enter");
  await until("the palette's jump", async () => (await page.evaluate(() => location.hash)) === "#memories/web");

  // Projects: charts, watch settings edited by init_project's rules, pause watching.
  await page.goto(`${base}/#projects`);
  const card = page.locator('.project-card[data-project="web"]');
  await card.locator(".bar-chart svg rect").first().waitFor();
  await card.locator(".timeline-chart svg rect").first().waitFor();
  await card.locator(".watch-config summary").click();
  await card.locator(".watch-patterns").fill("**/*.md\n**/*.txt");
  await card.locator(".save-watch").click();
  // Saved through init_project's merge: only the patterns changed, the paths stayed.
  await until("the saved patterns", async () => {
    const saved = await page.evaluate(async () => (await fetch("/api/projects/web/watch")).json());
    return saved.watch_patterns.includes("**/*.txt") && saved.watch_paths.length === 1;
  });
  await card.locator(".pause", { hasText: "Pause watching" }).click();
  await card.locator(".pause", { hasText: "Resume watching" }).waitFor();
  await card.locator(".watching", { hasText: "watching paused" }).waitFor();
  await screenshot("projects");

  // Agent hooks: the brief a session would start with, settings over the defaults, a refusal
  // shown in the panel with what was typed kept.
  const hooksApi = () => page.evaluate(async () => (await fetch("/api/projects/web/hooks")).json());
  const { defaults } = await hooksApi();
  const hooks = card.locator(".hook-settings");
  const recallMax = hooks.locator(".hook-recall-max");
  const recallMarker = hooks.locator('.hook-field[data-key="recall_max"] .hook-marker');
  await hooks.locator("summary").click();
  await hooks.locator("pre.brief-preview", { hasText: `(id ${currentId})` }).waitFor();
  const briefLine = await hooks.locator(".brief-summary").textContent();
  check(/^\d+ memor(y|ies), about \d+ tokens?$/.test(briefLine), `the brief's size: ${briefLine}`);
  await hooks.locator('.hook-marker[data-state="default"]').nth(6).waitFor();
  check(await recallMax.inputValue() === String(defaults.recall_max), `memories per prompt shows the default: ${await recallMax.inputValue()}`);
  check(await recallMarker.textContent() === "(default)", `memories per prompt is marked default: ${await recallMarker.textContent()}`);
  await hooks.locator(".brief").scrollIntoViewIfNeeded();
  await screenshot("hooks");
  await recallMax.fill("40");
  refusalsExpected += 1;
  await hooks.locator(".save-hooks").click();
  await hooks.locator(".hook-outcome.failed", { hasText: "hooks.recall_max must be between 1 and 10, got 40" }).waitFor();
  check(await recallMax.inputValue() === "40", `the refused value stays typed: ${await recallMax.inputValue()}`);
  check((await hooksApi()).project.recall_max === undefined, "a refused value is not saved");
  await recallMax.fill("2");
  await hooks.locator(".save-hooks").click();
  await hooks.locator(".hook-outcome:not(.failed)", { hasText: "memories per prompt" }).waitFor();
  const saved = await hooksApi();
  check(JSON.stringify(saved.project) === '{"recall_max":2}' && saved.effective.recall_max === 2, `only the changed field is saved: ${JSON.stringify(saved.project)}`);
  // Reopened after a reload, the panel loads what the owner holds.
  await page.reload();
  await hooks.locator("summary").click();
  await recallMarker.and(page.locator('[data-state="project"]')).waitFor();
  check(await recallMax.inputValue() === "2", `the saved value shows on reopening: ${await recallMax.inputValue()}`);
  check(!(await recallMarker.textContent()).includes("(default)"), `an own value is not marked default: ${await recallMarker.textContent()}`);
  check(await hooks.locator('.hook-marker[data-state="default"]').count() === 6, "the other fields stay on the defaults");
  await hooks.locator(".reset-hooks").click();
  await recallMarker.and(page.locator('[data-state="default"]')).waitFor();
  check(await recallMax.inputValue() === String(defaults.recall_max), `reset shows the default again: ${await recallMax.inputValue()}`);
  check(JSON.stringify((await hooksApi()).project) === "{}", "reset leaves the project on the defaults");

  // Connect agents and the dark theme.
  await page.click("#nav-connect");
  await page.locator(".client h3", { hasText: "Claude Code" }).waitFor();
  // Connect shows the change, writes exactly it, and the card turns connected.
  const cursor = page.locator('.client[data-client="cursor"]');
  check(await cursor.evaluate((c) => c.classList.contains("not-configured")), "Cursor starts not connected");
  await cursor.locator(".connect").click();
  const diff = await cursor.locator("pre.diff").first().textContent();
  check(diff.includes(`+`) && diff.includes(bin.split("/").pop()), `the diff adds the entry: ${diff}`);
  check(readFileSync(cursorConfig, "utf8") === cursorOriginal, "showing the change writes nothing");
  await cursor.locator(".apply").click();
  await page.locator('.client.configured[data-client="cursor"]').waitFor();
  const written = readFileSync(cursorConfig, "utf8");
  check(written.includes("other-server") && written.includes(`"annal"`), `Connect wrote the entry beside the other server: ${written}`);
  await screenshot("connect");
  const connected = page.locator('.client.configured[data-client="cursor"]');
  await connected.locator(".disconnect").click();
  await connected.locator(".apply").click();
  await page.locator('.client.not-configured[data-client="cursor"]').waitFor();
  check(readFileSync(cursorConfig, "utf8") === cursorOriginal, "Disconnect restores the file's bytes");
  await page.selectOption("#theme", "dark");
  check(await page.evaluate(() => document.documentElement.dataset.theme) === "dark", "the dark theme applies");
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(background === "rgb(21, 24, 28)", `dark background: ${background}`);
  await screenshot("connect-dark");
  await page.reload();
  check(await page.evaluate(() => document.documentElement.dataset.theme) === "dark", "the theme survives a reload");

  a.stop();
  check(failures.length === 0, failures.join("\n"));
  console.log("ok");
} finally {
  await browser.close();
  owner.kill("SIGTERM");
}
