import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { Task } from "../../schema";
import { watchWindow } from "../../src/client/live-window";
import type { WindowEvent } from "../../src/protocol/live-events";
import { CHANGE_LOG_MAX_ENTRIES } from "../../src/lib/limits";
import { DEFAULT_ROOM_LIMITS } from "../../src/protocol/room-limits";
import type { FeedEvent } from "../../src/live/feeds";
import { clientFor, closeClients, stockClientFor, tokenFor, uniqueRoom } from "../helpers/clients";
import { recorder } from "../helpers/recorder";
import { RawSocket } from "../helpers/worker-socket";

const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  await closeClients();
});

async function open(room: string, role: "reader" | "writer" | "admin" = "writer", sub = "alice"): Promise<RawSocket> {
  const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, role, sub)}`);
  sockets.push(socket);
  return socket;
}

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

const create = (id: number | string, title: string) => ({
  id,
  method: "mutation",
  params: { path: "tasks.create", input: { json: { title } } },
});

type DataFrame<T> = { id: number | string; result: { type: "data" | "started" | "stopped"; id?: string; data: T } };

/** The tracked events of subscription `id` among a socket's frames. */
function eventsOf<T>(socket: RawSocket, id: number | string): { id: string; data: T }[] {
  return socket.frames
    .filter((frame): frame is DataFrame<{ id: string; data: T }> => {
      const candidate = frame as DataFrame<unknown>;
      return candidate.id === id && candidate.result?.type === "data";
    })
    .map((frame) => frame.result.data);
}

/** Waits until subscription `id` on `socket` has `count` tracked events. */
async function waitForEvents<T>(socket: RawSocket, id: number | string, count: number): Promise<{ id: string; data: T }[]> {
  for (let total = socket.frames.length + 1; eventsOf(socket, id).length < count; total = socket.frames.length + 1) {
    await socket.waitForFrames(total);
  }
  return eventsOf<T>(socket, id);
}

describe("change feeds", () => {
  it("delivers a write by A to B's subscription through the stock client", async () => {
    const room = uniqueRoom();
    const writer = await clientFor(room, "writer", "alice");
    const watcher = await clientFor(room, "reader", "bob");
    const seen = recorder<FeedEvent<Task>>();
    const subscription = watcher.tasks.changes.subscribe(undefined, { onData: (event) => seen.push(event.data) });
    await seen.waitFor(1);
    expect(seen.events[0]).toEqual({ type: "ready", seq: 0 });

    const task = await writer.tasks.create.mutate({ title: "from A" });
    const [, change] = await seen.waitFor(2);
    expect(change).toMatchObject({ type: "change", op: "insert", table: "tasks", id: task.id, seq: task.seq, row: { title: "from A" } });
    subscription.unsubscribe();
  });

  it("replays exactly the changes missed while disconnected, in order", async () => {
    const room = uniqueRoom();
    const first = await open(room);
    first.send({ id: "feed", method: "subscription", params: { path: "tasks.changes" } });
    first.send(create(1, "before"));
    const [, seen] = await waitForEvents<FeedEvent<Task>>(first, "feed", 2);
    const lastEventId = seen!.id;

    await evictDurableObject(stub(room), { webSockets: "close" });
    await first.waitForClose();

    const writer = await open(room);
    writer.send([create(1, "missed one")]);
    await writer.waitForFrames(1);
    writer.send([create(2, "missed two")]);
    await writer.waitForFrames(2);

    const second = await open(room);
    second.send({ id: "feed", method: "subscription", params: { path: "tasks.changes", lastEventId } });
    const replayed = await waitForEvents<FeedEvent<Task>>(second, "feed", 2);
    expect(replayed.map((event) => (event.data.type === "change" ? event.data.row?.title : event.data.type))).toEqual([
      "missed one",
      "missed two",
    ]);
    expect(replayed.map((event) => Number(event.id))).toEqual([Number(lastEventId) + 1, Number(lastEventId) + 2]);

    // Nothing else arrives: the next event is the next write, not a duplicate.
    writer.send(create(3, "live again"));
    const [, , next] = await waitForEvents<FeedEvent<Task>>(second, "feed", 3);
    expect(next).toMatchObject({ id: String(Number(lastEventId) + 3), data: { type: "change", row: { title: "live again" } } });
  });

  it.each([
    ["the room client", clientFor],
    ["the stock client", stockClientFor],
  ])("reconnects %s after the room drops its socket and misses nothing", async (_name, connect) => {
    const room = uniqueRoom();
    const watcher = await connect(room, "reader", "bob");
    const seen = recorder<FeedEvent<Task>>();
    watcher.tasks.changes.subscribe(undefined, { onData: (event) => seen.push(event.data) });
    await seen.waitFor(1);

    await evictDurableObject(stub(room), { webSockets: "close" });
    const writer = await clientFor(room, "writer", "alice");
    await writer.tasks.create.mutate({ title: "one" });
    await writer.tasks.create.mutate({ title: "two" });

    await seen.waitFor(3);
    const titles = seen.events.flatMap((event) => (event.type === "change" ? [event.row?.title] : []));
    expect(titles).toEqual(["one", "two"]);
  });

  it("keeps delivering after the room hibernates and wakes", async () => {
    const room = uniqueRoom();
    const watcher = await open(room, "reader");
    watcher.send({ id: 7, method: "subscription", params: { path: "tasks.changes" } });
    await waitForEvents(watcher, 7, 1);

    await evictDurableObject(stub(room), { webSockets: "hibernate" });

    const writer = await open(room);
    writer.send(create(1, "after waking"));
    const [, event] = await waitForEvents<FeedEvent<Task>>(watcher, 7, 2);
    expect(event!.data).toMatchObject({ type: "change", op: "insert", row: { title: "after waking" } });
    // Resumed silently: no second "started" and no second "ready".
    expect(watcher.frames.filter((frame) => (frame as DataFrame<unknown>).result?.type === "started")).toHaveLength(1);
  });

  it("sends resync when the log no longer reaches back to lastEventId", async () => {
    const room = uniqueRoom();
    // CHANGE_LOG_MAX_ENTRIES + 1,100 writes, 100 per frame: retention trims the oldest.
    // Spread over sockets of one user, each within its request burst (DEFAULT_ROOM_LIMITS).
    const frames = Math.ceil((CHANGE_LOG_MAX_ENTRIES + 1_100) / 100);
    const framesPerSocket = Math.floor(DEFAULT_ROOM_LIMITS.requestBurst / 100);
    const writers = await Promise.all(Array.from({ length: Math.ceil(frames / framesPerSocket) }, () => open(room, "admin")));
    for (let frame = 0; frame < frames; frame += 1) {
      writers[Math.floor(frame / framesPerSocket)]!.send(Array.from({ length: 100 }, (_, index) => create(frame * 100 + index, "bulk")));
    }
    await Promise.all(
      writers.map((writer, index) => writer.waitForFrames(Math.min(framesPerSocket, frames - index * framesPerSocket) * 100, 60_000)),
    );
    for (const writer of writers) expect(writer.frames.every((frame) => !(frame as { error?: unknown }).error)).toBe(true);
    // The log keeps what the D1 replica has not confirmed; once it has, retention applies.
    const writer = writers[0]!;
    writer.send({ id: "sync", method: "mutation", params: { path: "sync.forceSyncAll" } });
    await writer.waitForFrames(framesPerSocket * 100 + 1, 60_000);
    const oldest = await runInDurableObject(
      stub(room),
      (_instance, state) => state.storage.sql.exec<{ seq: number }>("SELECT min(seq) AS seq FROM _changes").one().seq,
    );
    expect(oldest).toBeGreaterThan(1);

    const late = await open(room, "reader");
    late.send({ id: 1, method: "subscription", params: { path: "tasks.changes", lastEventId: "1" } });
    const [resync] = await waitForEvents<FeedEvent<Task>>(late, 1, 1);
    expect(resync!.data).toMatchObject({ type: "resync", seq: frames * 100 });
    expect(resync!.id).toBe(String(frames * 100));
  }, 90_000);

  it("delivers one change to 200 subscribers in one room", async () => {
    const room = uniqueRoom();
    // 200 users (one user may hold at most MAX_SUBSCRIPTIONS_PER_USER subscriptions in a room).
    const watchers = await Promise.all(Array.from({ length: 200 }, (_, i) => open(room, "reader", `watcher-${i}`)));
    for (const watcher of watchers) watcher.send({ id: 1, method: "subscription", params: { path: "tasks.changes" } });
    await Promise.all(watchers.map((watcher) => waitForEvents(watcher, 1, 1)));

    const writer = await open(room);
    writer.send(create(1, "broadcast"));
    const received = await Promise.all(watchers.map((watcher) => waitForEvents<FeedEvent<Task>>(watcher, 1, 2)));
    for (const events of received) expect(events[1]!.data).toMatchObject({ type: "change", row: { title: "broadcast" } });
  }, 60_000);

  it("stops delivery after unsubscribe and releases the subscription", async () => {
    const room = uniqueRoom();
    const watcher = await open(room, "reader");
    watcher.send({ id: "a", method: "subscription", params: { path: "tasks.changes" } });
    watcher.send({ id: "b", method: "subscription", params: { path: "tasks.changes" } });
    await waitForEvents(watcher, "a", 1);
    await waitForEvents(watcher, "b", 1);

    watcher.send({ id: "a", method: "subscription.stop" });
    const writer = await open(room);
    writer.send(create(1, "only b sees this"));
    await waitForEvents(watcher, "b", 2);
    expect(eventsOf(watcher, "a")).toHaveLength(1);
    expect(watcher.frames).toContainEqual({ id: "a", result: { type: "stopped" } });
    const stored = await runInDurableObject(stub(room), (_instance, state) =>
      state.getWebSockets().map((ws) => (ws.deserializeAttachment() as { subs: { id: string }[] }).subs.map((sub) => sub.id)),
    );
    expect(stored).toContainEqual(["b"]);
  });

  it("refuses more subscriptions than a socket may hold", async () => {
    const watcher = await open(uniqueRoom(), "reader");
    for (let id = 0; id < 17; id += 1) watcher.send({ id, method: "subscription", params: { path: "tasks.changes" } });
    await watcher.waitForFrames(16 * 2 + 1);
    expect(watcher.frames).toContainEqual(
      expect.objectContaining({ id: 16, error: expect.objectContaining({ data: expect.objectContaining({ code: "TOO_MANY_REQUESTS" }) }) }),
    );
  });
});

describe("live queries", () => {
  it("sends the window at once and one diff per commit, even for a multi-row write", async () => {
    const room = uniqueRoom();
    const watcher = await open(room, "reader");
    watcher.send({ id: "live", method: "subscription", params: { path: "tasks.live", input: { json: { status: "pending" } } } });
    const [initial] = await waitForEvents<WindowEvent<Task>>(watcher, "live", 1);
    expect(initial!.data).toMatchObject({ type: "snapshot", rows: [] });

    const writer = await open(room);
    writer.send([create(1, "a"), create(2, "b"), create(3, "c")]);
    await writer.waitForFrames(3);
    writer.send({ id: 4, method: "query", params: { path: "tasks.list" } });
    await writer.waitForFrames(4);

    const [, pushed] = await waitForEvents<WindowEvent<Task>>(watcher, "live", 2);
    expect(pushed!.data.type === "diff" && pushed!.data.upserts.map((task) => task.title)).toEqual(["a", "b", "c"]);
    // A query commits nothing: still exactly one push for the three-row frame.
    writer.send(create(5, "d"));
    await waitForEvents(watcher, "live", 3);
    expect(eventsOf(watcher, "live")).toHaveLength(3);
  });

  it("is an ordinary typed subscription on the stock client and survives hibernation without a re-send", async () => {
    const room = uniqueRoom();
    const watcher = await clientFor(room, "reader", "bob");
    const writer = await clientFor(room, "writer", "alice");
    await writer.tasks.create.mutate({ title: "existing" });
    const seen = recorder<readonly Task[]>();
    const window = watchWindow(watcher.tasks.live, { limit: 10 }, { onRows: (rows) => seen.push(rows) });
    const [first] = await seen.waitFor(1);
    expect(first!.map((task) => task.title)).toEqual(["existing"]);
    expect(first![0]!.created_at).toBeInstanceOf(Date);
    expect(window.status).toBe("live");

    await evictDurableObject(stub(room), { webSockets: "hibernate" });
    await writer.tasks.complete.mutate({ id: first![0]!.id });
    const [, second] = await seen.waitFor(2);
    expect(second!.map((task) => task.status)).toEqual(["completed"]);
    expect(seen.events).toHaveLength(2);
    window.unsubscribe();
  });
});

describe("the seed JSON protocol", () => {
  type SeedFrame = Record<string, unknown>;
  const rawFrames = (socket: RawSocket) => socket.raw.map((text) => JSON.parse(text as string) as SeedFrame);

  async function seedFrames(socket: RawSocket, count: number): Promise<SeedFrame[]> {
    await socket.waitForFrames(count);
    return rawFrames(socket);
  }

  it("answers rpc, ping and errors on the same socket as tRPC", async () => {
    const socket = await open(uniqueRoom());
    socket.send({ action: "rpc", method: "createTask", payload: { title: "seed task" }, requestId: "r1" });
    socket.send({ action: "ping" });
    socket.send({ action: "rpc", method: "launchRockets", requestId: 2 });
    socket.send({ action: "rpc", method: "createTask", payload: { title: 42 }, requestId: "r3" });
    socket.send({ action: "rpc", method: "listTasks" });
    socket.send(create(99, "tRPC on the same socket"));
    const frames = await seedFrames(socket, 6);
    expect(frames[0]).toMatchObject({
      type: "rpc_result",
      method: "createTask",
      requestId: "r1",
      data: { title: "seed task", status: "pending" },
    });
    expect(typeof (frames[0]!["data"] as { created_at: unknown }).created_at).toBe("string");
    expect(frames[1]).toEqual({ type: "pong" });
    expect(frames[2]).toMatchObject({ type: "rpc_error", method: "launchRockets", requestId: 2, error: { code: "UNKNOWN_METHOD" } });
    expect(frames[3]).toMatchObject({ type: "rpc_error", requestId: "r3", error: { code: "BAD_REQUEST", field: "title" } });
    expect(frames[4]).toMatchObject({
      type: "rpc_result",
      method: "listTasks",
      requestId: null,
      data: { items: [{ title: "seed task" }] },
    });
    expect(frames[5]).toMatchObject({ id: 99, result: { type: "data" } });
  });

  it("applies the same roles as tRPC", async () => {
    const socket = await open(uniqueRoom(), "reader");
    socket.send({ action: "rpc", method: "createTask", payload: { title: "nope" }, requestId: 1 });
    const [denied] = await seedFrames(socket, 1);
    expect(denied).toMatchObject({ type: "rpc_error", requestId: 1, error: { code: "FORBIDDEN" } });
  });

  it("pushes added, modified and deleted events to table subscribers, also after hibernation", async () => {
    const room = uniqueRoom();
    const watcher = await open(room, "reader");
    watcher.send({ action: "subscribe", table: "tasks", requestId: "sub" });
    const [subscribed] = await seedFrames(watcher, 1);
    expect(subscribed).toEqual({ type: "subscribed", table: "tasks", seq: 0, requestId: "sub" });

    const writer = await open(room);
    writer.send({ action: "rpc", method: "createTask", payload: { title: "watch me" } });
    const [created] = (await seedFrames(writer, 1)) as [{ data: { id: number } }];
    await evictDurableObject(stub(room), { webSockets: "hibernate" });
    writer.send({ action: "rpc", method: "updateTask", payload: { id: created.data.id, title: "renamed" } });
    writer.send({ action: "rpc", method: "deleteTask", payload: { id: created.data.id } });

    const frames = (await seedFrames(watcher, 4)).slice(1);
    expect(frames).toEqual([
      expect.objectContaining({
        event: "update",
        table: "tasks",
        action: "added",
        seq: 1,
        row: expect.objectContaining({ title: "watch me" }),
      }),
      expect.objectContaining({
        event: "update",
        table: "tasks",
        action: "modified",
        seq: 2,
        row: expect.objectContaining({ title: "renamed" }),
      }),
      { event: "update", table: "tasks", action: "deleted", seq: 3, row: { id: created.data.id } },
    ]);

    watcher.send({ action: "unsubscribe", table: "tasks" });
    await seedFrames(watcher, 5);
    writer.send({ action: "rpc", method: "createTask", payload: { title: "unseen" } });
    await seedFrames(writer, 4);
    writer.send({ action: "ping" });
    await seedFrames(writer, 5);
    expect(rawFrames(watcher)).toHaveLength(5);
    expect(rawFrames(watcher)[4]).toEqual({ type: "unsubscribed", table: "tasks", requestId: null });
  });

  it("refuses unknown actions and tables with clear errors", async () => {
    const socket = await open(uniqueRoom());
    socket.send({ action: "explode" });
    socket.send({ action: "subscribe", table: "secrets", requestId: 5 });
    socket.send({ action: "rpc" });
    const frames = await seedFrames(socket, 3);
    expect(frames[0]).toMatchObject({ type: "error", error: { code: "UNKNOWN_ACTION" } });
    expect(frames[1]).toMatchObject({ type: "rpc_error", requestId: 5, error: { code: "NOT_FOUND", field: "table" } });
    expect(frames[2]).toMatchObject({ type: "error", error: { code: "BAD_REQUEST", field: "method" } });
  });
});
