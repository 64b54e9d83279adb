/**
 * Starts and stops `wrangler dev` for any wrangler.toml (the product's or a
 * test app's) on free ports with a given --persist-to directory, and applies
 * local D1 migrations to that directory. Used by Node-side tests that need a
 * real Worker over HTTP (test/node/schema-change.test.ts). The caller owns the
 * persist directory: stopping a server never deletes state.
 */
import { execFile, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { freePorts, wranglerEnv } from "./wrangler-process";

const ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** How long `wrangler dev` may take to answer /health (it bundles the Worker first). */
const STARTUP_TIMEOUT_MS = 45_000;
/** How long a SIGTERM may take before the process group is killed. */
const STOP_GRACE_MS = 5_000;
/** Lines of wrangler output kept for failure messages. */
const LOG_TAIL_LINES = 80;

const run = promisify(execFile);

export interface WranglerDev {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The last lines wrangler printed (for failure messages). */
  logTail(): string;
  /** SIGTERM to wrangler and its workerd (one process group), SIGKILL after a grace period. */
  stop(): Promise<void>;
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Stops a process group: SIGTERM, then SIGKILL after `graceMs`. Resolves true when it exited on SIGTERM. */
export async function stopGroup(pgid: number, graceMs = STOP_GRACE_MS): Promise<boolean> {
  try {
    process.kill(-pgid, "SIGTERM");
  } catch {
    return true;
  }
  for (const until = Date.now() + graceMs; groupAlive(pgid) && Date.now() < until;) await new Promise((done) => setTimeout(done, 50));
  if (!groupAlive(pgid)) return true;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // Gone in between.
  }
  return false;
}

/**
 * Runs `wrangler dev -c <config> --persist-to <persistTo>` on free ports and
 * resolves once GET /health answers.
 *
 * @example
 * const server = await startWranglerDev({ config: "test/apps/x/wrangler.toml", persistTo: dir });
 * await fetch(`${server.url}/health`);
 * await server.stop();
 */
export async function startWranglerDev(options: { config: string; persistTo: string }): Promise<WranglerDev> {
  const [port, inspectorPort] = (await freePorts(2)) as [number, number];
  const args = ["dev", "-c", resolve(ROOT, options.config), "--ip", "127.0.0.1", "--port", String(port)];
  args.push("--inspector-port", String(inspectorPort), "--persist-to", options.persistTo, "--show-interactive-dev-session=false");
  const env = wranglerEnv(ROOT, join(options.persistTo, "logs"));
  const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const pgid = child.pid!;
  const tail: string[] = [];
  const collect = (chunk: Buffer) => {
    tail.push(
      ...chunk
        .toString()
        .split("\n")
        .filter((line) => line.trim() !== ""),
    );
    tail.splice(0, Math.max(0, tail.length - LOG_TAIL_LINES));
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  let exited = false;
  child.on("exit", () => (exited = true));
  const killOnExit = () => {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  process.once("exit", killOnExit);

  const server: WranglerDev = {
    url: `http://127.0.0.1:${port}`,
    logTail: () => tail.join("\n"),
    async stop() {
      process.off("exit", killOnExit);
      await stopGroup(pgid);
    },
  };
  for (const until = Date.now() + STARTUP_TIMEOUT_MS; !exited && Date.now() < until;) {
    try {
      const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return server;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  await server.stop();
  throw new Error(`wrangler dev -c ${options.config} did not become ready (${exited ? "it exited" : "timeout"}):\n${server.logTail()}`);
}

/**
 * `wrangler d1 migrations apply <database> --local --persist-to <persistTo> -c <config>`:
 * applies the config's `migrations_dir` to the local D1 in that directory (also while a
 * `wrangler dev` on it runs). Resolves with wrangler's output; rejects with it on failure.
 */
export async function applyLocalD1Migrations(options: { config: string; database: string; persistTo: string }): Promise<string> {
  const args = ["d1", "migrations", "apply", options.database, "--local", "--persist-to", options.persistTo];
  args.push("-c", resolve(ROOT, options.config));
  try {
    const { stdout, stderr } = await run(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: wranglerEnv(ROOT, join(options.persistTo, "logs")),
      timeout: 60_000,
    });
    return stdout + stderr;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`applying ${options.config}'s D1 migrations to ${options.persistTo} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}
