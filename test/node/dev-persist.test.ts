/**
 * `npm run dev -- --persist-to DIR` keeps wrangler dev's state in DIR, so the
 * local D1 migrations must be applied in DIR too (not in the default
 * .wrangler/state), or the replica has no tables. Runs scripts/dev.mjs for
 * real — migrations, web build, `wrangler dev` — on a free port, waits for
 * /health, stops its whole process group (test/helpers/wrangler-process.ts),
 * then reads the D1 file in DIR.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { freePorts, startProcessGroup, wranglerEnv } from "../helpers/wrangler-process";

const ROOT = resolve(import.meta.dirname, "../..");
const STARTUP_TIMEOUT_MS = 45_000;

const stateDir = mkdtempSync(join(tmpdir(), "nanotype-dev-persist-"));
// dev.mjs creates .dev.vars when it is missing; leave the checkout as it was.
const hadDevVars = existsSync(join(ROOT, ".dev.vars"));
afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
  if (!hadDevVars) rmSync(join(ROOT, ".dev.vars"), { force: true });
});

/** The replica's SQLite file under DIR/v3/d1 (miniflare names it after the database id), or undefined. */
function replicaFile(dir: string): string | undefined {
  const d1 = join(dir, "v3/d1/miniflare-D1DatabaseObject");
  if (!existsSync(d1)) return undefined;
  const files = readdirSync(d1).filter((name) => name.endsWith(".sqlite") && name !== "metadata.sqlite");
  expect(files.length, `D1 databases in ${d1}`).toBeLessThanOrEqual(1);
  return files[0] && join(d1, files[0]);
}

describe("npm run dev -- --persist-to DIR", () => {
  it("applies the local D1 migrations in DIR, where wrangler dev reads them", async () => {
    const [port, inspectorPort] = (await freePorts(2)) as [number, number];
    // dev.mjs puts `--port $PORT` on wrangler dev's command line itself; the other
    // arguments go through unchanged. The `=` form exercises the second spelling.
    const args = [`--persist-to=${stateDir}`, "--inspector-port", String(inspectorPort), "--show-interactive-dev-session=false"];
    const env = { ...wranglerEnv(ROOT, join(stateDir, "logs")), PORT: String(port) };
    const server = await startProcessGroup({
      name: "dev server (node scripts/dev.mjs)",
      args: [join(ROOT, "scripts/dev.mjs"), ...args],
      cwd: ROOT,
      env,
      port,
      timeoutMs: STARTUP_TIMEOUT_MS,
    });
    const stopped = await server.stop();
    expect(stopped, "dev.mjs and everything it started exit on SIGTERM").toBe(true);
    const log = server.logTail();

    const file = replicaFile(stateDir);
    expect(file, `no D1 database under ${stateDir}/v3/d1:\n${log}`).toBeDefined();
    const db = new DatabaseSync(file!);
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
      expect(tables.map((row) => row["name"])).toEqual(expect.arrayContaining(["tasks", "_replica_state", "d1_migrations"]));
      const applied = db.prepare("SELECT name FROM d1_migrations ORDER BY id").all();
      const committed = readdirSync(join(ROOT, "migrations"))
        .filter((name) => name.endsWith(".sql"))
        .sort();
      expect(applied.map((row) => row["name"])).toEqual(committed);
    } finally {
      db.close();
    }
  });
});
