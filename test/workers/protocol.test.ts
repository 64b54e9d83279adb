import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { TRPCClientError } from "@trpc/client";
import type { AppRouter } from "../../src/app";
import {
  MAX_BATCH_SIZE,
  MAX_CONNECTION_PARAMS_BYTES,
  MAX_FRAME_BYTES,
  MAX_SUBSCRIPTION_ID_CHARS,
  MAX_SUBSCRIPTION_INPUT_BYTES,
  MAX_SUBSCRIPTIONS_PER_SOCKET,
  MAX_SUBSCRIPTIONS_PER_USER,
  MAX_SOCKETS_PER_USER,
} from "../../src/protocol/wire-limits";
import { CLOSE_CODES } from "../../src/protocol/close-codes";
import { clientFor, closeClients, stockClientFor, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

const sockets: RawSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
});

async function open(room: string, query = ""): Promise<RawSocket> {
  const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room)}${query}`);
  sockets.push(socket);
  return socket;
}

const create = (id: number | string, title: string) => ({
  id,
  method: "mutation",
  params: { path: "tasks.create", input: { json: { title } } },
});

type ErrorFrame = { id: number | string | null; error: { code: number; message: string; data: { code: string } } };

describe("the tRPC WebSocket protocol in a room", () => {
  it("answers a hand-written frame in the tRPC wire format", async () => {
    const socket = await open(uniqueRoom());
    socket.send(create(1, "raw"));
    await socket.waitForFrames(1);
    const frame = JSON.parse(socket.raw[0] as string) as unknown;
    expect(frame).toMatchObject({
      id: 1,
      result: { type: "data", data: { json: { title: "raw" }, meta: { values: { created_at: ["Date"] } } } },
    });
  });

  it("answers every request of a batched frame", async () => {
    const socket = await open(uniqueRoom());
    socket.send([create(1, "a"), create(2, "b"), create(3, "c")]);
    const frames = (await socket.waitForFrames(3)) as { id: number }[];
    expect(frames.map((frame) => frame.id).sort()).toEqual([1, 2, 3]);
  });

  it.each([
    ["not JSON", "{nope", null, "PARSE_ERROR"],
    ["an unknown method", { id: 7, method: "explode", params: {} }, 7, "BAD_REQUEST"],
    ["an unknown path", { id: 8, method: "query", params: { path: "tasks.nope", input: { json: {} } } }, 8, "NOT_FOUND"],
    [
      "wrong input types",
      { id: 9, method: "mutation", params: { path: "tasks.create", input: { json: { title: 42 } } } },
      9,
      "BAD_REQUEST",
    ],
    ["a missing id", { method: "query", params: { path: "tasks.list" } }, null, "PARSE_ERROR"],
    ["a null id", { id: null, method: "query", params: { path: "tasks.list" } }, null, "PARSE_ERROR"],
    ["an empty batch", [], null, "BAD_REQUEST"],
    [
      "a query on a mutation",
      { id: 10, method: "query", params: { path: "tasks.create", input: { json: { title: "x" } } } },
      10,
      "NOT_FOUND",
    ],
  ])("answers %s with an error frame and keeps the socket usable", async (_case, frame, id, code) => {
    const socket = await open(uniqueRoom());
    socket.send(frame);
    const [error] = (await socket.waitForFrames(1)) as [ErrorFrame];
    expect(error.id).toBe(id);
    expect(error.error.data.code).toBe(code);
    expect(error.error.message.length).toBeGreaterThan(0);

    socket.send(create(100, "still works"));
    const [, ok] = (await socket.waitForFrames(2)) as [unknown, { id: number; result: unknown }];
    expect(ok).toMatchObject({ id: 100, result: { type: "data" } });
    expect(socket.closed).toBeNull();
  });

  it("refuses binary frames with an error frame", async () => {
    const socket = await open(uniqueRoom());
    socket.send(new TextEncoder().encode(JSON.stringify(create(1, "bin"))).buffer);
    const [error] = (await socket.waitForFrames(1)) as [ErrorFrame];
    expect(error).toMatchObject({ id: null, error: { data: { code: "UNSUPPORTED_MEDIA_TYPE" } } });
    expect(socket.closed).toBeNull();
  });

  it("runs every request of a batch larger than 100 that fits in a frame", async () => {
    const socket = await open(uniqueRoom());
    socket.send(Array.from({ length: 250 }, (_, index) => create(index, `t${index}`)));
    const frames = (await socket.waitForFrames(250)) as { id: number; result?: { type: string } }[];
    expect(frames.every((frame) => frame.result?.type === "data")).toBe(true);
    expect(new Set(frames.map((frame) => frame.id)).size).toBe(250);
  });

  it("echoes jsonrpc 2.0 in every answer to a request that carries it", async () => {
    const socket = await open(uniqueRoom());
    socket.send([
      { id: 1, jsonrpc: "2.0", method: "query", params: { path: "tasks.list" } },
      { id: 2, jsonrpc: "2.0", method: "query", params: { path: "tasks.nope" } },
      { id: "s", jsonrpc: "2.0", method: "subscription", params: { path: "tasks.changes" } },
      { id: 3, method: "query", params: { path: "tasks.list" } },
    ]);
    await socket.waitForFrames(5);
    const answers = socket.raw.map((text) => JSON.parse(text as string) as { id: unknown; jsonrpc?: string });
    for (const answer of answers) expect(answer.jsonrpc).toBe(answer.id === 3 ? undefined : "2.0");
    expect(answers.map((answer) => answer.id).sort()).toEqual([1, 2, 3, "s", "s"].sort());

    socket.send({ id: null, jsonrpc: "2.0", method: "query", params: { path: "tasks.list" } });
    const [nullId] = (await socket.waitForFrames(6)).slice(5) as [ErrorFrame];
    expect(nullId).toMatchObject({ id: null, error: { data: { code: "PARSE_ERROR" } } });
    expect(JSON.parse(socket.raw[5] as string)).toMatchObject({ jsonrpc: "2.0" });
  });

  it("rejects a duplicate subscription id and keeps the first one", async () => {
    const socket = await open(uniqueRoom());
    const subscribe = { id: "s1", method: "subscription", params: { path: "tasks.changes" } };
    socket.send(subscribe);
    const [started, ready] = await socket.waitForFrames(2);
    expect(started).toEqual({ id: "s1", result: { type: "started" } });
    expect(ready).toEqual({ id: "s1", result: { type: "data", id: "0", data: { id: "0", data: { type: "ready", seq: 0 } } } });

    socket.send(subscribe);
    const [duplicate] = (await socket.waitForFrames(3)).slice(2) as [ErrorFrame];
    expect(duplicate).toMatchObject({ id: "s1", error: { data: { code: "BAD_REQUEST" } } });
    expect(duplicate.error.message).toContain("duplicate subscription id");

    socket.send(create(2, "seen by s1"));
    const frames = await socket.waitForFrames(5);
    expect(frames).toContainEqual(expect.objectContaining({ id: "s1", result: expect.objectContaining({ type: "data", id: "1" }) }));

    socket.send({ id: "s1", method: "subscription.stop" });
    const [stopped] = (await socket.waitForFrames(6)).slice(5);
    expect(stopped).toEqual({ id: "s1", result: { type: "stopped" } });
  });

  it("starts at most 16 subscriptions from one frame of 40 and refuses the rest", async () => {
    const socket = await open(uniqueRoom());
    socket.send(Array.from({ length: 40 }, (_, id) => ({ id, method: "subscription", params: { path: "tasks.changes" } })));
    // Each started subscription also sends its `ready` event: 16 × 2 + 24 errors.
    await socket.waitForFrames(2 * MAX_SUBSCRIPTIONS_PER_SOCKET + (40 - MAX_SUBSCRIPTIONS_PER_SOCKET));
    const started = socket.frames.filter((frame) => (frame as { result?: { type: string } }).result?.type === "started");
    const errors = socket.frames.filter((frame): frame is ErrorFrame => "error" in (frame as object));
    expect(started).toHaveLength(MAX_SUBSCRIPTIONS_PER_SOCKET);
    expect(errors).toHaveLength(40 - MAX_SUBSCRIPTIONS_PER_SOCKET);
    for (const error of errors) {
      expect(error.error.data.code).toBe("TOO_MANY_REQUESTS");
      expect(error.error.message).toContain(`at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions`);
    }

    // The cap still holds afterwards: one more is refused, and stopping one frees a slot.
    socket.send({ id: "late", method: "subscription", params: { path: "tasks.changes" } });
    const [late] = (await socket.waitForFrames(socket.frames.length + 1)).slice(-1) as [ErrorFrame];
    expect(late).toMatchObject({ id: "late", error: { data: { code: "TOO_MANY_REQUESTS" } } });
  });

  it("caps one user's subscriptions in a room over all their sockets, not other users'", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room, "reader", "greedy");
    const perSocket = MAX_SUBSCRIPTIONS_PER_SOCKET;
    const socketsNeeded = Math.ceil(MAX_SUBSCRIPTIONS_PER_USER / perSocket) + 1;
    let started = 0;
    const refusals: ErrorFrame[] = [];
    const greedy: RawSocket[] = [];
    for (let s = 0; s < socketsNeeded; s++) {
      const socket = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
      sockets.push(socket);
      greedy.push(socket);
      socket.send(Array.from({ length: perSocket }, (_, id) => ({ id, method: "subscription", params: { path: "presence.watch" } })));
      // Each started watch also sends its snapshot: two frames, or one error.
      const allowed = Math.max(0, Math.min(perSocket, MAX_SUBSCRIPTIONS_PER_USER - started));
      await socket.waitForFrames(2 * allowed + (perSocket - allowed));
      started += socket.frames.filter((frame) => (frame as { result?: { type: string } }).result?.type === "started").length;
      refusals.push(...socket.frames.filter((frame): frame is ErrorFrame => "error" in (frame as object)));
    }
    expect(started).toBe(MAX_SUBSCRIPTIONS_PER_USER);
    expect(refusals).toHaveLength(socketsNeeded * perSocket - MAX_SUBSCRIPTIONS_PER_USER);
    for (const refusal of refusals) {
      expect(refusal.error.data.code).toBe("TOO_MANY_REQUESTS");
      expect(refusal.error.message).toContain(`at most ${MAX_SUBSCRIPTIONS_PER_USER} subscriptions in a room`);
    }

    // Another user is not held back by it; and closing sockets frees the user's slots.
    const other = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader", "someone-else")}`);
    sockets.push(other);
    other.send({ id: 1, method: "subscription", params: { path: "presence.watch" } });
    expect(((await other.waitForFrames(1))[0] as { result?: { type: string } }).result?.type).toBe("started");
    // The first socket holds 16 of them.
    greedy[0]!.close();
    await greedy[0]!.waitForClose();
    const again = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
    sockets.push(again);
    again.send({ id: 1, method: "subscription", params: { path: "presence.watch" } });
    expect(((await again.waitForFrames(1))[0] as { result?: { type: string } }).result?.type).toBe("started");
  });

  it("accepts 32 sockets of one user in a room and closes the 33rd with 4029, while other users still connect", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room, "reader", "hoarder");
    const held = await Promise.all(Array.from({ length: MAX_SOCKETS_PER_USER }, () => RawSocket.open(`/rooms/${room}/ws?token=${token}`)));
    sockets.push(...held);
    held[0]!.send({ id: 1, method: "query", params: { path: "session.whoami" } });
    await held[0]!.waitForFrames(1);

    const extra = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
    sockets.push(extra);
    expect(await extra.waitForClose()).toEqual({
      code: CLOSE_CODES.tooManySockets,
      reason: `a user may hold at most ${MAX_SOCKETS_PER_USER} sockets in a room; close one first`,
    });

    const other = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader", "someone-else")}`);
    sockets.push(other);
    other.send({ id: 1, method: "query", params: { path: "session.whoami" } });
    expect(((await other.waitForFrames(1))[0] as { result?: unknown }).result).toBeDefined();

    // Closing one frees a place for the same user.
    held[1]!.close();
    await held[1]!.waitForClose();
    const again = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
    sockets.push(again);
    again.send({ id: 1, method: "query", params: { path: "session.whoami" } });
    expect(((await again.waitForFrames(1))[0] as { result?: unknown }).result).toBeDefined();
  });

  it("closes the socket with 1009 on a frame over the size limit, and other sockets are untouched", async () => {
    const room = uniqueRoom();
    const bystander = await open(room);
    const socket = await open(room);
    socket.send(create(1, "before"));
    await socket.waitForFrames(1);

    socket.send(JSON.stringify([create(2, "x".repeat(MAX_FRAME_BYTES)), create("3", 'tricky "id": 4 {')]));
    expect(await socket.waitForClose()).toMatchObject({ code: CLOSE_CODES.frameTooLarge });
    // Before closing, each request of the refused frame is told why.
    const refused = socket.frames.slice(1) as ErrorFrame[];
    expect(refused.map((frame) => frame.id)).toEqual([2, "3"]);
    for (const frame of refused) expect(frame.error.data.code).toBe("PAYLOAD_TOO_LARGE");

    bystander.send({ id: 1, method: "query", params: { path: "tasks.list", input: { json: {} } } });
    const [list] = (await bystander.waitForFrames(1)) as [{ result: { data: { items: { title: string }[] } } }];
    expect(list.result.data.items.map((task) => task.title)).toEqual(["before"]);
  });

  it("stores connectionParams sent as the first frame without changing identity", async () => {
    const room = uniqueRoom();
    const socket = await open(room, "&connectionParams=1");
    socket.send({ method: "connectionParams", data: { client: "test-suite", role: "admin" } });
    socket.send({ id: 1, method: "query", params: { path: "session.whoami" } });
    const [whoami] = await socket.waitForFrames(1);
    expect(whoami).toMatchObject({ id: 1, result: { data: { sub: "alice", role: "writer" } } });
    const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
    const params = await runInDurableObject(stub, (_instance, state) =>
      state.getWebSockets().map((ws) => (ws.deserializeAttachment() as { connectionParams: unknown }).connectionParams),
    );
    expect(params).toEqual([{ client: "test-suite", role: "admin" }]);
  });

  it("rejects connectionParams that are not flat strings", async () => {
    const socket = await open(uniqueRoom(), "&connectionParams=1");
    socket.send({ method: "connectionParams", data: { nested: { no: true } } });
    const [error] = (await socket.waitForFrames(1)) as [ErrorFrame];
    expect(error).toMatchObject({ id: null, error: { data: { code: "BAD_REQUEST" } } });
  });

  it("refuses connectionParams over 1 KiB", async () => {
    const socket = await open(uniqueRoom(), "&connectionParams=1");
    socket.send({ method: "connectionParams", data: { pad: "x".repeat(MAX_CONNECTION_PARAMS_BYTES) } });
    const [error] = (await socket.waitForFrames(1)) as [ErrorFrame];
    expect(error).toMatchObject({ id: null, error: { data: { code: "BAD_REQUEST" } } });
    expect(error.error.message).toContain(`${MAX_CONNECTION_PARAMS_BYTES} bytes`);
  });

  it("counts connectionParams in UTF-8 bytes, not characters", async () => {
    const socket = await open(uniqueRoom(), "&connectionParams=1");
    // 400 characters, 1,200 bytes: over the limit although under it in characters.
    socket.send({ method: "connectionParams", data: { pad: "€".repeat(400) } });
    const [error] = (await socket.waitForFrames(1)) as [ErrorFrame];
    expect(error).toMatchObject({ id: null, error: { data: { code: "BAD_REQUEST" } } });
    expect(error.error.message).toContain(`${MAX_CONNECTION_PARAMS_BYTES} bytes`);
  });

  it("refuses a subscription whose input or id would not fit the socket's attachment", async () => {
    const socket = await open(uniqueRoom());
    const big = { json: { status: "pending", limit: 10, pad: "x".repeat(MAX_SUBSCRIPTION_INPUT_BYTES) } };
    socket.send({ id: "big", method: "subscription", params: { path: "tasks.live", input: big } });
    socket.send({ id: "i".repeat(MAX_SUBSCRIPTION_ID_CHARS + 1), method: "subscription", params: { path: "tasks.changes" } });
    const [tooBig, tooLong] = (await socket.waitForFrames(2)) as [ErrorFrame, ErrorFrame];
    expect(tooBig).toMatchObject({ id: "big", error: { data: { code: "PAYLOAD_TOO_LARGE" } } });
    expect(tooLong).toMatchObject({ error: { data: { code: "BAD_REQUEST" } } });
    expect(tooLong.error.message).toContain(`${MAX_SUBSCRIPTION_ID_CHARS} characters`);
  });

  it("tells a socket with an unreadable session to reconnect", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
    await runInDurableObject(stub, (_instance, state) => {
      for (const ws of state.getWebSockets()) ws.serializeAttachment({ v: 0 });
    });
    // The in-memory copy is per socket object; a fresh wake reads the attachment again.
    await import("cloudflare:test").then(({ evictDurableObject }) => evictDurableObject(stub, { webSockets: "hibernate" }));
    socket.send(create(1, "after"));
    const [notice] = await socket.waitForFrames(1);
    expect(notice).toEqual({ id: null, method: "reconnect" });
    expect(await socket.waitForClose()).toMatchObject({ code: CLOSE_CODES.sessionInvalid });
  });

  it("answers keep-alive pings without running the room", async () => {
    const socket = await open(uniqueRoom());
    socket.send("PING");
    expect(await socket.waitForFrames(1)).toEqual(["PONG"]);
  });
});

