/**
 * Starts the product the way `npm run dev` does — `wrangler dev` on
 * 127.0.0.1, serving public/ and the Worker — but self-contained for tests: a
 * free port, a temporary --persist-to directory with the local D1 migrations
 * applied, and its own secret and DEV_TOKENS passed with --var (no .dev.vars
 * needed). `stop()` kills wrangler and its workerd (one process group).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePorts, wranglerEnv } from "../helpers/wrangler-process";

const ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const STARTUP_TIMEOUT_MS = 90_000;

export interface DevServer {
  url: string;
  /** The last lines wrangler printed (for failure messages). */
  logTail(): string;
  stop(): Promise<void>;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Starts wrangler dev (public/ must be built) and resolves once /health answers. */
export async function startDevServer(): Promise<DevServer> {
  const stateDir = mkdtempSync(join(tmpdir(), "nanotype-browser-"));
  const env = wranglerEnv(ROOT, join(stateDir, "logs"));
  const migrate = spawnSync(
    process.execPath,
    [WRANGLER, "d1", "migrations", "apply", "nanotype-read-replica", "--local", "--persist-to", stateDir],
    { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 },
  );
  if (migrate.status !== 0) throw new Error(`applying local D1 migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const [port, inspectorPort] = (await freePorts(2)) as [number, number];
  const secret = randomBytes(24).toString("hex");
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort)];
  args.push("--persist-to", stateDir, "--var", `AUTH_SECRET:${secret}`, "--var", "DEV_TOKENS:true", "--show-interactive-dev-session=false");
  const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const pgid = child.pid!;
  const tail: string[] = [];
  const collect = (chunk: Buffer) => {
    tail.push(
      ...chunk
        .toString()
        .split("\n")
        .filter((line) => line.trim()),
    );
    tail.splice(0, Math.max(0, tail.length - 60));
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  let exited = false;
  child.on("exit", () => (exited = true));
  const killAll = () => {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  process.once("exit", killAll);

  const server: DevServer = {
    url: `http://127.0.0.1:${port}`,
    logTail: () => tail.join("\n"),
    async stop() {
      process.off("exit", killAll);
      try {
        process.kill(-pgid, "SIGTERM");
      } catch {
        // Already gone.
      }
      for (let waited = 0; groupAlive(pgid) && waited < 5_000; waited += 100) await new Promise((done) => setTimeout(done, 100));
      if (groupAlive(pgid)) killAll();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };

  const until = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < until) {
    if (exited) break;
    try {
      const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return server;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  await server.stop();
  throw new Error(`wrangler dev did not become ready (${exited ? "it exited" : "timeout"}):\n${server.logTail()}`);
}
