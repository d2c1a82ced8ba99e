// Times the dashboard in headless Chromium against a real `annal serve` over an existing
// ANNAL_HOME (filled by `cargo bench --bench dashboard -- --browser`): from navigation to the
// first page of the memories view rendered, and to the overview's totals. Prints a table.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { signInUrl, until } from "./harness.mjs";

const home = process.env.ANNAL_HOME;
const bin = process.env.ANNAL_BIN;
const addressFile = join(home, "data", "http-address");
rmSync(addressFile, { force: true });
const owner = spawn(bin, ["serve"], { env: { ANNAL_LOG: "warn", ...process.env }, stdio: ["ignore", "ignore", "inherit"] });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
try {
  const started = Date.now();
  await until("the owner", () => existsSync(addressFile), 120000);
  const ready = Date.now() - started;
  const base = `http://${readFileSync(addressFile, "utf8").trim()}`;
  const memories = [];
  const overview = [];
  const context = await browser.newContext();
  const signIn = await context.newPage();
  await signIn.goto(signInUrl(bin, { ANNAL_LOG: "warn", ...process.env }));
  await signIn.close();
  for (let run = 0; run < 5; run += 1) {
    const page = await context.newPage();
    let t = Date.now();
    await page.goto(`${base}/#memories/big`);
    await until("20 rows", async () => (await page.locator(".memory-row").count()) === 20, 60000);
    memories.push(Date.now() - t);
    t = Date.now();
    await page.goto(`${base}/#overview`);
    await page.locator("#stat-memories", { hasText: "100000" }).waitFor({ timeout: 60000 });
    overview.push(Date.now() - t);
    await page.close();
  }
  console.log("| dashboard in Chromium, 100,000 memories | ms |");
  console.log("|---|---|");
  console.log(`| owner start to HTTP ready (pool open) | ${ready} |`);
  console.log(`| memories view, first page of 20 rendered (median of 5) | ${median(memories)} |`);
  console.log(`| overview totals rendered (median of 5) | ${median(overview)} |`);
} finally {
  await browser.close();
  owner.kill("SIGTERM");
}
