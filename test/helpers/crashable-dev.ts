/**
 * `wrangler dev` on a port the test chooses, so it can be hard-killed (SIGKILL
 * to its whole process group, workerd included: no shutdown code runs) and
 * started again on the same port with the same --persist-to state — a crash and
 * a restart, as in test/node/exactly-once-kill.test.ts. Builds on
 * test/helpers/wrangler-process.ts; wrangler-dev.ts picks its own ports and
 * only stops gracefully.
 */
import { join, resolve } from "node:path";
import { groupAlive, signalGroup, spawnGroup, wranglerEnv } from "./wrangler-process";

const ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** How long the group may take to disappear after SIGKILL. */
const KILL_WAIT_MS = 5_000;

/** A running `wrangler dev` that can crash. */
export interface CrashableDev {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Its process group (wrangler and the workerd processes it started). */
  readonly pgid: number;
  /** The last lines it printed. */
  logTail(): string;
  /** SIGKILL to the whole group; resolves once no process of it is left, rejects when one survives. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period; resolves true when it exited on SIGTERM. */
  stop(): Promise<boolean>;
}

/**
 * Runs `wrangler dev --ip 127.0.0.1 --port <port> --persist-to <persistTo>
 * [--assets <dir>] [--var NAME:value …]` for the repository's wrangler.toml and resolves once
 * GET /health answers. On a timeout or an early exit the group is killed and
 * the promise rejects with its log tail.
 *
 * @example
 * const dev = await startCrashableDev({ port, inspectorPort, persistTo: dir, vars: { AUTH_SECRET: secret } });
 * await dev.kill(); // a crash: nothing is flushed, nothing says goodbye
 * const again = await startCrashableDev({ port, inspectorPort: other, persistTo: dir, vars: { AUTH_SECRET: secret } });
 */
export async function startCrashableDev(options: {
  port: number;
  inspectorPort: number;
  persistTo: string;
  /** Serve the static assets of this directory instead of wrangler.toml's (public/, built from web/ by other runs). */
  assets?: string;
  vars?: Record<string, string>;
  timeoutMs: number;
}): Promise<CrashableDev> {
  const args = [WRANGLER, "dev", "--ip", "127.0.0.1", "--port", String(options.port)];
  args.push("--inspector-port", String(options.inspectorPort), "--persist-to", options.persistTo);
  if (options.assets !== undefined) args.push("--assets", options.assets);
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push("--var", `${name}:${value}`);
  args.push("--show-interactive-dev-session=false");
  const group = spawnGroup({ args, cwd: ROOT, env: wranglerEnv(ROOT, join(options.persistTo, "logs")) });
  const url = `http://127.0.0.1:${options.port}`;
  const dev: CrashableDev = {
    url,
    pgid: group.pgid,
    logTail: group.logTail,
    async kill() {
      signalGroup(group.pgid, "SIGKILL");
      for (const until = Date.now() + KILL_WAIT_MS; groupAlive(group.pgid) && Date.now() < until;) await sleep(20);
      if (groupAlive(group.pgid)) throw new Error(`process group ${group.pgid} survived SIGKILL`);
      await group.stop(); // the group is gone: this only forgets the exit hook
    },
    stop: group.stop,
  };
  for (const until = Date.now() + options.timeoutMs; !group.exited && Date.now() < until;) {
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return dev;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  const why = group.exited ? "it exited" : "timeout";
  await dev.kill().catch(() => undefined);
  throw new Error(`wrangler dev on port ${options.port} did not become ready (${why}):\n${group.logTail()}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
