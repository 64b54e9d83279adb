/**
 * Service bindings: the example consumer Worker (examples/consumer, an
 * auxiliary Worker of this test pool) calls rooms through its binding to the
 * RoomService entrypoint; the typed service client is also used directly,
 * through this Worker's own RoomService export.
 */
import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { TRPCClientError } from "@trpc/client";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { createServiceClient, type RoomServiceBinding, type ServiceIdentity } from "../../src/client";
import type { AppRouter } from "../../src/app";
import type { Task } from "../../schema";
import type { Identity } from "../../src/protocol/identity";
import type { RoomName } from "../../src/lib/room-name";
import type { FeedEvent } from "../../src/live/feeds";
import { loadServicePolicy, refuseServiceCall } from "../../src/service/service-policy";
import type { RoomService } from "../../src/worker";
import { clientFor, closeClients, uniqueRoom } from "../helpers/clients";
import { recorder } from "../helpers/recorder";

afterEach(closeClients);

/** This Worker's own RoomService entrypoint, as a service binding. */
const roomService = (exports as unknown as { RoomService: Service<RoomService> }).RoomService;
const writer: ServiceIdentity = { sub: "billing-cron", role: "writer" };

/** A request to the consumer Worker; its JSON answer. */
async function consumer(path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await env.CONSUMER.fetch(`http://consumer${path}`, init);
  return { status: response.status, body: await response.json() };
}

