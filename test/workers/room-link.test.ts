import { createTRPCClient } from "@trpc/client";
import superjson from "superjson";
import { describe, expect, it } from "vitest";
import type { AppRouter } from "../../src/app";
import { RoomConnection, roomLink } from "../../src/client/room-link";

/** A socket that records what the link sends; the test plays the room. */
class RecordingSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static last: RecordingSocket | null = null;
  readyState = 0;
  binaryType = "blob";
  readonly sent: unknown[] = [];
  constructor(readonly url: string) {
    super();
    RecordingSocket.last = this;
    queueMicrotask(() => {
      this.readyState = 1;
      this.dispatchEvent(new Event("open"));
    });
  }
  send(data: string): void {
    this.sent.push(data === "PING" ? data : JSON.parse(data));
  }
  close(code = 1000): void {
    this.readyState = 3;
    this.dispatchEvent(new CloseEvent("close", { code }));
  }
  reply(message: unknown): void {
    this.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(message) }));
  }
}

async function connected() {
  const connection = new RoomConnection({ url: "ws://room.test/rooms/r/ws", WebSocket: RecordingSocket as unknown as typeof WebSocket });
  const client = createTRPCClient<AppRouter>({ links: [roomLink(connection)] });
  await new Promise((resolve) => setTimeout(resolve, 10));
  const socket = RecordingSocket.last!;
  expect(socket.readyState).toBe(1);
  return { connection, client, socket };
}

const data = (id: number, value: unknown) => ({ id, result: { type: "data", data: superjson.serialize(value) } });

describe("the room client's link", () => {
  it("sends a lone request in the same tick, with no timer", async () => {
    const { connection, client, socket } = await connected();
    const answer = client.tasks.get.query({ id: 1 });
    expect(socket.sent).toEqual([{ id: 1, method: "query", params: { path: "tasks.get", input: superjson.serialize({ id: 1 }) } }]);
    socket.reply(data(1, { id: 1, title: "t", created_at: new Date(5) }));
    expect(await answer).toEqual({ id: 1, title: "t", created_at: new Date(5) });
    connection.close();
  });

  it("sends more than 100 queued requests in frames of at most 100", async () => {
    const { connection, client, socket } = await connected();
    const calls = Array.from({ length: 151 }, (_, index) => client.tasks.get.query({ id: index + 1 }));
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(socket.sent.map((frame) => (Array.isArray(frame) ? frame.length : 1))).toEqual([1, 100, 50]);
    for (let id = 1; id <= 151; id += 1) socket.reply(data(id, { id }));
    expect(await Promise.all(calls)).toHaveLength(151);
    connection.close();
  });

  it("queues requests made while a call is in flight and sends them as one frame when its answer arrives", async () => {
    const { connection, client, socket } = await connected();
    const calls = [1, 2, 3, 4].map((id) => client.tasks.get.query({ id }));
    await Promise.resolve();
    expect(socket.sent).toHaveLength(1);
    expect((socket.sent[0] as { id: number }).id).toBe(1);
    socket.reply(data(1, { id: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(socket.sent).toHaveLength(2);
    expect((socket.sent[1] as { id: number }[]).map((message) => message.id)).toEqual([2, 3, 4]);
    for (const id of [2, 3, 4]) socket.reply(data(id, { id }));
    expect(await Promise.all(calls)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
    connection.close();
  });

  it("does not let a slow call hold queued requests back for more than a moment", async () => {
    const { connection, client, socket } = await connected();
    const slow = client.tasks.list.query();
    const next = client.tasks.get.query({ id: 9 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(socket.sent).toHaveLength(2); // sent by the 10 ms timer, without waiting for the slow answer
    socket.reply(data(2, { id: 9 }));
    expect(await next).toEqual({ id: 9 });
    socket.reply(data(1, { items: [], nextCursor: null }));
    await slow;
    connection.close();
  });

  it("rejects an in-flight call when the socket drops, and resumes subscriptions with their last event id", async () => {
    const { connection, client, socket } = await connected();
    const seen: unknown[] = [];
    client.tasks.changes.subscribe(undefined, { onData: (event) => seen.push(event) });
    socket.reply({ id: 1, result: { type: "started" } });
    socket.reply({ id: 1, result: { type: "data", id: "41", data: superjson.serialize({ id: "41", data: { type: "ready", seq: 41 } }) } });
    const lost = client.tasks.create.mutate({ title: "in flight" });
    socket.close(1006);
    await expect(lost).rejects.toThrow(/WebSocket closed/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const resumed = RecordingSocket.last!;
    expect(resumed).not.toBe(socket);
    expect(resumed.sent).toContainEqual(
      expect.objectContaining({
        id: 1,
        method: "subscription",
        params: expect.objectContaining({ path: "tasks.changes", lastEventId: "41" }),
      }),
    );
    expect(seen).toEqual([{ id: "41", data: { type: "ready", seq: 41 } }]);
    connection.close();
  });
});
