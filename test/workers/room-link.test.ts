import { createTRPCClient } from "@trpc/client";
import superjson from "superjson";
import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { AppRouter } from "../../src/app";
import {
  closeRoomClient,
  createRoomClient,
  reconnectRoomClient,
  roomConnectionState,
  watchRoomConnection,
  type RoomClient,
  type RoomConnectionState,
} from "../../src/client";
import { RoomConnection, roomLink } from "../../src/client/room-link";
import { tokenFor, uniqueRoom } from "../helpers/clients";
import { WorkerWebSocket } from "../helpers/worker-socket";

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
  constructor(
    readonly url: string,
    opens = true,
  ) {
    super();
    if (!opens) return;
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

  it("keeps an in-flight call across a dropped socket, and resumes subscriptions with their last event id", async () => {
    const { connection, client, socket } = await connected();
    const seen: unknown[] = [];
    client.tasks.changes.subscribe(undefined, { onData: (event) => seen.push(event) });
    socket.reply({ id: 1, result: { type: "started" } });
    socket.reply({ id: 1, result: { type: "data", id: "41", data: superjson.serialize({ id: "41", data: { type: "ready", seq: 41 } }) } });
    const lost = client.tasks.get.query({ id: 3 });
    socket.close(1006);
    const resumed = await nextSocket(socket);
    expect(frames(resumed)).toContainEqual(
      expect.objectContaining({
        id: 1,
        method: "subscription",
        params: expect.objectContaining({ path: "tasks.changes", lastEventId: "41" }),
      }),
    );
    resumed.reply(data(2, { id: 3 }));
    expect(await lost).toEqual({ id: 3 });
    expect(seen).toEqual([{ id: "41", data: { type: "ready", seq: 41 } }]);
    connection.close();
  });

  it("gives every mutation its own mutation id: a per-client random id and a counter", async () => {
    const { connection, client, socket } = await connected();
    const first = client.tasks.create.mutate({ title: "a" });
    const query = client.tasks.get.query({ id: 1 });
    const second = client.tasks.create.mutate({ title: "b" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const requests = frames(socket);
    expect(requests.map((request) => request.params.mutationId === undefined)).toEqual([false, true, false]);
    const [one, , two] = requests.map((request) => request.params.mutationId);
    expect(one).toMatch(/^[0-9a-f-]{36}:1$/);
    expect(two).toBe(`${one!.split(":")[0]}:2`);
    expect(one!.length).toBeLessThanOrEqual(128);
    const other = await connected();
    void other.client.tasks.create.mutate({ title: "c" }).catch(() => {});
    expect(frames(other.socket)[0]!.params.mutationId).not.toBe(one);
    other.connection.close();
    for (const id of [1, 2, 3]) socket.reply(data(id, { id }));
    await Promise.all([first, query, second]);
    connection.close();
  });

  it("re-sends unanswered mutations after a reconnect with the same ids, in call order, and resolves each once", async () => {
    const { connection, client, socket } = await connected();
    const calls = ["a", "b", "c"].map((title) => client.tasks.create.mutate({ title }));
    await Promise.resolve();
    const before = frames(socket); // the first went out at once; the others were queued behind it
    socket.close(1006);
    const resumed = await nextSocket(socket);
    const after = frames(resumed);
    expect(after.map((request) => [request.id, request.params.path, request.params.input])).toEqual(
      ["a", "b", "c"].map((title, index) => [index + 1, "tasks.create", superjson.serialize({ title })]),
    );
    expect(after[0]!.params.mutationId).toBe(before[0]!.params.mutationId);
    expect(new Set(after.map((request) => request.params.mutationId)).size).toBe(3);
    for (const id of [1, 2, 3]) resumed.reply(data(id, { id }));
    resumed.reply(data(1, { id: "late duplicate" }));
    expect(await Promise.all(calls)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    connection.close();
  });

  it("rejects pending calls when the client is closed, saying a mutation's outcome is unknown and naming its id", async () => {
    const { connection, client, socket } = await connected();
    const mutation = client.tasks.create.mutate({ title: "never answered" });
    const query = client.tasks.get.query({ id: 1 });
    const mutationId = frames(socket)[0]!.params.mutationId!;
    connection.close();
    await expect(mutation).rejects.toThrow(
      `the room client was closed; this mutation may or may not have been applied (mutation id ${mutationId})`,
    );
    await expect(query).rejects.toThrow("the room client was closed; the query was not answered");
  });

  it("fails a call with an outcome-unknown error once the retry window runs out while disconnected", async () => {
    UnreachableSocket.opened = 0;
    const connection = new RoomConnection({
      url: "ws://room.test/rooms/r/ws",
      WebSocket: UnreachableSocket as unknown as typeof WebSocket,
      retryWindowMs: 300,
    });
    const client = createTRPCClient<AppRouter>({ links: [roomLink(connection)] });
    const startedAt = Date.now();
    await expect(client.tasks.create.mutate({ title: "lost" })).rejects.toThrow(
      /^the connection was lost and not restored within 0\.3 s \(last: WebSocket closed \(code 1006\)\); this mutation may or may not have been applied \(mutation id [0-9a-f-]{36}:1\)$/,
    );
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    expect(UnreachableSocket.opened).toBeGreaterThan(0);
    connection.close();
  });
});

/** A socket that never opens: every connect attempt closes with 1006. */
class UnreachableSocket extends RecordingSocket {
  static opened = 0;
  constructor(url: string) {
    super(url, false);
    UnreachableSocket.opened += 1;
    queueMicrotask(() => this.close(1006));
  }
}

type Request = { id: number; method: string; params: { path: string; input: unknown; mutationId?: string } };

/** The requests a socket sent (batched frames flattened), in order. */
function frames(socket: RecordingSocket): Request[] {
  return socket.sent.filter((frame) => frame !== "PING").flat() as Request[];
}

/** Waits for the link to open a new socket after `previous` closed. */
async function nextSocket(previous: RecordingSocket): Promise<RecordingSocket> {
  for (let waited = 0; RecordingSocket.last === previous || RecordingSocket.last!.readyState !== 1; waited += 10) {
    if (waited > 2_000) throw new Error("no new socket");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return RecordingSocket.last!;
}

/** A real socket to the Worker under test that records the requests the client sends. */
class SentRecordingSocket extends WorkerWebSocket {
  static sent: Request[] = [];
  override send(data: string): void {
    if (data !== "PING")
      SentRecordingSocket.sent.push(
        ...(([JSON.parse(data)] as unknown[]).flat().filter((frame) => (frame as Request).params?.path !== undefined) as Request[]),
      );
    super.send(data);
  }
}

/** Records like SentRecordingSocket, and loses the first answer to a `tasks.create`: it drops that answer and closes. */
class AnswerLosingSocket extends SentRecordingSocket {
  static lost = false;
  override dispatchEvent(event: Event): boolean {
    if (event.type === "message" && !AnswerLosingSocket.lost && typeof (event as MessageEvent).data === "string") {
      const answers = [JSON.parse((event as MessageEvent).data as string) as unknown].flat() as { id?: number }[];
      const creates = new Set(
        SentRecordingSocket.sent.filter((request) => request.params.path === "tasks.create").map((request) => request.id),
      );
      if (answers.some((answer) => answer.id !== undefined && creates.has(answer.id))) {
        AnswerLosingSocket.lost = true;
        this.close(3000, "answer lost");
        return true;
      }
    }
    return super.dispatchEvent(event);
  }
}

describe("createRoomClient in the real runtime", () => {
  const made: RoomClient<AppRouter>[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((client) => closeRoomClient(client)));
    SentRecordingSocket.sent = [];
  });

  async function recordedClient(room: string, extra: { token?: string; retryWindowMs?: number } = {}): Promise<RoomClient<AppRouter>> {
    const client = createRoomClient<AppRouter>({
      url: "http://example.com",
      room,
      token: extra.token ?? (await tokenFor(room)),
      WebSocket: SentRecordingSocket as unknown as typeof WebSocket,
      fetch: (input, init) => SELF.fetch(input, init),
      ...(extra.retryWindowMs === undefined ? {} : { retryWindowMs: extra.retryWindowMs }),
    });
    made.push(client);
    return client;
  }

  it("reports its connection state: connecting, live, reconnecting after a drop, live again, closed", async () => {
    const room = uniqueRoom();
    const client = await recordedClient(room);
    expect(roomConnectionState(client)).toEqual({ status: "connecting", reconnects: 0, lastClose: null });
    const seen: RoomConnectionState[] = [];
    const stop = watchRoomConnection(client, (state) => seen.push(state));
    await client.session.whoami.query();
    expect(roomConnectionState(client).status).toBe("live");

    reconnectRoomClient(client);
    await client.session.whoami.query();
    expect(roomConnectionState(client)).toMatchObject({ status: "live", reconnects: 1, lastClose: { code: expect.any(Number) } });
    await closeRoomClient(client);
    expect(roomConnectionState(client).status).toBe("closed");
    expect(seen.map((state) => state.status)).toEqual(["live", "reconnecting", "live", "closed"]);
    stop();
    expect(() => roomConnectionState({})).toThrow(/not a client made by createRoomClient/);
  });

  it("sends every mutation with a mutation id, and re-sends one whose socket dropped with the same id, resolving it once", async () => {
    const room = uniqueRoom();
    const client = await recordedClient(room);
    await client.session.whoami.query();
    const created = client.tasks.create.mutate({ title: "across a reconnect" });
    reconnectRoomClient(client);
    const task = await created;
    expect(task).toMatchObject({ title: "across a reconnect" });
    const creates = SentRecordingSocket.sent.filter((request) => request.params.path === "tasks.create");
    expect(creates.length).toBe(2);
    expect(creates[0]!.params.mutationId).toMatch(/^[0-9a-f-]{36}:1$/);
    expect(creates[1]!.params.mutationId).toBe(creates[0]!.params.mutationId);
    expect((await client.tasks.list.query()).items.map((row) => row.title)).toContain("across a reconnect");
  });

  it("re-sends a mutation whose answer was lost with the socket, and the app sees one result", async () => {
    const room = uniqueRoom();
    AnswerLosingSocket.lost = false;
    const client = createRoomClient<AppRouter>({
      url: "http://example.com",
      room,
      token: await tokenFor(room),
      WebSocket: AnswerLosingSocket as unknown as typeof WebSocket,
      fetch: (input, init) => SELF.fetch(input, init),
    });
    made.push(client);
    const task = await client.tasks.create.mutate({ title: "answer lost once" });
    expect(AnswerLosingSocket.lost).toBe(true);
    expect(task).toMatchObject({ title: "answer lost once" });
    const creates = SentRecordingSocket.sent.filter((request) => request.params.path === "tasks.create");
    expect(creates.map((request) => request.params.mutationId)).toEqual([creates[0]!.params.mutationId, creates[0]!.params.mutationId]);
    // The room ran it once: the re-sent id was answered from its record.
    const rows = (await client.tasks.list.query()).items.filter((row) => row.title === "answer lost once");
    expect(rows).toEqual([expect.objectContaining({ id: task.id })]);
  });

  it("re-sends several pending mutations after a reconnect in call order", async () => {
    const room = uniqueRoom();
    const client = await recordedClient(room);
    await client.session.whoami.query();
    const titles = ["first", "second", "third", "fourth"];
    const calls = titles.map((title) => client.tasks.create.mutate({ title }));
    reconnectRoomClient(client);
    const tasks = await Promise.all(calls);
    expect(tasks.map((task) => task.title)).toEqual(titles);
    const ids = tasks.map((task) => task.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const resent = SentRecordingSocket.sent.filter((request) => request.params.path === "tasks.create").slice(-titles.length);
    expect(resent.map((request) => request.params.mutationId!.split(":")[1])).toEqual(["1", "2", "3", "4"]);
  });

  it("rejects a pending mutation when the client is closed, saying its outcome is unknown", async () => {
    const room = uniqueRoom();
    const client = await recordedClient(room);
    await client.session.whoami.query();
    const created = client.tasks.create.mutate({ title: "closed before the answer" });
    await closeRoomClient(client);
    await expect(created).rejects.toThrow(
      /^the room client was closed; this mutation may or may not have been applied \(mutation id [0-9a-f-]{36}:1\)$/,
    );
  });

  it("fails a mutation with an outcome-unknown error when the room refuses every connect until the retry window runs out", async () => {
    const client = await recordedClient(uniqueRoom(), { token: await tokenFor(uniqueRoom()), retryWindowMs: 400 });
    await expect(client.tasks.create.mutate({ title: "never connected" })).rejects.toThrow(
      /^the connection was lost and not restored within 0\.4 s \(last: could not connect: connect ticket refused \(HTTP 403 .*\); this mutation may or may not have been applied \(mutation id [0-9a-f-]{36}:1\)$/,
    );
    expect(SentRecordingSocket.sent).toEqual([]);
  });
});
