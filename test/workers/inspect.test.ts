/**
 * The room inspector and its meter through the real runtime: rows written
 * counted exactly as SQLite reports them, counters that survive eviction,
 * calls per procedure, messages, `admin.inspect` for admins only (tRPC and
 * `GET /rooms/<room>/inspect`), and why a room is awake.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import superjson from "superjson";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PRICES } from "../../src/lib/pricing";
import type { RoomInspection } from "../../src/protocol/inspection";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  await closeClients();
});

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

async function inspect(room: string): Promise<RoomInspection> {
  return (await clientFor(room, "admin", "operator")).admin.inspect.query();
}

async function open(room: string, role: "reader" | "writer" | "admin" = "writer", sub = "alice"): Promise<RawSocket> {
  const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, role, sub)}`);
  sockets.push(socket);
  return socket;
}

const createFrame = (id: number, title: string) => ({
  id,
  method: "mutation",
  params: { path: "tasks.create", input: superjson.serialize({ title }) },
});

describe("the meter", () => {
  it("counts the SQLite rows a create writes exactly as SQLite reports them", async () => {
    // What one task insert writes, as SQLite's cursor reports it (the row, its indexes, the change log, the quota usage).
    const probe = uniqueRoom("probe");
    await inspect(probe);
    const perCreate = await runInDurableObject(stub(probe), (_instance, state) => {
      const cursor = state.storage.sql.exec(
        "INSERT INTO tasks (title, description, status, priority, assignee, position, created_by, created_at, updated_at, completed_at) VALUES ('x', '', 'pending', 0, NULL, 0, 'alice', 1, 1, NULL) RETURNING *",
      );
      cursor.toArray();
      return cursor.rowsWritten;
    });
    expect(perCreate).toBeGreaterThanOrEqual(4);

    // Ten creates in one frame between two inspections. The replica push (its own rows) waits for its
    // 100 ms window; a run where it slipped in between is repeated in a fresh room.
    let room = "";
    let before!: RoomInspection;
    let after!: RoomInspection;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      room = uniqueRoom("meter");
      const admin = await clientFor(room, "admin", "operator");
      const writer = await open(room);
      before = await admin.admin.inspect.query();
      writer.send(Array.from({ length: 10 }, (_, i) => createFrame(i + 1, `task ${i}`)));
      await writer.waitForFrames(10);
      after = await admin.admin.inspect.query();
      if (after.sync.replicatedSeq === before.sync.replicatedSeq) break;
    }
    expect(after.sync.replicatedSeq).toBe(before.sync.replicatedSeq);
    expect(after.meter.total.sqlRowsWritten - before.meter.total.sqlRowsWritten).toBe(10 * perCreate);
    expect(after.meter.byProcedure["tasks.create"]).toEqual({ calls: 10, errors: 0 });
    // In: the writer's frame and the second inspection's own frame; out: ten answers and the first inspection's answer.
    expect(after.meter.total.wsMessagesIn - before.meter.total.wsMessagesIn).toBe(2);
    expect(after.meter.total.wsMessagesOut - before.meter.total.wsMessagesOut).toBe(11);
    expect(after.tables).toContainEqual(expect.objectContaining({ name: "tasks", rows: 10 }));
    expect(after.changeLog).toMatchObject({ head: 10, entries: 10 });
  });

  it("counts refused calls as errors, per procedure", async () => {
    const room = uniqueRoom("errors");
    const reader = await clientFor(room, "reader", "bob");
    await expect(reader.tasks.create.mutate({ title: "not allowed" })).rejects.toThrow();
    await expect(reader.tasks.get.query({ id: 999 })).rejects.toThrow();
    const seen = await inspect(room);
    expect(seen.meter.byProcedure["tasks.create"]).toEqual({ calls: 1, errors: 1 });
    expect(seen.meter.byProcedure["tasks.get"]).toEqual({ calls: 1, errors: 1 });
  });

  it("keeps its counts through eviction: the alarm writes them, a new instance reads them and counts its wake-up", async () => {
    const room = uniqueRoom("durable");
    const client = await clientFor(room, "writer", "alice");
    for (let i = 0; i < 5; i += 1) await client.tasks.create.mutate({ title: `t${i}` });
    const before = await inspect(room);
    // The alarm lands the waiting counts (a quiet room's meter write).
    await runDurableObjectAlarm(stub(room));
    await evictDurableObject(stub(room), { webSockets: "close" });
    const after = await inspect(room);
    expect(after.meter.total.wakeUps).toBe(before.meter.total.wakeUps + 1);
    expect(after.meter.byProcedure["tasks.create"]).toEqual({ calls: 5, errors: 0 });
    expect(after.meter.total.sqlRowsWritten).toBeGreaterThanOrEqual(before.meter.total.sqlRowsWritten);
    expect(after.meter.lastHour.requests).toBeGreaterThanOrEqual(5);
    expect(after.meter.total.alarms).toBeGreaterThanOrEqual(1);
  });
});

describe("admin.inspect", () => {
  it("is for admins only", async () => {
    const room = uniqueRoom("admins");
    const writer = await clientFor(room, "writer", "alice");
    await expect(writer.admin.inspect.query()).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
  });

  it("shows connections by user and subscriptions by procedure, and why the room is awake", async () => {
    const room = uniqueRoom("awake");
    const watcher = await open(room, "reader", "bob");
    watcher.send({ id: "c", method: "subscription", params: { path: "tasks.changes" } });
    watcher.send({ id: "l", method: "subscription", params: { path: "tasks.live", input: { json: {} } } });
    await watcher.waitForFrames(4);
    const client = await clientFor(room, "writer", "alice");
    await client.debounced.update.mutate({ key: "slider", value: 1 });
    const seen = await inspect(room);
    expect(seen.connections.users).toContainEqual({ sub: "bob", role: "reader", sockets: 1, subscriptions: 2 });
    expect(seen.connections.subscriptionsByProcedure).toMatchObject({ "tasks.changes": 1, "tasks.live": 1 });
    expect(seen.debounced.pendingKeys).toBe(1);
    expect(seen.awake.reasons.join("\n")).toContain("1 debounced value(s) waiting to be written");
    await client.debounced.flush.mutate({});
    const flushed = await inspect(room);
    expect(flushed.awake.reasons.join("\n")).not.toContain("debounced");
  });

  it("answers GET /rooms/<room>/inspect with an admin token as plain JSON, and refuses others", async () => {
    const room = uniqueRoom("http");
    await (await clientFor(room, "writer", "alice")).tasks.create.mutate({ title: "seen over HTTP" });
    const url = `http://example.com/rooms/${room}/inspect`;
    const answer = await SELF.fetch(url, { headers: { authorization: `Bearer ${await tokenFor(room, "admin", "operator")}` } });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as RoomInspection;
    expect(body).toMatchObject({ room, tables: [expect.objectContaining({ name: "tasks", rows: 1 })] });
    expect(body.meter.byProcedure["tasks.create"]).toEqual({ calls: 1, errors: 0 });
    // Priced at the dated unit prices: the rows written so far cost something, the projection has a basis.
    expect(body.cost).toMatchObject({ currency: "USD", asOf: DEFAULT_PRICES.asOf, basis: "since start, scaled to a day" });
    expect(body.cost.soFar.items.find((item) => item.item === "sqliteRowsWritten")?.quantity).toBe(body.meter.total.sqlRowsWritten);
    expect(body.cost.perMonth.usd).toBeGreaterThan(0);
    const refused = await SELF.fetch(url, { headers: { authorization: `Bearer ${await tokenFor(room, "writer", "alice")}` } });
    expect(refused.status).toBe(403);
    expect((await SELF.fetch(url)).status).toBe(401);
  });
});