const post = (room: string, body: unknown, query = "") =>
  consumer(`/tasks?room=${room}${query}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the consumer Worker, through its service binding", () => {
  it("creates, lists and deletes tasks in a room", async () => {
    const room = uniqueRoom();
    const created = await post(room, { title: "Send invoices", priority: 2 });
    expect(created.status).toBe(201);
    // The consumer calls task.created_at.toISOString(): the Date survived the binding.
    expect(created.body).toMatchObject({ id: 1, title: "Send invoices", seq: 1, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });

    await post(room, { title: "Chase payments" });
    const listed = await consumer(`/tasks?room=${room}`);
    expect(listed).toEqual({
      status: 200,
      body: [
        { id: 1, title: "Send invoices", status: "pending", createdBy: "consumer-worker" },
        { id: 2, title: "Chase payments", status: "pending", createdBy: "consumer-worker" },
      ],
    });

    expect(await consumer(`/tasks/1?room=${room}`, { method: "DELETE" })).toEqual({ status: 200, body: { id: 1, deleted: true, seq: 3 } });
    expect((await consumer(`/tasks?room=${room}`)).body).toEqual([expect.objectContaining({ id: 2 })]);
    // Deleting it again: the room's NOT_FOUND reaches the consumer as a typed error.
    expect(await consumer(`/tasks/1?room=${room}`, { method: "DELETE" })).toMatchObject({
      status: 404,
      body: { error: { code: "NOT_FOUND" } },
    });
  });

  it("gets a validation error as a typed TRPCClientError with field issues", async () => {
    const room = uniqueRoom();
    expect(await post(room, { title: "   " })).toEqual({
      status: 400,
      body: {
        error: {
          code: "BAD_REQUEST",
          message: expect.any(String),
          issues: [{ path: "title", message: "title must not be empty", code: "too_small" }],
        },
      },
    });
    expect((await consumer(`/tasks?room=${room}`)).body).toEqual([]);
  });

  it("gets FORBIDDEN as a typed error when it acts as a reader", async () => {
    const room = uniqueRoom();
    expect(await post(room, { title: "not allowed" }, "&as=reader")).toEqual({
      status: 403,
      body: {
        error: { code: "FORBIDDEN", message: '"tasks.create" requires the writer role; your token grants reader', issues: null },
      },
    });
  });

  it("delivers a change made through the binding to a WebSocket subscriber of the room", async () => {
    const room = uniqueRoom();
    const watcher = await clientFor(room, "reader", "watcher");
    const seen = recorder<FeedEvent<Task>>();
    const subscription = watcher.tasks.changes.subscribe(undefined, { onData: (event) => seen.push(event.data) });
    await seen.waitFor(1);
    expect(seen.events[0]).toEqual({ type: "ready", seq: 0 });

    const created = await post(room, { title: "made by another Worker" });
    const [, change] = await seen.waitFor(2);
    expect(change).toMatchObject({
      type: "change",
      op: "insert",
      id: (created.body as { id: number }).id,
      row: { title: "made by another Worker", created_by: "consumer-worker" },
    });

    await consumer(`/tasks/${(created.body as { id: number }).id}?room=${room}`, { method: "DELETE" });
    const [, , deleted] = await seen.waitFor(3);
    expect(deleted).toMatchObject({ type: "change", op: "delete", row: null });
    subscription.unsubscribe();
  });
});

describe("createServiceClient", () => {
  it("returns the router's types, with Dates as Dates", async () => {
    const client = createServiceClient<AppRouter>(roomService, { room: uniqueRoom(), identity: writer });
    const task = await client.tasks.create.mutate({ title: "typed" });
    expectTypeOf(task).toEqualTypeOf<Task & { seq: number }>();
    expect(task.created_at).toBeInstanceOf(Date);
    expect(task.created_by).toBe("billing-cron");
    const { seq: _seq, ...row } = task;
    expect(await client.tasks.get.query({ id: task.id })).toEqual(row);
    expect(await client.session.whoami.query()).toMatchObject({ sub: "billing-cron", role: "writer", name: null });
  });

  it("accepts Service<RoomService>, the type `wrangler types` generates for the binding", () => {
    expectTypeOf<Service<RoomService>>().toExtend<RoomServiceBinding>();
  });

  it("throws TRPCClientError with the tRPC code for validation errors and missing rows", async () => {
    const client = createServiceClient<AppRouter>(roomService, { room: uniqueRoom(), identity: writer });
    const invalid = await client.tasks.create.mutate({ title: "x".repeat(501) }).catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(TRPCClientError);
    expect((invalid as TRPCClientError<AppRouter>).data).toMatchObject({
      code: "BAD_REQUEST",
      httpStatus: 400,
      path: "tasks.create",
      issues: [expect.objectContaining({ path: "title", message: "title must be at most 500 characters" })],
    });
    await expect(client.tasks.get.query({ id: 999 })).rejects.toMatchObject({
      data: { code: "NOT_FOUND" },
      message: "task 999 does not exist",
    });
  });

  it("enforces roles and grants like a WebSocket call", async () => {
    const room = uniqueRoom();
    const reader = createServiceClient<AppRouter>(roomService, { room, identity: { sub: "dashboard", role: "reader" } });
    await expect(reader.tasks.create.mutate({ title: "no" })).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    await expect(reader.sql.query.query({ sql: "SELECT 1 AS one" })).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    const analyst = createServiceClient<AppRouter>(roomService, {
      room,
      identity: { sub: "analyst", role: "reader", grants: ["analytics"] },
    });
    expect(await analyst.sql.query.query({ sql: "SELECT 1 AS one" })).toMatchObject({ columns: ["one"], rows: [[1]] });
  });

  it("refuses an expired identity with UNAUTHORIZED", async () => {
    const client = createServiceClient<AppRouter>(roomService, { room: uniqueRoom(), identity: { ...writer, expiresAt: Date.now() - 1 } });
    await expect(client.tasks.list.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
  });

  it("refuses a malformed identity, room or path with BAD_REQUEST before any procedure runs", async () => {
    const room = uniqueRoom();
    const nobody = createServiceClient<AppRouter>(roomService, { room, identity: { sub: "", role: "writer" } });
    await expect(nobody.tasks.list.query()).rejects.toMatchObject({
      data: { code: "BAD_REQUEST" },
      message: "the asserted identity is invalid: sub",
    });
    const superuser = createServiceClient<AppRouter>(roomService, { room, identity: { sub: "x", role: "root" as "admin" } });
    await expect(superuser.tasks.list.query()).rejects.toMatchObject({
      data: { code: "BAD_REQUEST" },
      message: expect.stringContaining("role"),
    });
    const badRoom = createServiceClient<AppRouter>(roomService, { room: "../etc", identity: writer });
    await expect(badRoom.tasks.list.query()).rejects.toMatchObject({ data: { code: "BAD_REQUEST" } });

    const raw = JSON.parse(await roomService.call(room, writer, "tasks.nope", "query")) as { ok: false; error: { data: { code: string } } };
    expect(raw).toMatchObject({ ok: false, error: { data: { code: "NOT_FOUND" } } });
    const garbage = JSON.parse(await roomService.call(room, writer, "tasks.create", "mutation", "{not json")) as { ok: boolean };
    expect(garbage).toMatchObject({
      ok: false,
      error: { data: { code: "BAD_REQUEST" }, message: "input is not superjson-serialized JSON" },
    });
  });

  it("refuses subscriptions: they need a WebSocket", async () => {
    const client = createServiceClient<AppRouter>(roomService, { room: uniqueRoom(), identity: writer });
    const failure = new Promise<unknown>((resolve) => client.tasks.changes.subscribe(undefined, { onError: resolve }));
    expect(await failure).toMatchObject({ message: expect.stringContaining("subscriptions need a WebSocket") });
    const raw = JSON.parse(await roomService.call(uniqueRoom(), writer, "tasks.changes", "subscription" as "query")) as object;
    expect(raw).toMatchObject({ ok: false, error: { data: { code: "METHOD_NOT_SUPPORTED" } } });
  });
});

describe("the Room's call method (Workers RPC)", () => {
  it("answers a malformed request with BAD_REQUEST as a value, never a rejection", async () => {
    const room = uniqueRoom();
    const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
    const noIdentity = { room, identity: { sub: "x" }, path: "tasks.list", type: "query" } as unknown as Parameters<typeof stub.call>[0];
    expect(JSON.parse(await stub.call(noIdentity))).toMatchObject({
      ok: false,
      error: { data: { code: "BAD_REQUEST" }, message: expect.stringContaining("identity.role") },
    });
    const badRoom = {
      room: "a//b",
      identity: { sub: "x", role: "reader", expiresAt: Date.now() + 60_000 },
      path: "tasks.list",
      type: "query",
    } as const;
    expect(JSON.parse(await stub.call(badRoom))).toMatchObject({ ok: false, error: { data: { code: "BAD_REQUEST" } } });
  });
});

describe("the service policy (SERVICE_MAX_ROLE, SERVICE_ROOM_PATTERN)", () => {
  const room = (name: string) => name as RoomName;
  const as = (role: Identity["role"], grants?: Identity["grants"]) => ({ role, ...(grants ? { grants } : {}) });

  it("trusts bound Workers fully when unset", () => {
    const policy = loadServicePolicy({});
    expect(policy).toEqual({ ok: true, policy: { maxRole: "admin", roomPattern: "*" } });
    if (policy.ok) expect(refuseServiceCall(policy.policy, room("any/room"), as("admin", ["analytics"]))).toBeNull();
  });

  it("caps the role and refuses grants below admin", () => {
    const policy = loadServicePolicy({ SERVICE_MAX_ROLE: "writer" });
    if (!policy.ok) throw new Error(policy.message);
    expect(refuseServiceCall(policy.policy, room("r"), as("writer"))).toBeNull();
    expect(refuseServiceCall(policy.policy, room("r"), as("reader"))).toBeNull();
    expect(refuseServiceCall(policy.policy, room("r"), as("admin"))).toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringContaining("SERVICE_MAX_ROLE"),
    });
    expect(refuseServiceCall(policy.policy, room("r"), as("reader", ["analytics"]))).toMatchObject({ code: "FORBIDDEN" });
  });

  it("limits the rooms to a pattern", () => {
    const policy = loadServicePolicy({ SERVICE_ROOM_PATTERN: "jobs/*" });
    if (!policy.ok) throw new Error(policy.message);
    expect(refuseServiceCall(policy.policy, room("jobs/nightly"), as("writer"))).toBeNull();
    expect(refuseServiceCall(policy.policy, room("jobs"), as("writer"))).toMatchObject({ code: "FORBIDDEN" });
    expect(refuseServiceCall(policy.policy, room("team-1/board"), as("writer"))).toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringContaining("SERVICE_ROOM_PATTERN"),
    });
  });

  it("fails closed on a value it does not understand", () => {
    expect(loadServicePolicy({ SERVICE_MAX_ROLE: "owner" })).toMatchObject({
      ok: false,
      message: expect.stringContaining("SERVICE_MAX_ROLE"),
    });
  });
});
