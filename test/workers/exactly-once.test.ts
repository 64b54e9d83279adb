/**
 * Exactly-once mutations through the real runtime, on every transport: a
 * mutation id sent twice (one after the other, or while the first attempt
 * still runs) runs the procedure once — one row, one change-log entry — and
 * both callers get the same answer. An id reused for another call is refused;
 * ids are per user; an answer too large to keep is never re-run.
 */
import { exports } from "cloudflare:workers";
import { env, evictDurableObject, runInDurableObject, SELF } from "cloudflare:test";
import superjson, { type SuperJSONResult } from "superjson";
import { afterEach, describe, expect, it } from "vitest";
import type { AppRouter } from "../../src/app";
import { createServiceClient, type ServiceIdentity } from "../../src/client";
import { MAX_RECORDED_ANSWER_BYTES } from "../../src/lib/limits";
import { MAX_MUTATION_ID_CHARS } from "../../src/protocol/wire-limits";
import type { RoomService } from "../../src/worker";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await closeClients();
});

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

/** The room's tasks and its change-log entries for them, straight from SQLite. */
function stored(room: string) {
  return runInDurableObject(stub(room), (_instance, state) => ({
    tasks: state.storage.sql.exec<{ id: number; title: string }>("SELECT id, title FROM tasks ORDER BY id").toArray(),
    changes: state.storage.sql.exec<{ c: number }>("SELECT count(*) AS c FROM _changes WHERE tbl = 'tasks'").one().c,
    ledger: state.storage.sql.exec<{ c: number }>("SELECT count(*) AS c FROM _mutations").one().c,
  }));
}

