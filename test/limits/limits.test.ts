/**
 * Every configurable room limit at its edge, through the real runtime: the
 * task board with ROOM_LIMITS set low (vitest.config.ts), as a deployment
 * would set them. Request rate (tRPC frames, the stock client, seed frames,
 * HTTP), sockets per user and per room, subscriptions per user and per room,
 * table quotas (rows and bytes) and the debounced writer's quota.
 */
import { TRPCClientError } from "@trpc/client";
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { TableQuotas } from "../../src/live/table-quotas";
import { MUTATION_TRIM_EVERY } from "../../src/lib/limits";
import { CLOSE_CODES } from "../../src/protocol/close-codes";
import { resolveRoomLimits } from "../../src/protocol/room-limits";
import { clientFor, closeClients, stockClientFor, tokenFor, uniqueRoom } from "../helpers/clients";
import { replicaRows, roomRows, untilReplicated } from "../helpers/replication";
import { RawSocket } from "../helpers/worker-socket";

const limits = resolveRoomLimits(undefined, env.ROOM_LIMITS);
const sockets: RawSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await closeClients();
});

async function open(room: string, sub = "alice", role: "reader" | "writer" = "writer"): Promise<RawSocket> {
  const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, role, sub)}`);
  sockets.push(socket);
  return socket;
}

type Answer = { id: number; result?: unknown; error?: { json: { message: string; data: { code: string } } } };

/** The raw answers (not superjson-decoded) of a socket, by request id. */
function answers(socket: RawSocket): Map<number, Answer> {
  const byId = new Map<number, Answer>();
  for (const text of socket.raw) {
    if (typeof text !== "string" || text === "PONG") continue;
    const frame = JSON.parse(text) as Answer;
    if (typeof frame.id === "number") byId.set(frame.id, frame);
  }
  return byId;
}

/** Most requests a fresh bucket can have granted since `started`: the burst plus what refilled. */
function allowedSince(started: number): number {
  return limits.requestBurst + Math.ceil(((Date.now() - started) / 1000) * limits.requestsPerSecond);
}

const whoami = (id: number) => ({ id, method: "query", params: { path: "session.whoami" } });

describe("the limits under test", () => {
  it("are the low ones this project sets, so every edge below is reachable", () => {
    expect(limits).toMatchObject({ requestsPerSecond: 20, requestBurst: 40, socketsPerUser: 3, socketsPerRoom: 6, debouncedKeys: 5 });
  });
});

describe("request rate per connection", () => {
  it("runs a burst of requestBurst requests and refuses the rest of the frame, each with TOO_MANY_REQUESTS", async () => {
    const socket = await open(uniqueRoom());
    const total = limits.requestBurst + 10;
    socket.send(Array.from({ length: total }, (_, index) => whoami(index + 1)));
    await socket.waitForFrames(total);
    const byId = answers(socket);
    const ran = [...byId.values()].filter((answer) => answer.result !== undefined);
    const refused = [...byId.values()].filter((answer) => answer.error !== undefined);
    expect(ran).toHaveLength(limits.requestBurst);
    expect(refused).toHaveLength(10);
    // The first requests of the frame run; the excess is refused.
    expect(ran.map((answer) => answer.id)).toEqual(Array.from({ length: limits.requestBurst }, (_, index) => index + 1));
    for (const answer of refused) {
      expect(answer.error!.json.data.code).toBe("TOO_MANY_REQUESTS");
      expect(answer.error!.json.message).toBe(
        `a connection may make at most ${limits.requestsPerSecond} requests per second (bursts of ${limits.requestBurst}); slow down and retry`,
      );
    }
  });

  it("refills at requestsPerSecond, and another socket of the same user has its own bucket", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    const started = Date.now();
    socket.send(Array.from({ length: limits.requestBurst + 1 }, (_, index) => whoami(index + 1)));
    await socket.waitForFrames(limits.requestBurst + 1);
    expect(answers(socket).get(limits.requestBurst + 1)!.error!.json.data.code).toBe("TOO_MANY_REQUESTS");

    const other = await open(room);
    other.send(whoami(1));
    expect(answers(await other.waitForFrames(1).then(() => other)).get(1)!.result).toBeDefined();

    // Half a second refills about half a second's worth of requests, never more.
    await new Promise((resolve) => setTimeout(resolve, 500));
    socket.send(Array.from({ length: limits.requestBurst }, (_, index) => whoami(200 + index)));
    await socket.waitForFrames(limits.requestBurst + 1 + limits.requestBurst);
    const granted = [...answers(socket).values()].filter((answer) => answer.id >= 200 && answer.result !== undefined).length;
    expect(granted).toBeGreaterThanOrEqual(limits.requestsPerSecond / 2 - 1);
    expect(granted).toBeLessThanOrEqual(allowedSince(started) - limits.requestBurst);
  });

  it("does not count stopping a subscription, so a client over its rate can still stop what it started", async () => {
    const socket = await open(uniqueRoom());
    socket.send({ id: 1, method: "subscription", params: { path: "presence.watch" } });
    await socket.waitForFrames(1);
    socket.send(Array.from({ length: limits.requestBurst }, (_, index) => whoami(index + 2)));
    await socket.waitForFrames(1 + limits.requestBurst);
    socket.send({ id: 1, method: "subscription.stop" });
    const stopped = () =>
      socket.frames.some((frame) => (frame as Answer).id === 1 && (frame as { result?: { type?: string } }).result?.type === "stopped");
    for (let waited = 0; !stopped() && waited < 5_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped()).toBe(true);
  });

  it("rejects the stock client's calls beyond the burst with TOO_MANY_REQUESTS, and the rest resolve", async () => {
    const client = await stockClientFor(uniqueRoom());
    const results = await Promise.allSettled(Array.from({ length: limits.requestBurst + 5 }, () => client.session.whoami.query()));
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(limits.requestBurst);
    const rejected = results.filter((result): result is PromiseRejectedResult => result.status === "rejected");
    expect(rejected).toHaveLength(5);
    for (const { reason } of rejected) {
      expect(reason).toBeInstanceOf(TRPCClientError);
      expect((reason as TRPCClientError<never>).data).toMatchObject({ code: "TOO_MANY_REQUESTS" });
    }
  });

  it("answers seed frames beyond the rate with the seed protocol's error", async () => {
    const socket = await open(uniqueRoom());
    const total = limits.requestBurst * 3;
    const started = Date.now();
    for (let index = 0; index < total; index += 1) socket.send({ action: "ping", requestId: index });
    await socket.waitForFrames(total);
    const frames = socket.raw.map((text) => JSON.parse(text as string) as { type: string; error?: { code: string; message: string } });
    const pongs = frames.filter((frame) => frame.type === "pong").length;
    expect(pongs).toBeGreaterThanOrEqual(limits.requestBurst);
    expect(pongs).toBeLessThanOrEqual(allowedSince(started));
    const errors = frames.filter((frame) => frame.type === "error");
    expect(errors).toHaveLength(total - pongs);
    expect(errors[0]!.error).toMatchObject({ code: "TOO_MANY_REQUESTS", message: expect.stringContaining("requests per second") });
  });

  it("limits one user's HTTP calls to a room with 429, per user", async () => {
    const room = uniqueRoom();
    const call = async (sub: string) => {
      const response = await SELF.fetch(`http://example.com/rooms/${room}/trpc/session.whoami`, {
        headers: { authorization: `Bearer ${await tokenFor(room, "reader", sub)}` },
      });
      return { status: response.status, body: (await response.json()) as { error?: { json: { data: { code: string } } } } };
    };
    const total = limits.requestBurst * 3;
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: total }, () => call("busy")));
    const ok = outcomes.filter((outcome) => outcome.status === 200).length;
    expect(ok).toBeGreaterThanOrEqual(limits.requestBurst);
    expect(ok).toBeLessThanOrEqual(allowedSince(started));
    const refused = outcomes.filter((outcome) => outcome.status !== 200);
    expect(refused.length).toBe(total - ok);
    for (const outcome of refused) {
      expect(outcome.status).toBe(429);
      expect(outcome.body.error!.json.data.code).toBe("TOO_MANY_REQUESTS");
    }
    expect((await call("someone-else")).status).toBe(200);
  });
});

