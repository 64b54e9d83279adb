/**
 * Starts and stops `wrangler dev` for any wrangler.toml (the product's or a
 * test app's) on free ports with a given --persist-to directory, and applies
 * local D1 migrations to that directory. Used by tests that need a real Worker
 * over HTTP (test/node/schema-change.test.ts, test/browser/dev-server.ts). The
 * caller owns the persist directory: stopping a server never deletes state.
 * The process group handling is test/helpers/wrangler-process.ts's.
 */
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { freePorts, startProcessGroup, wranglerEnv, type GroupServer } from "./wrangler-process";

const ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** How long `wrangler dev` may take to answer /health by default (it bundles the Worker first). */
const STARTUP_TIMEOUT_MS = 45_000;

const run = promisify(execFile);

/** A running `wrangler dev`: `stop()` sends SIGTERM to wrangler and its workerd (one process group), SIGKILL after a grace period. */
export type WranglerDev = GroupServer;

/**
 * Runs `wrangler dev [-c <config>] --persist-to <persistTo> [--var NAME:value …]`
 * on free ports and resolves once GET /health answers. Without `config`,
 * wrangler reads the product's ./wrangler.toml, as `npm run dev` does.
 *
 * @example
 * const server = await startWranglerDev({ config: "test/apps/x/wrangler.toml", persistTo: dir });
 * await fetch(`${server.url}/health`);
 * await server.stop();
 */
export async function startWranglerDev(options: {
  config?: string;
  persistTo: string;
  vars?: Record<string, string>;
  startupTimeoutMs?: number;
}): Promise<WranglerDev> {
  const [port, inspectorPort] = (await freePorts(2)) as [number, number];
  const args = ["dev", ...(options.config ? ["-c", resolve(ROOT, options.config)] : []), "--ip", "127.0.0.1", "--port", String(port)];
  args.push("--inspector-port", String(inspectorPort), "--persist-to", options.persistTo);
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push("--var", `${name}:${value}`);
  args.push("--show-interactive-dev-session=false");
  return startProcessGroup({
    name: options.config ? `wrangler dev -c ${options.config}` : "wrangler dev",
    args: [WRANGLER, ...args],
    cwd: ROOT,
    env: wranglerEnv(ROOT, join(options.persistTo, "logs")),
    port,
    timeoutMs: options.startupTimeoutMs ?? STARTUP_TIMEOUT_MS,
  });
}

/**
 * `wrangler d1 migrations apply <database> --local --persist-to <persistTo> [-c <config>]`:
 * applies the config's `migrations_dir` (without `config`, the product's
 * ./wrangler.toml) to the local D1 in that directory (also while a `wrangler dev`
 * on it runs). Resolves with wrangler's output; rejects with it on failure.
 */
export async function applyLocalD1Migrations(options: { config?: string; database: string; persistTo: string }): Promise<string> {
  const args = ["d1", "migrations", "apply", options.database, "--local", "--persist-to", options.persistTo];
  if (options.config) args.push("-c", resolve(ROOT, options.config));
  try {
    const { stdout, stderr } = await run(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: wranglerEnv(ROOT, join(options.persistTo, "logs")),
      timeout: 60_000,
    });
    return stdout + stderr;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    const config = options.config ?? "wrangler.toml";
    throw new Error(`applying ${config}'s D1 migrations to ${options.persistTo} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}
