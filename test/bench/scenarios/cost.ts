/**
 * Cost per action: what one action makes a room do, read from the room's own
 * meter (`admin.inspect`, src/room/room-meter.ts) before and after it — SQLite
 * rows written and read, D1 rows and batches, WebSocket messages in and out.
 * Each action runs in a fresh room through createRoomClient (which attaches
 * mutation ids). The inspections' own share is subtracted (see `window`).
 * Rendered and judged by test/bench/cost-table.ts.
 */
import { performance } from "node:perf_hooks";
import { REPLICATION_WINDOW_MS } from "../../../src/lib/limits";
import type { MeterCounters } from "../../../src/protocol/meter";
import type { RoomInspection } from "../../../src/protocol/inspection";
import type { RoomClient } from "../../../src/client";
import type { AppRouter } from "../../../src/app";
import type { BenchContext } from "../context";
import { sleep } from "../runtime";

/** The counters the table reports, per action. */
export const COST_FIELDS = ["sqlRowsWritten", "sqlRowsRead", "d1RowsWritten", "d1Batches", "wsMessagesIn", "wsMessagesOut"] as const;
export type CostField = (typeof COST_FIELDS)[number];
export type Cost = Record<CostField, number>;

/**
 * Repeats of each measured window; the median of each counter is reported. The
 * counts are deterministic but for the meter's own row write (at most every
 * 10 s, METER_FLUSH_MS), which lands in at most one window of three.
 */
const REPEATS = 3;
/** Pause after each task mutation: longer than the replication window plus a local D1 batch, so each action is pushed alone. */
const PACE_MS = REPLICATION_WINDOW_MS + 150;
/** Gap between inspections while waiting for the room to settle (replicated, flushed), and the longest wait. */
const SETTLE_POLL_MS = 150;
const SETTLE_MAX_MS = 10_000;
/** Debounced load: keys updated 60 times a second each, one frame per tick. */
const DEBOUNCED_KEYS = 5;
const DEBOUNCED_RATE = 60;
/** Sustained writes for the sync push: creates per second. */
const SYNC_RATE = 100;

type Client = RoomClient<AppRouter>;

function counters(inspection: RoomInspection): Cost {
  const total: MeterCounters = inspection.meter.total;
  return Object.fromEntries(COST_FIELDS.map((field) => [field, total[field]])) as Cost;
}