describe("connect tickets", () => {
  it("count against the user's HTTP bucket: requests beyond it get 429", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room, "reader", "ticket-hungry");
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: limits.requestBurst * 2 }, async () => {
        const response = await SELF.fetch(`http://example.com/rooms/${room}/ticket`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
        });
        return response.status;
      }),
    );
    const ok = statuses.filter((status) => status === 200).length;
    expect(ok).toBeGreaterThanOrEqual(limits.requestBurst);
    expect(ok).toBeLessThanOrEqual(allowedSince(started));
    expect(statuses.filter((status) => status !== 200).every((status) => status === 429)).toBe(true);
    expect(statuses.length - ok).toBeGreaterThan(0);
  });
});

describe("sockets", () => {
  it("accepts socketsPerUser sockets of one user and closes one more with 4029", async () => {
    const room = uniqueRoom();
    for (let index = 0; index < limits.socketsPerUser; index += 1) await open(room, "hoarder");
    const extra = await open(room, "hoarder");
    expect(await extra.waitForClose()).toEqual({
      code: CLOSE_CODES.tooManySockets,
      reason: `a user may hold at most ${limits.socketsPerUser} sockets in a room; close one first`,
    });
  });

  it("accepts socketsPerRoom sockets in a room and closes one more with 4029, whoever opens it", async () => {
    const room = uniqueRoom();
    const held: RawSocket[] = [];
    for (let index = 0; index < limits.socketsPerRoom; index += 1) held.push(await open(room, `user-${index}`));
    for (const socket of held) socket.send(whoami(1));
    await Promise.all(held.map((socket) => socket.waitForFrames(1)));
    const extra = await open(room, "latecomer");
    expect(await extra.waitForClose()).toEqual({
      code: CLOSE_CODES.tooManySockets,
      reason: `this room holds its maximum of ${limits.socketsPerRoom} sockets; retry later`,
    });
    // A closed socket frees its place.
    held[0]!.close();
    await held[0]!.waitForClose();
    const again = await open(room, "latecomer");
    again.send(whoami(1));
    expect(answers(await again.waitForFrames(1).then(() => again)).get(1)!.result).toBeDefined();
  });
});

