/**
 * Schema changes on live rooms, end to end: a two-version app
 * (test/apps/schema-change/: v2 adds `items.estimate_minutes` and a `labels`
 * table) run by real `wrangler dev` on one --persist-to directory, like two
 * deploys of one Worker, in both deploy orders — code first (v2 Worker before
 * v2's D1 migrations) and replica first (v2's D1 migrations under the v1
 * Worker). Talks to the Worker over tRPC's HTTP format: mutations run in the
 * room, `replica.*` reads are served from D1 (falling back to the room).
 *
 * The app's migrations are generated from the repository root, v1 first, then
 * v2 on top of a copy of v1's (so v2 holds v1's files unchanged):
 *   DB_TARGET=room    npx drizzle-kit generate --config test/apps/schema-change/v1/drizzle.config.ts --name items
 *   DB_TARGET=replica npx drizzle-kit generate --config test/apps/schema-change/v1/drizzle.config.ts --name items
 *   cp -r test/apps/schema-change/v1/drizzle test/apps/schema-change/v1/migrations test/apps/schema-change/v2/
 *   DB_TARGET=room    npx drizzle-kit generate --config test/apps/schema-change/v2/drizzle.config.ts --name estimate_and_labels
 *   DB_TARGET=replica npx drizzle-kit generate --config test/apps/schema-change/v2/drizzle.config.ts --name estimate_and_labels
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createTRPCClient, httpLink, type TRPCClient } from "@trpc/client";
import superjson from "superjson";
import { afterAll, afterEach, describe, expect, it, onTestFailed } from "vitest";
import type { AppRouter as V1Router } from "../apps/schema-change/v1/app";
import type { AppRouter as V2Router } from "../apps/schema-change/v2/app";
import { applyLocalD1Migrations, startWranglerDev, type WranglerDev } from "../helpers/wrangler-dev";

const ROOT = resolve(import.meta.dirname, "../..");
const APP = "test/apps/schema-change";
const CONFIG = { v1: `${APP}/v1/wrangler.toml`, v2: `${APP}/v2/wrangler.toml` } as const;
/** `database_name` in both wrangler.toml files. */
const DATABASE = "schema-change-replica";
/** Two wrangler dev starts, a D1 apply and a schema retry per scenario: ≈ 20 s on an idle 2-core machine, 55 s seen under load. */
const SCENARIO_TIMEOUT_MS = 120_000;
/** Replication after a write: a 100 ms window plus one D1 batch. */
const REPLICATION_TIMEOUT_MS = 10_000;
/** After `wrangler d1 migrations apply`, the sync engine retries a schema failure within SYNC_SCHEMA_RETRY_MS (5 s). */
const RESUME_AFTER_D1_MIGRATION_MS = 10_000;

type Version = keyof typeof CONFIG;

const dirs: string[] = [];
const running = new Set<WranglerDev>();
afterEach(async () => {
  await Promise.all([...running].map((server) => server.stop()));
  running.clear();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh --persist-to directory, removed after the file. */
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "nanotype-schema-change-"));
  dirs.push(dir);
  return dir;
}

let v1Template: string | undefined;

/** A fresh --persist-to directory whose D1 holds v1's migrations (applied once, then copied: one wrangler run saved). */
async function v1ReplicaState(): Promise<string> {
  if (v1Template === undefined) {
    const template = stateDir();
    await applyD1("v1", template);
    v1Template = template;
  }
  const dir = stateDir();
  cpSync(v1Template, dir, { recursive: true });
  return dir;
}

/** Starts a version's Worker on `dir`; on a failing test its log tail is printed. */
async function start(version: Version, dir: string): Promise<WranglerDev> {
  const began = performance.now();
  const server = await startWranglerDev({ config: CONFIG[version], persistTo: dir });
  running.add(server);
  onTestFailed(() => console.error(`--- wrangler dev (${version}) log tail ---\n${server.logTail()}`));
  timing(`wrangler dev ${version} ready`, began);
  return server;
}

