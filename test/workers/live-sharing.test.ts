/**
 * Identical live queries (same procedure, same input) share one evaluation and
 * one encoded frame per commit, whoever subscribes; different inputs are
 * evaluated apart, one at a time. A live query never sees who is calling, so a
 * shared result cannot carry one caller's view to another. The whole-result
 * live query here is the task board's `tasks.stats` (liveProcedure); the live
 * window `tasks.live` sends diffs (live-window.test.ts) and is the subject of
 * the hardening report's scenario below.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Task } from "../../schema";
import { TaskStore, type TaskStats } from "../../src/app/task-store";
import type { WindowEvent } from "../../src/protocol/live-events";
import { DEFAULT_ROOM_LIMITS } from "../../src/protocol/room-limits";
import { MAX_PUSH_BYTES } from "../../src/protocol/wire-limits";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { recorder } from "../helpers/recorder";
import { eventsOf, waitForEvents } from "../helpers/socket-events";
import { RawSocket } from "../helpers/worker-socket";

const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  await closeClients();
  vi.restoreAllMocks();
});

describe("live queries with the same input", () => {
  it("are evaluated once per commit for all their subscribers, and sent the same frame", async () => {
    const room = uniqueRoom("shared");
    const users = ["ann", "bob", "cid", "dee", "eve"];
    const same = await Promise.all(
      users.map(async (sub) => {
        const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader", sub)}`);
        sockets.push(socket);
        socket.send({ id: "live", method: "subscription", params: { path: "tasks.stats", input: { json: {} } } });
        await waitForEvents<TaskStats>(socket, "live", 1);
        return socket;
      }),
    );
    const other = await clientFor(room, "reader", "fay");
    const narrower = recorder<TaskStats>();
    other.tasks.stats.subscribe({ assignee: "fay" }, { onData: (event) => narrower.push(event.data) });
    await narrower.waitFor(1);

    const evaluations = vi.spyOn(TaskStore.prototype, "stats");
    const writer = await clientFor(room, "writer", "gus");
    await writer.tasks.create.mutate({ title: "shared" });
    await Promise.all(same.map((socket) => waitForEvents<TaskStats>(socket, "live", 2)));
    await narrower.waitFor(2);

    // Two distinct inputs → two evaluations, not six.
    expect(evaluations).toHaveBeenCalledTimes(2);
    const pushed = same.map((socket) => socket.raw.at(-1));
    expect(new Set(pushed).size).toBe(1);
    for (const socket of same)
      expect(eventsOf<TaskStats>(socket, "live").at(-1)!.data).toMatchObject({ total: 1, byStatus: { pending: 1 } });
    expect(narrower.events.at(-1)).toMatchObject({ total: 0 });
  });
});

describe("first results", () => {
  it("are shared by subscribers that start the same query together, while any of them holds it", async () => {
    const room = uniqueRoom("first");
    const writer = await clientFor(room, "writer", "gus");
    await writer.tasks.create.mutate({ title: "already there" });
    const evaluations = vi.spyOn(TaskStore.prototype, "stats");
    // 16 subscriptions of one query in one frame, on each of 4 sockets of different users.
    const fleet = await Promise.all(
      ["ann", "bob", "cid", "dee"].map(async (sub) => {
        const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader", sub)}`);
        sockets.push(socket);
        return socket;
      }),
    );
    for (const socket of fleet) {
      socket.send(
        Array.from({ length: 16 }, (_, index) => ({
          id: `live-${index}`,
          method: "subscription",
          params: { path: "tasks.stats", input: { json: {} } },
        })),
      );
    }
    await Promise.all(
      fleet.flatMap((socket) => Array.from({ length: 16 }, (_, index) => waitForEvents<TaskStats>(socket, `live-${index}`, 1))),
    );
    // 64 subscribers, one evaluation (a weakly held result may be made again only once nobody holds it).
    expect(evaluations.mock.calls.length).toBeLessThanOrEqual(2);
    for (const socket of fleet) expect(eventsOf<TaskStats>(socket, "live-15")[0]!.data).toMatchObject({ total: 1 });
  });
});

describe("live queries with different inputs", () => {
  it("are made and sent one at a time, so a commit holds one result in memory, not one per subscriber", async () => {
    const room = uniqueRoom("lane");
    const writer = await clientFor(room, "writer", "gus");
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => writer.tasks.create.mutate({ title: `task ${i}`, assignee: `reader-${i % 8}-0` })),
    );
    const sockets16 = await Promise.all(
      Array.from({ length: 8 }, async (_, s) => {
        const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader", `reader-${s}`)}`);
        sockets.push(socket);
        socket.send(
          Array.from({ length: 16 }, (_, k) => ({
            id: `live-${k}`,
            method: "subscription",
            params: { path: "tasks.stats", input: { json: { assignee: `reader-${s}-${k}` } } },
          })),
        );
        for (let k = 0; k < 16; k++) await waitForEvents<TaskStats>(socket, `live-${k}`, 1);
        return socket;
      }),
    );

    // The order of evaluations and live pushes inside the room, for the next commit.
    const order: string[] = [];
    vi.spyOn(TaskStore.prototype, "stats").mockImplementation(function (this: TaskStore, ...args) {
      order.push("evaluate");
      return statsOriginal.apply(this, args);
    });
    const send = WebSocket.prototype.send;
    vi.spyOn(WebSocket.prototype, "send").mockImplementation(function (this: WebSocket, data) {
      if (typeof data === "string" && data.startsWith('{"id":"live-')) order.push("push");
      return send.call(this, data);
    });
    const task = await writer.tasks.create.mutate({ title: "one more" });
    expect(task.title).toBe("one more");
    await Promise.all(sockets16.map((socket) => Promise.all(Array.from({ length: 16 }, (_, k) => waitForEvents(socket, `live-${k}`, 2)))));

    expect(order.filter((step) => step === "evaluate")).toHaveLength(128);
    // Never a second result made before the first is sent.
    expect(order.join(",")).toBe(Array.from({ length: 128 }, () => "evaluate,push").join(","));
  });
});

describe("the hardening report's scenario (finding 1)", () => {
  it("one reader token, 32 sockets × 16 tasks.live {limit: 500} over 500 rows of 2.4 KB: 64 start, the rest are refused, and a write is answered and pushed to all 64", async () => {
    const room = uniqueRoom("finding-1");
    const writer = await clientFor(room, "writer", "gus");
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => writer.tasks.create.mutate({ title: `task ${round}-${i}`, description: "x".repeat(2_300) })),
      );
    }
    const token = await tokenFor(room, "reader", "one-reader");
    const fleet: RawSocket[] = [];
    for (let s = 0; s < 32; s++) {
      const socket = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
      sockets.push(socket);
      fleet.push(socket);
      socket.send(
        Array.from({ length: 16 }, (_, k) => ({
          id: `live-${k}`,
          method: "subscription",
          params: { path: "tasks.live", input: { json: { limit: 500 } } },
        })),
      );
      // Every request of the frame is answered: started (then its first result) or refused.
      await socket.waitForFrames(16, 20_000);
    }
    const started = (socket: RawSocket) =>
      Array.from({ length: 16 }, (_, k) => `live-${k}`).filter((id) =>
        socket.frames.some(
          (frame) =>
            (frame as { id?: string; result?: { type?: string } }).id === id &&
            (frame as { result?: { type?: string } }).result?.type === "started",
        ),
      );
    const refusals = fleet.flatMap(
      (socket) =>
        socket.frames.filter((frame) => (frame as { error?: unknown }).error !== undefined) as { error: { data: { code: string } } }[],
    );
    expect(fleet.reduce((sum, socket) => sum + started(socket).length, 0)).toBe(DEFAULT_ROOM_LIMITS.subscriptionsPerUser);
    expect(refusals).toHaveLength(32 * 16 - DEFAULT_ROOM_LIMITS.subscriptionsPerUser);
    for (const refusal of refusals) expect(refusal.error.data.code).toBe("TOO_MANY_REQUESTS");
    const holders = fleet.filter((socket) => started(socket).length > 0);
    await Promise.all(holders.map((socket) => Promise.all(started(socket).map((id) => waitForEvents(socket, id, 1)))));

    // The room stays up and answers the write; every subscription gets it, as a diff of the one row.
    const [first] = await writer.tasks.list.query({ limit: 1 }).then((page) => page.items);
    const updated = await writer.tasks.update.mutate({ id: first!.id, title: "changed by the write" });
    expect(updated.title).toBe("changed by the write");
    await Promise.all(holders.map((socket) => Promise.all(started(socket).map((id) => waitForEvents(socket, id, 2)))));
    for (const socket of holders)
      for (const id of started(socket)) {
        const last = eventsOf<WindowEvent<Task>>(socket, id).at(-1)!.data;
        expect(last).toMatchObject({ type: "diff", upserts: [{ id: first!.id, title: "changed by the write" }], removes: [] });
      }
  }, 90_000);
});

describe("a live query whose result outgrows one push", () => {
  it("ends with PAYLOAD_TOO_LARGE naming the limit, and a narrower input works", async () => {
    const room = uniqueRoom("big");
    const writer = await clientFor(room, "writer", "gus");
    // 460 rows of ~10 KB: about 4.6 MB as one result, over MAX_PUSH_BYTES (4 MiB).
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 46 }, (_, i) => writer.tasks.create.mutate({ title: `t${round}-${i}`, description: "y".repeat(9_990) })),
      );
    }
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader", "bob")}`);
    sockets.push(socket);
    socket.send({ id: "all", method: "subscription", params: { path: "tasks.live", input: { json: { limit: 500 } } } });
    socket.send({ id: "some", method: "subscription", params: { path: "tasks.live", input: { json: { limit: 50 } } } });
    await socket.waitForFrames(4);
    const refused = socket.frames.find(
      (frame) => (frame as { id?: string; error?: unknown }).id === "all" && "error" in (frame as object),
    ) as { error: { message: string; data: { code: string } } } | undefined;
    expect(refused?.error.data.code).toBe("PAYLOAD_TOO_LARGE");
    expect(refused?.error.message).toContain(`over the ${MAX_PUSH_BYTES}-byte limit per push`);
    const some = eventsOf<WindowEvent<Task>>(socket, "some")[0]!.data;
    expect(some.type === "snapshot" && some.rows).toHaveLength(50);
  });
});

const statsOriginal = TaskStore.prototype.stats;