describe("subscriptions", () => {
  const subscribe = (id: number) => ({ id, method: "subscription", params: { path: "presence.watch" } });

  async function started(socket: RawSocket, count: number): Promise<{ started: number; refused: string[] }> {
    await socket.waitForFrames(count);
    const byId = [...answers(socket).values()];
    return {
      started: byId.filter((answer) => (answer.result as { type?: string } | undefined)?.type === "started").length,
      refused: byId.filter((answer) => answer.error).map((answer) => answer.error!.json.message),
    };
  }

  it("starts subscriptionsPerUser subscriptions of one user over their sockets, and refuses one more", async () => {
    const room = uniqueRoom();
    const first = await open(room, "watcher");
    const second = await open(room, "watcher");
    first.send(Array.from({ length: 16 }, (_, index) => subscribe(index + 1)));
    expect((await started(first, 16)).started).toBe(16);
    const rest = limits.subscriptionsPerUser - 16;
    second.send(Array.from({ length: rest + 1 }, (_, index) => subscribe(index + 1)));
    const outcome = await started(second, rest + 1);
    expect(outcome.started).toBe(rest);
    expect(outcome.refused).toEqual([
      `a user may hold at most ${limits.subscriptionsPerUser} subscriptions in a room, over all their sockets; stop one first`,
    ]);
  });

  it("starts subscriptionsPerRoom subscriptions in a room, and refuses one more", async () => {
    const room = uniqueRoom();
    let total = 0;
    const users = Math.ceil(limits.subscriptionsPerRoom / 16);
    for (let user = 0; user < users; user += 1) {
      const socket = await open(room, `user-${user}`);
      const count = Math.min(16, limits.subscriptionsPerRoom - total);
      socket.send(Array.from({ length: count }, (_, index) => subscribe(index + 1)));
      total += (await started(socket, count)).started;
    }
    expect(total).toBe(limits.subscriptionsPerRoom);
    const late = await open(room, "late");
    late.send(subscribe(1));
    expect((await started(late, 1)).refused).toEqual([
      `this room holds its maximum of ${limits.subscriptionsPerRoom} subscriptions; try again later`,
    ]);
  });
});