function combine(a: Cost, b: Cost, f: (x: number, y: number) => number): Cost {
  return Object.fromEntries(COST_FIELDS.map((field) => [field, f(a[field], b[field])])) as Cost;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

interface Window {
  /** The action's counts, the inspections' share subtracted. */
  cost: Cost;
  /** What one inspection costs (measured after the action). */
  inspection: Cost;
  /** Inspections taken while waiting for the room to settle. */
  polls: number;
  seconds: number;
  last: RoomInspection;
}

/**
 * Two inspections in a row, the action, inspections every SETTLE_POLL_MS until
 * `settled`, one more. Each inspection counts a little before its meter
 * snapshot (its frame in, the rows it reads) and a little after (its reply
 * out): the second-to-last and last inspections give one inspection's share
 * `c`, and between the baseline's snapshot and the last poll's lie `polls`
 * shares, so the action's counts are (last poll − baseline) − polls × c.
 */
async function window(
  client: Client,
  act: () => Promise<void>,
  settled: (inspection: RoomInspection) => boolean = () => true,
): Promise<Window> {
  await client.admin.inspect.query();
  const before = await client.admin.inspect.query();
  const start = performance.now();
  await act();
  const seconds = (performance.now() - start) / 1000;
  let last = await client.admin.inspect.query();
  let polls = 1;
  for (const giveUp = performance.now() + SETTLE_MAX_MS; !settled(last) && performance.now() < giveUp; polls++) {
    await sleep(SETTLE_POLL_MS);
    last = await client.admin.inspect.query();
  }
  if (!settled(last)) throw new Error(`cost: the room did not settle within ${SETTLE_MAX_MS} ms`);
  const next = await client.admin.inspect.query();
  const inspection = combine(counters(next), counters(last), (x, y) => x - y);
  const raw = combine(counters(last), counters(before), (x, y) => x - y);
  return { cost: combine(raw, inspection, (x, y) => x - polls * y), inspection, polls, seconds, last };
}

const replicated = (inspection: RoomInspection) =>
  inspection.sync.pendingChanges === 0 && inspection.sync.replicatedSeq === inspection.changeLog.head;

/** A fresh room whose first replication (a full resync) is done, so it is not counted. */
async function freshRoom(context: BenchContext, name: string): Promise<Client> {
  const client = await context.roomClient(`cost-${name}-${context.suffix}`, "direct", { role: "admin", sub: "bench-cost" });
  await client.tasks.create.mutate({ title: "warm-up" });
  await window(client, async () => {}, replicated);
  return client;
}

/** `repeats` windows of `count` actions each; per counter, the median per action. */
async function perAction(
  context: BenchContext,
  key: string,
  label: string,
  count: number,
  client: Client,
  setUp: (repeat: number) => Promise<void>,
  act: (repeat: number, i: number) => Promise<void>,
  settled?: (inspection: RoomInspection) => boolean,
): Promise<void> {
  const runs: Window[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    await setUp(repeat);
    runs.push(
      await window(
        client,
        async () => {
          for (let i = 0; i < count; i++) await act(repeat, i);
        },
        settled,
      ),
    );
  }
  const cost = Object.fromEntries(COST_FIELDS.map((field) => [field, median(runs.map((run) => run.cost[field] / count))])) as Cost;
  context.log(`cost: ${key.padEnd(16)} ${COST_FIELDS.map((field) => `${field} ${cost[field].toFixed(2)}`).join("  ")}`);
  context.results.value(`cost:${key}`, label, "direct", "SQLite rows written per action", cost.sqlRowsWritten, {
    ...cost,
    actions: count,
    repeats: REPEATS,
    rowsWrittenPerRepeat: runs.map((run) => run.cost.sqlRowsWritten),
    inspectionRowsRead: runs[0]!.inspection.sqlRowsRead,
  });
}

export async function cost(context: BenchContext): Promise<void> {
  const quick = context.settings.quick;
  const paced = quick ? 5 : 20;
  const pause = () => sleep(PACE_MS);

  // Task mutations, each alone and replicated before the next: the call plus its own D1 push.
  const creates = await freshRoom(context, "create");
  await perAction(
    context,
    "taskCreate",
    "tasks.create, one at a time, each replicated alone",
    paced,
    creates,
    async () => {},
    async (repeat, i) => {
      await creates.tasks.create.mutate({ title: `cost ${repeat}.${i}` });
      await pause();
    },
    replicated,
  );

  const updates = await freshRoom(context, "update");
  const task = await updates.tasks.create.mutate({ title: "updated" });
  await perAction(
    context,
    "taskUpdate",
    "tasks.update (title), one at a time, each replicated alone",
    paced,
    updates,
    () => window(updates, async () => {}, replicated).then(() => undefined),
    async (repeat, i) => {
      await updates.tasks.update.mutate({ id: task.id, title: `updated ${repeat}.${i}` });
      await pause();
    },
    replicated,
  );

  const deletes = await freshRoom(context, "delete");
  const ids: number[][] = [];
  await perAction(
    context,
    "taskDelete",
    "tasks.delete, one at a time, each replicated alone",
    paced,
    deletes,
    async (repeat) => {
      ids[repeat] = [];
      for (let i = 0; i < paced; i++) ids[repeat]!.push((await deletes.tasks.create.mutate({ title: `doomed ${repeat}.${i}` })).id);
      await window(deletes, async () => {}, replicated);
    },
    async (repeat, i) => {
      await deletes.tasks.delete.mutate({ id: ids[repeat]![i]! });
      await pause();
    },
    replicated,
  );

  const cursors = await freshRoom(context, "cursor");
  await perAction(
    context,
    "cursor",
    "presence.setCursor",
    quick ? 50 : 200,
    cursors,
    async () => {},
    async (repeat, i) => void (await cursors.presence.setCursor.mutate({ position: { x: i, y: repeat } })),
  );

  await debouncedCost(context);
  await syncCost(context);
}

/** DEBOUNCED_KEYS keys at DEBOUNCED_RATE updates/s each for `debouncedSeconds`, until the trailing flush is written. */
async function debouncedCost(context: BenchContext): Promise<void> {
  const client = await freshRoom(context, "debounced");
  const seconds = context.settings.debouncedSeconds;
  const ticks = seconds * DEBOUNCED_RATE;
  let loadSeconds = 0;
  const before = await client.admin.inspect.query();
  const { cost, polls, last } = await window(
    client,
    async () => {
      const pending: Array<Promise<unknown>> = [];
      const start = performance.now();
      for (let tick = 0; tick < ticks; tick++) {
        const wait = start + (tick * 1000) / DEBOUNCED_RATE - performance.now();
        if (wait > 1) await sleep(wait);
        for (let key = 0; key < DEBOUNCED_KEYS; key++) {
          pending.push(client.debounced.update.mutate({ key: `slider:${key}`, value: { tick, x: tick * 0.5 } }));
        }
      }
      await Promise.all(pending);
      loadSeconds = (performance.now() - start) / 1000;
    },
    (inspection) => inspection.debounced.pendingKeys === 0 && replicated(inspection),
  );
  const updates = ticks * DEBOUNCED_KEYS;
  const perKeySecond = cost.sqlRowsWritten / DEBOUNCED_KEYS / loadSeconds;
  // Values the writer persisted (one per key per flush), as the room's debounced stats count them.
  const flushWrites = last.debounced.sqliteWrites - before.debounced.sqliteWrites;
  context.log(
    `cost: debounced ${updates} updates in ${loadSeconds.toFixed(1)} s: ${cost.sqlRowsWritten} rows written (${perKeySecond.toFixed(2)} per key per second) for ${flushWrites} values written, ${polls} polls`,
  );
  context.results.value(
    "cost:debounced",
    `debounced.update, ${DEBOUNCED_RATE}/s × ${DEBOUNCED_KEYS} keys`,
    "direct",
    "rows written per key per second",
    perKeySecond,
    {
      ...Object.fromEntries(COST_FIELDS.map((field) => [field, cost[field] / updates])),
      updates,
      keys: DEBOUNCED_KEYS,
      ratePerKey: DEBOUNCED_RATE,
      loadSeconds,
      rowsWrittenTotal: cost.sqlRowsWritten,
      flushWrites,
      flushWritesPerKeySecond: flushWrites / DEBOUNCED_KEYS / loadSeconds,
      rowsPerFlushWrite: flushWrites === 0 ? null : cost.sqlRowsWritten / flushWrites,
    },
  );
}

/** Creates at SYNC_RATE/s for `replicationSeconds`, until D1 has them: D1 rows per change and batches per replication window. */
async function syncCost(context: BenchContext): Promise<void> {
  const client = await freshRoom(context, "sync");
  const seconds = context.settings.quick ? 2 : 5;
  const total = seconds * SYNC_RATE;
  let writeSeconds = 0;
  const before = await client.admin.inspect.query();
  const { cost, last } = await window(
    client,
    async () => {
      const pending: Array<Promise<unknown>> = [];
      const start = performance.now();
      for (let i = 0; i < total; i++) {
        const wait = start + (i * 1000) / SYNC_RATE - performance.now();
        if (wait > 1) await sleep(wait);
        pending.push(client.tasks.create.mutate({ title: `synced ${i}` }));
      }
      await Promise.all(pending);
      writeSeconds = (performance.now() - start) / 1000;
    },
    replicated,
  );
  const changes = last.changeLog.head - before.changeLog.head;
  // The windows the writes span, plus the one after the last write (its push).
  const windows = Math.ceil((writeSeconds * 1000) / REPLICATION_WINDOW_MS) + 1;
  const batchesPerWindow = cost.d1Batches / windows;
  context.log(
    `cost: sync ${changes} changes in ${writeSeconds.toFixed(1)} s: ${cost.d1Batches} D1 batches (${batchesPerWindow.toFixed(2)} per ${REPLICATION_WINDOW_MS} ms window), ${cost.d1RowsWritten} D1 rows`,
  );
  context.results.value(
    "cost:sync",
    `sync push, tasks.create at ${SYNC_RATE}/s`,
    "direct",
    "D1 batches per replication window",
    batchesPerWindow,
    {
      ...Object.fromEntries(COST_FIELDS.map((field) => [field, cost[field] / changes])),
      changes,
      writeSeconds,
      windows,
      windowMs: REPLICATION_WINDOW_MS,
      d1BatchesTotal: cost.d1Batches,
      changesPerBatch: cost.d1Batches === 0 ? null : changes / cost.d1Batches,
    },
  );
}
