/**
 * Starts the product the way `npm run dev` does — `wrangler dev` on
 * 127.0.0.1, serving public/ and the Worker — but self-contained for tests: a
 * free port, a temporary --persist-to directory with the local D1 migrations
 * applied, and its own secret and DEV_TOKENS passed with --var (no .dev.vars
 * needed). `stop()` kills wrangler and its workerd (one process group) and
 * removes the directory.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyLocalD1Migrations, startWranglerDev } from "../helpers/wrangler-dev";

const STARTUP_TIMEOUT_MS = 90_000;

export interface DevServer {
  url: string;
  /** The last lines wrangler printed (for failure messages). */
  logTail(): string;
  stop(): Promise<void>;
}

/** Starts wrangler dev (public/ must be built) and resolves once /health answers. */
export async function startDevServer(): Promise<DevServer> {
  const stateDir = mkdtempSync(join(tmpdir(), "nanotype-browser-"));
  const removeState = () => rmSync(stateDir, { recursive: true, force: true });
  try {
    await applyLocalD1Migrations({ database: "nanotype-read-replica", persistTo: stateDir });
    const secret = randomBytes(24).toString("hex");
    const vars = { AUTH_SECRET: secret, DEV_TOKENS: "true" };
    const server = await startWranglerDev({ persistTo: stateDir, vars, startupTimeoutMs: STARTUP_TIMEOUT_MS });
    return {
      url: server.url,
      logTail: server.logTail,
      async stop() {
        await server.stop();
        removeState();
      },
    };
  } catch (error) {
    removeState();
    throw error;
  }
}