describe("table quotas", () => {
  it("refuses the row past the table's row quota with FORBIDDEN, changing nothing; a delete frees its place", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    const created = [];
    for (let index = 0; index < limits.table.rows; index += 1) created.push(await client.tasks.create.mutate({ title: `task ${index}` }));
    const refused = await client.tasks.create.mutate({ title: "one too many" }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TRPCClientError);
    expect((refused as TRPCClientError<never>).data).toMatchObject({ code: "FORBIDDEN" });
    expect((refused as Error).message).toBe(
      `storage quota: table "tasks" holds at most ${limits.table.rows} rows in a room; delete rows first`,
    );
    // Nothing of the refused write remains: no row, no change-log entry, nothing replicated.
    expect(await roomRows(room, "tasks")).toHaveLength(limits.table.rows);
    const status = await untilReplicated(room);
    expect(status.roomSeq).toBe(limits.table.rows);
    expect(await replicaRows(room, "tasks")).toHaveLength(limits.table.rows);

    await client.tasks.delete.mutate({ id: created[0]!.id });
    await expect(client.tasks.create.mutate({ title: "fits again" })).resolves.toMatchObject({ title: "fits again" });
  });

  it("refuses a write past the byte quota, including an update that grows a row; shrinking always works", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    const big = "x".repeat(10_000);
    const first = await client.tasks.create.mutate({ title: "big 1", description: big });
    await client.tasks.create.mutate({ title: "big 2", description: big });
    const small = await client.tasks.create.mutate({ title: "small" });
    const tooBig = await client.tasks.create.mutate({ title: "big 3", description: big }).catch((error: unknown) => error);
    expect((tooBig as TRPCClientError<never>).data).toMatchObject({ code: "FORBIDDEN" });
    expect((tooBig as Error).message).toContain(`table "tasks" holds at most ${limits.table.bytes} bytes of values in a room`);

    const grow = await client.tasks.update.mutate({ id: small.id, description: big }).catch((error: unknown) => error);
    expect((grow as TRPCClientError<never>).data).toMatchObject({ code: "FORBIDDEN" });
    expect((await roomRows(room, "tasks")).find((row) => row["id"] === small.id)!["description"]).toBe("");

    await expect(client.tasks.update.mutate({ id: first.id, description: "short now" })).resolves.toMatchObject({
      description: "short now",
    });
    await expect(client.tasks.update.mutate({ id: small.id, description: big })).resolves.toMatchObject({ id: small.id });
  });

  it("keeps its usage count equal to a full recount through creates, updates and deletes", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    const ids = [];
    for (let index = 0; index < 6; index += 1)
      ids.push((await client.tasks.create.mutate({ title: `t${index}`, description: "d".repeat(index * 100) })).id);
    await client.tasks.update.mutate({ id: ids[1]!, description: "é".repeat(300), priority: 3 });
    await client.tasks.update.mutate({ id: ids[2]!, title: "renamed" });
    await client.tasks.delete.mutate({ id: ids[3]! });
    await client.tasks.complete.mutate({ id: ids[4]! });
    const { kept, recounted } = await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_room, state) => {
      const quotas = new TableQuotas(state.storage.sql);
      const kept = quotas.usage("tasks");
      const columns = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM pragma_table_info('tasks')")
        .toArray()
        .map((row) => row.name);
      // A changed quota reinstalls the triggers and recounts the table from scratch.
      quotas.install([{ name: "tasks", columns, quota: { rows: 1_000, bytes: 1_000_000 } }]);
      const recounted = quotas.usage("tasks");
      quotas.install([{ name: "tasks", columns, quota: limits.table }]);
      return { kept, recounted };
    });
    expect(kept.rows).toBe(5);
    expect(kept).toEqual(recounted);
  });
});