async function open(room: string, sub = "alice", role: "reader" | "writer" = "writer"): Promise<RawSocket> {
  const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, role, sub)}`);
  sockets.push(socket);
  return socket;
}

/** A tRPC mutation frame carrying `mutationId` in its params, as the room client sends it. */
function mutation(id: number, path: string, input: unknown, mutationId?: unknown) {
  return {
    id,
    method: "mutation",
    params: { path, input: superjson.serialize(input), ...(mutationId === undefined ? {} : { mutationId }) },
  };
}

type Answer = { id: number; result?: { type: string; data: unknown }; error?: { json: { message: string; data: { code: string } } } };

/** The raw text of answer `id` on `socket`, waiting for it. */
async function answerText(socket: RawSocket, id: number): Promise<string> {
  const find = () => socket.raw.find((text) => typeof text === "string" && (JSON.parse(text) as { id?: unknown }).id === id);
  while (!find()) await socket.waitForFrames(socket.frames.length + 1);
  return find() as string;
}

async function answer(socket: RawSocket, id: number): Promise<Answer> {
  return JSON.parse(await answerText(socket, id)) as Answer;
}

describe("a mutation id over the WebSocket (params.mutationId)", () => {
  it("runs a repeated id once: one row, one change-log entry, the same answer byte for byte", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(mutation(1, "tasks.create", { title: "once" }, "client-a:1"));
    const first = await answerText(socket, 1);
    socket.send(mutation(2, "tasks.create", { title: "once" }, "client-a:1"));
    const second = await answerText(socket, 2);
    expect(JSON.parse(first)).toMatchObject({ result: { type: "data" } });
    expect(second.replace('"id":2', '"id":1')).toBe(first);
    expect(await stored(room)).toEqual({ tasks: [{ id: 1, title: "once" }], changes: 1, ledger: 1 });
  });

  it("answers a repeat that arrives while the first attempt runs with the first's answer (same frame, and two sockets)", async () => {
    const room = uniqueRoom();
    const [a, b] = [await open(room), await open(room)];
    // One frame: both requests run in the same event, the second finds the first in flight.
    a.send([mutation(1, "tasks.create", { title: "concurrent" }, "m-1"), mutation(2, "tasks.create", { title: "concurrent" }, "m-1")]);
    // Another socket of the same user, sent without waiting.
    b.send(mutation(3, "tasks.create", { title: "concurrent" }, "m-1"));
    const answers = [await answer(a, 1), await answer(a, 2), await answer(b, 3)];
    const data = answers.map((frame) => superjson.deserialize(frame.result!.data as SuperJSONResult));
    expect(data[0]).toMatchObject({ id: 1, title: "concurrent", seq: 1 });
    expect(data[1]).toEqual(data[0]);
    expect(data[2]).toEqual(data[0]);
    expect(await stored(room)).toMatchObject({ tasks: [{ id: 1 }], changes: 1, ledger: 1 });
  });

  it("runs mutations without an id, and different ids, every time", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(mutation(1, "tasks.create", { title: "x" }));
    socket.send(mutation(2, "tasks.create", { title: "x" }));
    socket.send(mutation(3, "tasks.create", { title: "x" }, "k-1"));
    socket.send(mutation(4, "tasks.create", { title: "x" }, "k-2"));
    for (const id of [1, 2, 3, 4]) expect(await answer(socket, id)).toMatchObject({ result: { type: "data" } });
    expect((await stored(room)).tasks).toHaveLength(4);
  });

  it("keeps ids per user: the same id from another user is another mutation", async () => {
    const room = uniqueRoom();
    const [alice, bob] = [await open(room, "alice"), await open(room, "bob")];
    alice.send(mutation(1, "tasks.create", { title: "shared id" }, "same"));
    await answer(alice, 1);
    bob.send(mutation(1, "tasks.create", { title: "shared id" }, "same"));
    await answer(bob, 1);
    expect((await stored(room)).tasks).toHaveLength(2);
  });

  it("refuses an id reused with another input or another procedure (CONFLICT), and runs nothing", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(mutation(1, "tasks.create", { title: "first" }, "reused"));
    await answer(socket, 1);
    socket.send(mutation(2, "tasks.create", { title: "second" }, "reused"));
    socket.send(mutation(3, "tasks.update", { id: 1, title: "second" }, "reused"));
    const [input, path] = [await answer(socket, 2), await answer(socket, 3)];
    expect(input.error?.json.data.code).toBe("CONFLICT");
    expect(input.error?.json.message).toContain('mutation id "reused" was already used for "tasks.create" with a different input');
    expect(path.error?.json.data.code).toBe("CONFLICT");
    expect(path.error?.json.message).toContain('already used for "tasks.create"; send "tasks.update" with a new mutation id');
    expect((await stored(room)).tasks).toEqual([{ id: 1, title: "first" }]);
  });

  it("refuses a repeat with another input while the first attempt still runs (CONFLICT), and runs the first once", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    // One frame: the second request finds the first in flight, not yet recorded.
    socket.send([mutation(1, "tasks.create", { title: "first" }, "racing"), mutation(2, "tasks.create", { title: "other" }, "racing")]);
    expect(await answer(socket, 1)).toMatchObject({ result: { type: "data" } });
    const second = await answer(socket, 2);
    expect(second.error?.json.data.code).toBe("CONFLICT");
    expect(second.error?.json.message).toContain("with a different input");
    expect((await stored(room)).tasks).toEqual([{ id: 1, title: "first" }]);
  });

  it("refuses a malformed id with BAD_REQUEST before running anything", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(mutation(1, "tasks.create", { title: "x" }, "k".repeat(MAX_MUTATION_ID_CHARS + 1)));
    socket.send(mutation(2, "tasks.create", { title: "x" }, 42));
    socket.send(mutation(3, "tasks.create", { title: "x" }, ""));
    for (const id of [1, 2, 3]) expect((await answer(socket, id)).error?.json.data.code).toBe("BAD_REQUEST");
    expect((await answer(socket, 1)).error?.json.message).toContain(`at most ${MAX_MUTATION_ID_CHARS} characters`);
    expect((await stored(room)).tasks).toEqual([]);
  });

  it("does not record a failed mutation: a repeat runs again", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(mutation(1, "tasks.update", { id: 1, title: "nothing yet" }, "retry-me"));
    expect((await answer(socket, 1)).error?.json.data.code).toBe("NOT_FOUND");
    socket.send(mutation(2, "tasks.create", { title: "now it exists" }));
    await answer(socket, 2);
    socket.send(mutation(3, "tasks.update", { id: 1, title: "nothing yet" }, "retry-me"));
    expect(await answer(socket, 3)).toMatchObject({ result: { type: "data" } });
    expect((await stored(room)).tasks).toEqual([{ id: 1, title: "nothing yet" }]);
  });

  it(`never re-runs a mutation whose answer was over ${MAX_RECORDED_ANSWER_BYTES} bytes: the repeat is refused with its seq`, async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    // 6,000 three-byte characters: an answer of about 18 KB.
    const input = { title: "big", description: "€".repeat(6_000) };
    socket.send(mutation(1, "tasks.create", input, "big-1"));
    expect(await answer(socket, 1)).toMatchObject({ result: { type: "data" } });
    socket.send(mutation(2, "tasks.create", input, "big-1"));
    const repeat = await answer(socket, 2);
    expect(repeat.error?.json.data.code).toBe("CONFLICT");
    expect(repeat.error?.json.message).toMatch(/mutation id "big-1" was already applied \(seq 1\); its answer \(\d+ bytes\) was over/);
    expect((await stored(room)).tasks).toHaveLength(1);
  });

  it("answers a repeat after the room was evicted from memory from what SQLite recorded", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(mutation(1, "tasks.create", { title: "durable" }, "survives"));
    const first = JSON.parse(await answerText(socket, 1)) as Answer;
    await evictDurableObject(stub(room), { webSockets: "close" });
    await socket.waitForClose();
    const again = await open(room);
    again.send(mutation(1, "tasks.create", { title: "durable" }, "survives"));
    expect(await answer(again, 1)).toEqual(first);
    expect((await stored(room)).tasks).toHaveLength(1);
  });
});

describe("what is recorded", () => {
  it("records only mutations that changed a table: a cursor move or a debounced update with an id costs no row", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(mutation(1, "presence.setCursor", { position: { x: 1 } }, "cursor-1"));
    socket.send(mutation(2, "debounced.update", { key: "slider", value: 3 }, "slider-1"));
    socket.send(mutation(3, "tasks.create", { title: "recorded" }, "create-1"));
    for (const id of [1, 2, 3]) expect(await answer(socket, id)).toMatchObject({ result: { type: "data" } });
    expect(await stored(room)).toMatchObject({ ledger: 1 });
    // The unrecorded ones run again on a repeat (they are safe to repeat): the cursor moves again.
    socket.send(mutation(4, "presence.setCursor", { position: { x: 1 } }, "cursor-1"));
    expect(await answer(socket, 4)).toMatchObject({ result: { type: "data" } });
    expect(await stored(room)).toMatchObject({ ledger: 1 });
  });
});

describe("the room client", () => {
  it("attaches an id to every mutation, so a retried call cannot apply twice", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    await client.tasks.create.mutate({ title: "one" });
    await client.tasks.create.mutate({ title: "two" });
    expect(await stored(room)).toMatchObject({ ledger: 2 });
  });
});

describe("a mutation id over HTTP (Idempotency-Key)", () => {
  const url = (room: string, path: string) => `http://example.com/rooms/${room}/trpc/${path}`;
  async function post(room: string, path: string, input: unknown, headers: Record<string, string>) {
    const response = await SELF.fetch(url(room, path), {
      method: "POST",
      headers: { authorization: `Bearer ${await tokenFor(room, "writer", "http-caller")}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(superjson.serialize(input)),
    });
    return { status: response.status, body: (await response.json()) as { result?: { data: SuperJSONResult }; error?: SuperJSONResult } };
  }

  it("runs a repeated key once and answers both requests alike", async () => {
    const room = uniqueRoom();
    const first = await post(room, "tasks.create", { title: "by curl" }, { "idempotency-key": "order-77" });
    const second = await post(room, "tasks.create", { title: "by curl" }, { "Idempotency-Key": "order-77" });
    expect(first.status).toBe(200);
    expect(second).toEqual(first);
    expect(await stored(room)).toMatchObject({ tasks: [{ id: 1, title: "by curl" }], changes: 1 });
  });

  it("shares ids with the user's sockets: a key sent over HTTP and then as a socket's mutation id runs once", async () => {
    const room = uniqueRoom();
    await post(room, "tasks.create", { title: "either way" }, { "idempotency-key": "k" });
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "writer", "http-caller")}`);
    sockets.push(socket);
    socket.send(mutation(1, "tasks.create", { title: "either way" }, "k"));
    expect(await answer(socket, 1)).toMatchObject({ result: { type: "data" } });
    expect((await stored(room)).tasks).toHaveLength(1);
  });

  it("refuses a key on a batch of several calls, and a malformed key, with 400 and runs nothing", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room, "writer", "http-caller");
    const batch = await SELF.fetch(`${url(room, "tasks.create,tasks.create")}?batch=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": "b" },
      body: JSON.stringify({ 0: superjson.serialize({ title: "a" }), 1: superjson.serialize({ title: "b" }) }),
    });
    expect(batch.status).toBe(400);
    expect(await batch.text()).toContain("an Idempotency-Key names one mutation; this request batches 2 calls");
    const long = await post(room, "tasks.create", { title: "x" }, { "idempotency-key": "k".repeat(MAX_MUTATION_ID_CHARS + 1) });
    expect(long.status).toBe(400);
    expect(JSON.stringify(long.body)).toContain(`Idempotency-Key: must be at most ${MAX_MUTATION_ID_CHARS} characters`);
    expect((await stored(room)).tasks).toEqual([]);
  });
});

describe("a mutation id over a service binding (createServiceClient)", () => {
  const roomService = (exports as unknown as { RoomService: Service<RoomService> }).RoomService;
  const writer: ServiceIdentity = { sub: "billing-cron", role: "writer" };

  it("runs a call's own key (context.mutationId) once, across clients", async () => {
    const room = uniqueRoom();
    const one = createServiceClient<AppRouter>(roomService, { room, identity: writer });
    const two = createServiceClient<AppRouter>(roomService, { room, identity: writer });
    const first = await one.tasks.create.mutate({ title: "invoice 12" }, { context: { mutationId: "invoice-12" } });
    const second = await two.tasks.create.mutate({ title: "invoice 12" }, { context: { mutationId: "invoice-12" } });
    expect(second).toEqual(first);
    expect((await stored(room)).tasks).toHaveLength(1);
  });

  it("gives every mutation an id of its own by default, and none with mutationIds: false", async () => {
    const room = uniqueRoom();
    const withIds = createServiceClient<AppRouter>(roomService, { room, identity: writer });
    await withIds.tasks.create.mutate({ title: "a" });
    await withIds.tasks.create.mutate({ title: "a" });
    const without = createServiceClient<AppRouter>(roomService, { room, identity: writer, mutationIds: false });
    await without.tasks.create.mutate({ title: "b" });
    expect(await stored(room)).toMatchObject({ ledger: 2 });
    expect((await stored(room)).tasks).toHaveLength(3);
  });
});

describe("a mutation id in a seed-protocol frame (mutationId)", () => {
  it("runs a repeated rpc once and answers both with the same result", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    const frame = { action: "rpc", method: "createTask", payload: { title: "seed once" }, mutationId: "seed-1" };
    socket.send({ ...frame, requestId: "r1" });
    socket.send({ ...frame, requestId: "r2" });
    const results = async () => {
      for (;;) {
        const found = socket.frames.filter((f) => (f as { type?: string }).type === "rpc_result");
        if (found.length >= 2) return found as { requestId: string; data: unknown }[];
        await socket.waitForFrames(socket.frames.length + 1);
      }
    };
    const [r1, r2] = await results();
    expect(r2!.data).toEqual(r1!.data);
    expect((await stored(room)).tasks).toHaveLength(1);
  });
});