describe("the stock tRPC client within the wire limits", () => {
  afterEach(closeClients);

  it("runs 101 concurrent calls, which the stock wsLink sends as one frame", async () => {
    const client = await stockClientFor(uniqueRoom());
    const created = await Promise.all(Array.from({ length: 101 }, (_, index) => client.tasks.create.mutate({ title: `t${index}` })));
    expect(new Set(created.map((task) => task.id)).size).toBe(101);
  });

  it("starts 16 of 101 concurrent subscriptions and refuses the rest, each with TOO_MANY_REQUESTS", async () => {
    const client = await stockClientFor(uniqueRoom(), "reader");
    let started = 0;
    const codes: string[] = [];
    let settled!: () => void;
    const done = new Promise<void>((resolve) => (settled = resolve));
    const check = () => {
      if (started + codes.length === 101) settled();
    };
    const subscriptions = Array.from({ length: 101 }, () =>
      client.tasks.changes.subscribe(undefined, {
        onStarted: () => {
          started += 1;
          check();
        },
        onError: (error) => {
          codes.push((error as TRPCClientError<AppRouter>).data?.code ?? error.message);
          check();
        },
      }),
    );
    await done;
    expect(started).toBe(MAX_SUBSCRIPTIONS_PER_SOCKET);
    expect(codes).toEqual(Array.from({ length: 101 - MAX_SUBSCRIPTIONS_PER_SOCKET }, () => "TOO_MANY_REQUESTS"));
    for (const subscription of subscriptions) subscription.unsubscribe();
  });

  it("tells the caller of an oversize frame PAYLOAD_TOO_LARGE", async () => {
    const client = await stockClientFor(uniqueRoom());
    await expect(client.tasks.create.mutate({ title: "x".repeat(MAX_FRAME_BYTES) })).rejects.toMatchObject({
      data: { code: "PAYLOAD_TOO_LARGE" },
    });
  });

  it("caps createRoomClient's replica-read batches at the endpoint's limit: 101 concurrent reads succeed", async () => {
    const client = await clientFor(uniqueRoom(), "reader");
    const pages = await Promise.all(Array.from({ length: MAX_BATCH_SIZE + 1 }, () => client.replica.tasks.list.query({})));
    expect(pages).toHaveLength(MAX_BATCH_SIZE + 1);
  });
});