describe("debounced quota", () => {
  it("accepts debouncedKeys keys and refuses a new one with FORBIDDEN; updating a held key works; deleting one frees its place", async () => {
    const client = await clientFor(uniqueRoom());
    for (let index = 0; index < limits.debouncedKeys; index += 1) await client.debounced.update.mutate({ key: `k${index}`, value: index });
    await client.debounced.flush.mutate();
    const refused = await client.debounced.update.mutate({ key: "one-more", value: 1 }).catch((error: unknown) => error);
    expect((refused as TRPCClientError<never>).data).toMatchObject({ code: "FORBIDDEN" });
    expect((refused as Error).message).toBe(
      `this room holds at most ${limits.debouncedKeys} debounced keys; reuse a key or delete some first`,
    );
    await expect(client.debounced.update.mutate({ key: "k0", value: "again" })).resolves.toMatchObject({ key: "k0", pending: true });

    await expect(client.debounced.delete.mutate({ key: "k1" })).resolves.toEqual({ key: "k1", deleted: true });
    expect(await client.debounced.get.query({ key: "k1" })).toBeNull();
    await expect(client.debounced.update.mutate({ key: "one-more", value: 1 })).resolves.toMatchObject({ key: "one-more" });
  });

  it("refuses a value that would take the room's debounced bytes past debouncedBytes", async () => {
    const client = await clientFor(uniqueRoom());
    const value = "v".repeat(900);
    await client.debounced.update.mutate({ key: "a", value });
    await client.debounced.update.mutate({ key: "b", value });
    const refused = await client.debounced.update.mutate({ key: "c", value }).catch((error: unknown) => error);
    expect((refused as TRPCClientError<never>).data).toMatchObject({ code: "FORBIDDEN" });
    expect((refused as Error).message).toContain(`at most ${limits.debouncedBytes} bytes`);
    // A smaller value for a held key always fits.
    await expect(client.debounced.update.mutate({ key: "a", value: "short" })).resolves.toMatchObject({ key: "a" });
    await expect(client.debounced.update.mutate({ key: "c", value })).resolves.toMatchObject({ key: "c" });
  });
});

