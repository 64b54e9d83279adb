/**
 * The D1 replica seen from tests: a table's rows in the room and in the
 * replica (raw SQL values, so any app's tables compare), waiting until the
 * replica has confirmed everything the room committed, and a D1 outage that
 * reaches the room's own binding (same isolate) until it is lifted.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { vi } from "vitest";
import type { SyncStatus } from "../../src/sync/sync-engine";
import { clientFor } from "./clients";

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

/** The room's rows of `table`, raw, in id order. */
export function roomRows(room: string, table: string): Promise<Record<string, unknown>[]> {
  return runInDurableObject(stub(room), (_instance, state) =>
    state.storage.sql
      .exec(`SELECT * FROM "${table}" ORDER BY id`)
      .toArray()
      .map((row) => ({ ...row })),
  );
}

/** The replica's rows of `table` for one room, raw, without room_id and _seq, in id order. */
export async function replicaRows(room: string, table: string): Promise<Record<string, unknown>[]> {
  const { results } = await env.DB.prepare(`SELECT * FROM "${table}" WHERE room_id = ? ORDER BY id`)
    .bind(room)
    .all<Record<string, unknown>>();
  return results.map(({ room_id: _room, _seq: _rowSeq, ...row }) => row);
}

/** Waits until the replica has confirmed everything the room committed (polls `sync.status`). */
export async function untilReplicated(room: string, timeoutMs = 10_000): Promise<SyncStatus> {
  const client = await clientFor(room, "reader", "observer");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await client.sync.status.query();
    if (current.replicatedSeq === current.roomSeq && !current.fullResyncPending) return current;
    if (Date.now() > deadline) throw new Error(`not replicated: ${JSON.stringify(current)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Makes every D1 batch fail (sync pushes fail; reads still work) until `lift()`, which also retries the push at once. */
export function d1Outage(room: string) {
  const batch = vi.spyOn(Object.getPrototypeOf(env.DB) as D1Database, "batch").mockRejectedValue(new Error("D1 is unavailable"));
  return {
    lift: async () => {
      batch.mockRestore();
      await runInDurableObject(stub(room), (_instance, state) => state.storage.setAlarm(Date.now()));
    },
  };
}
