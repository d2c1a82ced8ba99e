// Shared by the end-to-end tests: checks, waiting with a deadline, and an agent talking MCP
// over stdio through the real `annal` sidecar.
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export function check(condition, message) {
  if (!condition) throw new Error(`FAILED: ${message}`);
}

export async function until(what, condition, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A one-time sign-in URL from `annal dashboard`, as a user gets it. */
export function signInUrl(bin, env) {
  const printed = execFileSync(bin, ["dashboard", "--no-open"], { env, encoding: "utf8" });
  const url = printed.split("\n").find((line) => line.startsWith("http://"));
  check(url !== undefined, `annal dashboard printed a URL: ${printed}`);
  return url;
}

/** A stdio MCP session through the sidecar, as an agent has it. */
export function agent(bin, env) {
  const child = spawn(bin, [], { env, stdio: ["pipe", "pipe", "inherit"] });
  const waiting = new Map();
  createInterface({ input: child.stdout }).on("line", (line) => {
    const message = JSON.parse(line);
    waiting.get(message.id)?.(message);
  });
  let id = 0;
  const request = (method, params) =>
    new Promise((done) => {
      id += 1;
      waiting.set(id, done);
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    });
  return {
    async start() {
      await request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } });
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
    },
    async call(name, args) {
      const answer = await request("tools/call", { name, arguments: args });
      check(!answer.result?.isError, `${name}: ${JSON.stringify(answer)}`);
      return answer.result.content[0].text;
    },
    stop: () => child.stdin.end(),
  };
}