async function stop(server: WranglerDev): Promise<void> {
  const began = performance.now();
  await server.stop();
  running.delete(server);
  timing("wrangler dev stopped", began);
}

async function applyD1(version: Version, dir: string): Promise<void> {
  const began = performance.now();
  await applyLocalD1Migrations({ config: CONFIG[version], database: DATABASE, persistTo: dir });
  timing(`D1 migrations of ${version} applied`, began);
}

function timing(what: string, since: number): void {
  console.log(`[schema-change] ${what} in ${Math.round(performance.now() - since)} ms`);
}

/** A writer's tRPC HTTP client for `room` (token from the dev token route). Both versions share the transformer and error shape. */
async function client<TRouter extends V1Router | V2Router>(server: WranglerDev, room: string): Promise<TRPCClient<TRouter>> {
  const response = await fetch(`${server.url}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub: "schema-tester", room, role: "writer" }),
  });
  expect(response.status, `POST /dev/token: ${await response.clone().text()}`).toBe(200);
  const { token } = (await response.json()) as { token: string };
  const link = httpLink<V2Router>({
    url: `${server.url}/rooms/${room}/trpc`,
    transformer: superjson,
    headers: { authorization: `Bearer ${token}` },
  });
  return createTRPCClient<TRouter>({ links: [link] });
}

/** The part of `sync.status` both versions share. */
interface SyncView {
  roomSeq: number;
  replicatedSeq: number;
  fullResyncPending: boolean;
  lastError: string | null;
  syncErrors: number;
}

/** Polls every 100 ms until `done(value)`; fails after `timeoutMs` naming `what` and the last value or error. */
async function eventually<T>(
  what: string,
  timeoutMs: number,
  poll: () => Promise<T>,
  done: (value: T) => boolean,
): Promise<{ value: T; ms: number }> {
  const began = performance.now();
  let last: T | undefined;
  let failure: unknown;
  while (performance.now() - began < timeoutMs) {
    try {
      last = await poll();
      failure = undefined;
      if (done(last)) return { value: last, ms: Math.round(performance.now() - began) };
    } catch (error) {
      failure = error;
    }
    await new Promise((wake) => setTimeout(wake, 100));
  }
  const detail = failure === undefined ? `last value: ${JSON.stringify(last)}` : `last error: ${String(failure)}`;
  throw new Error(`${what}: not within ${timeoutMs} ms (${detail})`);
}

/** Waits until the replica has every change of the room and no full resync is pending. */
async function replicated(status: () => Promise<SyncView>, what: string, timeoutMs = REPLICATION_TIMEOUT_MS) {
  return eventually(
    `${what}: sync.status replicatedSeq == roomSeq, no full resync pending`,
    timeoutMs,
    status,
    (s) => s.replicatedSeq === s.roomSeq && !s.fullResyncPending && s.lastError === null,
  );
}

/** Fails when any value of any row is a column's name: SQLite's DQS quirk answering a missing column with its name. */
function expectNoColumnNamesAsValues(rows: readonly Record<string, unknown>[], columns: readonly string[]): void {
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      expect(columns, `row ${JSON.stringify(row)}: "${key}" holds a column name (a replica read behind the schema)`).not.toContain(value);
    }
  }
}

const V2_COLUMNS = ["id", "title", "estimate_minutes", "name"];

describe("the test app's migrations", () => {
  it("v2's migration folders hold v1's files unchanged plus one new migration each", () => {
    for (const folder of ["drizzle", "migrations"]) {
      const v1 = join(ROOT, APP, "v1", folder);
      const v2 = join(ROOT, APP, "v2", folder);
      const v1Sql = readdirSync(v1).filter((file) => file.endsWith(".sql"));
      const v2Sql = readdirSync(v2).filter((file) => file.endsWith(".sql"));
      expect(
        v2Sql.filter((file) => !v1Sql.includes(file)),
        `${folder}: new in v2`,
      ).toHaveLength(1);
      for (const file of v1Sql)
        expect(readFileSync(join(v2, file), "utf8"), `${folder}/${file} in v2`).toBe(readFileSync(join(v1, file), "utf8"));
    }
  });
});

describe("schema changes on live rooms (wrangler dev, shared --persist-to)", () => {
  it(
    "code first: a v2 Worker on a v1 replica migrates rooms on wake, reads fall back to the room, and sync resumes once D1 is migrated",
    async () => {
      const dir = await v1ReplicaState();
      const room = "schema-code-first";

      // v1 with its replica: two items, replicated.
      const v1 = await start("v1", dir);
      const a1 = await client<V1Router>(v1, room);
      const first = await a1.items.create.mutate({ title: "first" });
      const second = await a1.items.create.mutate({ title: "second" });
      await replicated(() => a1.sync.status.query(), "v1 writes");
      const v1Replica = await a1.replica.items.list.query();
      expect(v1Replica.source, "v1 replica read").toBe("replica");
      expect(v1Replica.data.items).toEqual([
        { id: first.id, title: "first" },
        { id: second.id, title: "second" },
      ]);
      await stop(v1);

      // v2 on the same state, D1 still at v1: the room migrates on wake, data intact.
      const v2 = await start("v2", dir);
      const a2 = await client<V2Router>(v2, room);
      const woke = await a2.items.list.query();
      expect(woke.items, "v1 rows after the room's migration").toEqual([
        { id: first.id, title: "first", estimate_minutes: null },
        { id: second.id, title: "second", estimate_minutes: null },
      ]);
      const updated = await a2.items.update.mutate({ id: first.id, estimate_minutes: 30 });
      expect(updated.estimate_minutes).toBe(30);
      const third = await a2.items.create.mutate({ title: "third", estimate_minutes: 45 });
      expect(third).toMatchObject({ title: "third", estimate_minutes: 45 });
      const label = await a2.labels.create.mutate({ name: "urgent" });
      expect((await a2.labels.list.query()).items, "the new table in the room").toEqual([{ id: label.id, name: "urgent" }]);
      const roomItems = (await a2.items.list.query()).items;

      // The replica lacks the column and the table: replica reads are served by the room, never with column names as values.
      const itemsBehind = await a2.replica.items.list.query();
      expect(itemsBehind.source, "replica.items.list while D1 lacks estimate_minutes").toBe("room");
      expectNoColumnNamesAsValues(itemsBehind.data.items, V2_COLUMNS);
      expect(itemsBehind.data.items).toEqual(roomItems);
      const labelsBehind = await a2.replica.labels.list.query();
      expect(labelsBehind.source, "replica.labels.list while D1 lacks labels").toBe("room");
      expect(labelsBehind.data.items).toEqual([{ id: label.id, name: "urgent" }]);

      // Sync fails on the replica's schema and says so; the room's migration asked for a full resync.
      const failing = await eventually(
        "sync reports the replica's missing schema",
        REPLICATION_TIMEOUT_MS,
        () => a2.sync.status.query(),
        (s) => s.syncErrors > 0 && /estimate_minutes|labels/.test(s.lastError ?? ""),
      );
      expect(failing.value.fullResyncPending, `status: ${JSON.stringify(failing.value)}`).toBe(true);
      expect(failing.value.replicatedSeq).toBeLessThan(failing.value.roomSeq);

      // Migrate D1 while v2 runs: sync resumes promptly and the replica serves the new column and table.
      await applyD1("v2", dir);
      const resumed = await replicated(() => a2.sync.status.query(), "after v2's D1 migrations", RESUME_AFTER_D1_MIGRATION_MS);
      console.log(`[schema-change] code first: replica caught up ${resumed.ms} ms after the D1 migration`);
      const served = await eventually(
        "replica.items.list served by the replica",
        RESUME_AFTER_D1_MIGRATION_MS,
        () => a2.replica.items.list.query(),
        (r) => r.source === "replica",
      );
      expect(served.value.data.items, "replica rows, including those written before D1 was migrated").toEqual(roomItems);
      expect(served.value.seq).toBe(resumed.value.roomSeq);
      const labelsServed = await a2.replica.labels.list.query();
      expect(labelsServed).toMatchObject({ source: "replica", data: { items: [{ id: label.id, name: "urgent" }] } });

      // Later writes to the new table and column are logged (triggers refreshed on wake) and pushed incrementally.
      const before = await a2.sync.status.query();
      const label2 = await a2.labels.create.mutate({ name: "later" });
      expect(label2.seq, "a labels insert is one change-log entry").toBe(before.roomSeq + 1);
      const fourth = await a2.items.create.mutate({ title: "fourth", estimate_minutes: 5 });
      const pushed = await eventually(
        "replica.labels.list at the new label's seq served by the replica",
        REPLICATION_TIMEOUT_MS,
        () => a2.replica.labels.list.query({ minSeq: fourth.seq }),
        (r) => r.source === "replica",
      );
      expect(pushed.value.data.items.map((row) => row.name)).toEqual(["urgent", "later"]);
      const itemsPushed = await a2.replica.items.list.query({ minSeq: fourth.seq });
      expect(itemsPushed.source).toBe("replica");
      expect(itemsPushed.data.items.at(-1)).toEqual({ id: fourth.id, title: "fourth", estimate_minutes: 5 });
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "replica first: v2's D1 migrations under a running v1 Worker keep it replicating; the v2 Worker then migrates rooms and converges",
    async () => {
      const dir = await v1ReplicaState();
      const room = "schema-replica-first";

      const v1 = await start("v1", dir);
      const a1 = await client<V1Router>(v1, room);
      const first = await a1.items.create.mutate({ title: "first" });
      await replicated(() => a1.sync.status.query(), "v1 writes");

      // The replica moves ahead of the code: v1 keeps writing, replicating and reading from it.
      await applyD1("v2", dir);
      const second = await a1.items.create.mutate({ title: "second" });
      await a1.items.update.mutate({ id: first.id, title: "first, renamed" });
      await replicated(() => a1.sync.status.query(), "v1 writes on the v2 replica");
      const v1Read = await a1.replica.items.list.query();
      expect(v1Read.source, "v1 replica read on the v2 replica").toBe("replica");
      expect(v1Read.data.items).toEqual([
        { id: first.id, title: "first, renamed" },
        { id: second.id, title: "second" },
      ]);
      await stop(v1);

      // v2: the room migrates on wake and everything converges.
      const v2 = await start("v2", dir);
      const a2 = await client<V2Router>(v2, room);
      expect((await a2.items.list.query()).items, "v1 rows after the room's migration").toEqual([
        { id: first.id, title: "first, renamed", estimate_minutes: null },
        { id: second.id, title: "second", estimate_minutes: null },
      ]);
      await a2.items.update.mutate({ id: second.id, estimate_minutes: 20 });
      const label = await a2.labels.create.mutate({ name: "later" });
      const roomItems = (await a2.items.list.query()).items;
      const converged = await replicated(() => a2.sync.status.query(), "v2 writes");
      console.log(`[schema-change] replica first: v2 converged in ${converged.ms} ms`);
      const served = await a2.replica.items.list.query();
      expect(served.source, "v2 replica read").toBe("replica");
      expect(served.data.items).toEqual(roomItems);
      expect(served.data.items.find((item) => item.id === second.id)?.estimate_minutes).toBe(20);
      expectNoColumnNamesAsValues(served.data.items, V2_COLUMNS);
      expect(await a2.replica.labels.list.query()).toMatchObject({ source: "replica", data: { items: [{ id: label.id, name: "later" }] } });
    },
    SCENARIO_TIMEOUT_MS,
  );
});