describe("the mutation id window", () => {
  const create = (id: number, title: string, mutationId: string) => ({
    id,
    method: "mutation",
    params: { path: "tasks.create", input: { json: { title } }, mutationId },
  });
  // A rename of task 2: it changes a table (so it is recorded) without adding rows (the row quota is 10 here).
  const rename = (id: number, x: number, mutationId: string) => ({
    id,
    method: "mutation",
    params: { path: "tasks.update", input: { json: { id: 2, title: `renamed ${x}` } }, mutationId },
  });
  const titles = (room: string) =>
    runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_instance, state) =>
      state.storage.sql
        .exec<{ title: string }>("SELECT title FROM tasks ORDER BY id")
        .toArray()
        .map((row) => row.title),
    );
  async function answered(socket: RawSocket, ids: number[]): Promise<void> {
    while (!ids.every((id) => answers(socket).has(id))) await socket.waitForFrames(socket.frames.length + 1);
  }

  it("forgets an id after mutationIdTtlMs: a repeat within it is answered from the record, one after it runs again", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(create(1, "kept a while", "ttl-1"));
    socket.send(create(2, "kept a while", "ttl-1"));
    await answered(socket, [1, 2]);
    expect(await titles(room)).toEqual(["kept a while"]);
    await new Promise((resolve) => setTimeout(resolve, limits.mutationIdTtlMs + 200));
    socket.send(create(3, "kept a while", "ttl-1"));
    await answered(socket, [3]);
    expect(await titles(room)).toEqual(["kept a while", "kept a while"]);
    // The re-run is recorded afresh.
    socket.send(create(4, "kept a while", "ttl-1"));
    await answered(socket, [4]);
    expect(answers(socket).get(4)?.result).toEqual(answers(socket).get(3)?.result);
    expect(await titles(room)).toHaveLength(2);
  });

  it("keeps at most mutationIdsPerUser ids per user once trimmed: the oldest is forgotten, the newest kept", async () => {
    const room = uniqueRoom();
    const socket = await open(room);
    socket.send(create(1, "oldest", "w-0"));
    socket.send(create(2, "target", "w-target"));
    await answered(socket, [1, 2]);
    // Enough renames (each changes a table, so each is recorded) to pass the per-user count plus its
    // trimming slack, over the user's sockets, one at a time.
    const moves = limits.mutationIdsPerUser + MUTATION_TRIM_EVERY;
    const movers = [socket, await open(room), await open(room)];
    for (let index = 1; index <= moves; index += 1) {
      const mover = movers[index % movers.length]!;
      mover.send(rename(index + 2, index, `w-${index}`));
      await answered(mover, [index + 2]);
    }
    for (const mover of movers) for (const [id, answer] of answers(mover)) expect(answer.error, `answer ${id}`).toBeUndefined();
    const kept = await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_instance, state) =>
      state.storage.sql
        .exec<{ id: string }>("SELECT id FROM _mutations WHERE sub = 'alice' ORDER BY n")
        .toArray()
        .map((row) => row.id),
    );
    expect(kept.length).toBeLessThanOrEqual(limits.mutationIdsPerUser + MUTATION_TRIM_EVERY);
    expect(kept).not.toContain("w-0");
    expect(kept).toContain(`w-${moves}`);
    socket.send(create(1_000, "oldest", "w-0"));
    await answered(socket, [1_000]);
    expect(await titles(room)).toEqual(["oldest", `renamed ${moves}`, "oldest"]);
  });

  it("keeps at most mutationIdsPerRoom ids over all users: the room's oldest are forgotten at the next trim", async () => {
    const room = uniqueRoom();
    const alice = await open(room, "alice");
    const bob = await open(room, "bob");
    alice.send(create(1, "alice's task", "a-target"));
    bob.send(create(1, "bob's task", "b-target"));
    await answered(alice, [1]);
    await answered(bob, [1]);
    // Renames by two users, one at a time: the trim after the MUTATION_TRIM_EVERY-th record cuts the room to its cap.
    const renameOf = (id: number, task: number, n: number, mutationId: string) => ({
      id,
      method: "mutation",
      params: { path: "tasks.update", input: { json: { id: task, title: `renamed ${n}` } }, mutationId },
    });
    const [aliceTask, bobTask] = await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_instance, state) =>
      state.storage.sql
        .exec<{ id: number; title: string }>("SELECT id, title FROM tasks ORDER BY id")
        .toArray()
        .map((row) => row.id),
    );
    for (let n = 1; n <= MUTATION_TRIM_EVERY - 2; n += 1) {
      const [socket, task] = n % 2 === 0 ? [alice, aliceTask!] : [bob, bobTask!];
      socket.send(renameOf(n + 1, task, n, `r-${n}`));
      await answered(socket, [n + 1]);
    }
    const kept = await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_instance, state) =>
      state.storage.sql
        .exec<{ id: string }>("SELECT id FROM _mutations ORDER BY n")
        .toArray()
        .map((row) => row.id),
    );
    expect(kept.length).toBeLessThanOrEqual(limits.mutationIdsPerRoom);
    expect(kept).toContain(`r-${MUTATION_TRIM_EVERY - 2}`);
    expect(kept).not.toContain("a-target");
    expect(kept).not.toContain("b-target");
  });
});
