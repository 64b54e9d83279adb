/**
 * One-shot tRPC over HTTP: /rooms/<room>/trpc/<path>, the token in the
 * Authorization header, each call forwarded to the room.
 */
import { SELF } from "cloudflare:test";
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from "@trpc/client";
import superjson, { type SuperJSONResult } from "superjson";
import { afterEach, describe, expect, it } from "vitest";
import type { AppRouter } from "../../src/app";
import type { Task } from "../../schema";
import type { FeedEvent } from "../../src/live/feeds";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { recorder } from "../helpers/recorder";

afterEach(closeClients);

const base = (room: string) => `http://example.com/rooms/${room}/trpc`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
/** A token of this file's caller ("http-caller"). */
const tokenAs = (room: string, role: "reader" | "writer" = "writer") => tokenFor(room, role, "http-caller");

/** A raw tRPC HTTP call; the body decoded from superjson. */
async function call(
  room: string,
  path: string,
  { input, token, method }: { input?: unknown; token?: string; method?: "GET" | "POST" } = {},
): Promise<{ status: number; headers: Headers; body: { result?: { data: unknown }; error?: unknown } }> {
  const verb = method ?? "POST";
  const serialized = input === undefined ? undefined : JSON.stringify(superjson.serialize(input));
  const url = verb === "GET" && serialized ? `${base(room)}/${path}?input=${encodeURIComponent(serialized)}` : `${base(room)}/${path}`;
  const response = await SELF.fetch(url, {
    method: verb,
    headers: { "content-type": "application/json", ...(token ? bearer(token) : {}) },
    ...(verb === "POST" && serialized ? { body: serialized } : {}),
  });
  const json = (await response.json()) as { result?: { data: SuperJSONResult }; error?: SuperJSONResult };
  return {
    status: response.status,
    headers: response.headers,
    body: json.error ? { error: superjson.deserialize(json.error) } : { result: { data: superjson.deserialize(json.result!.data) } },
  };
}

/** The stock tRPC HTTP client, sending through this Worker. */
function httpClient(room: string, token: string, batch = false) {
  const fetch = (url: string | URL | Request, init?: unknown) => SELF.fetch(String(url), init as RequestInit | undefined);
  const options = { url: base(room), transformer: superjson, headers: bearer(token), fetch };
  return createTRPCClient<AppRouter>({ links: [batch ? httpBatchLink(options) : httpLink(options)] });
}

describe("one-shot tRPC calls over HTTP", () => {
  it("runs a mutation with a token and refuses it without one, touching nothing", async () => {
    const room = uniqueRoom();
    const refused = await call(room, "tasks.create", { input: { title: "anonymous" } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("Bearer");
    expect(refused.body.error).toMatchObject({
      data: { code: "UNAUTHORIZED", httpStatus: 401 },
      message: expect.stringContaining("token is required"),
    });

    const created = await call(room, "tasks.create", { input: { title: "from curl", priority: 1 }, token: await tokenAs(room) });
    expect(created.status).toBe(200);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const task = created.body.result!.data as Task & { seq: number };
    expect(task).toMatchObject({ id: 1, title: "from curl", priority: 1, created_by: "http-caller", seq: 1 });
    expect(task.created_at).toBeInstanceOf(Date);

    const listed = await call(room, "tasks.list", { method: "GET", token: await tokenAs(room, "reader") });
    expect((listed.body.result!.data as { items: Task[] }).items.map((item) => item.title)).toEqual(["from curl"]);
  });

  it("takes the token from the Authorization header only, and checks its room", async () => {
    const room = uniqueRoom();
    const inQuery = await SELF.fetch(`${base(room)}/tasks.list?token=${await tokenAs(room)}`);
    expect(inQuery.status).toBe(401);
    expect(await inQuery.json()).toMatchObject({ error: { json: { message: expect.stringContaining("does not read ?token=") } } });
    const otherRoom = await call(room, "tasks.list", { method: "GET", token: await tokenAs("elsewhere") });
    expect(otherRoom).toMatchObject({ status: 403, body: { error: { data: { code: "FORBIDDEN" } } } });
    const garbage = await call(room, "tasks.list", { method: "GET", token: "not-a-jwt" });
    expect(garbage).toMatchObject({ status: 401, body: { error: { data: { code: "UNAUTHORIZED" }, message: "token is malformed" } } });
  });

  it("answers the room's validation and role errors in the room's shape", async () => {
    const room = uniqueRoom();
    const invalid = await call(room, "tasks.create", { input: { title: "" }, token: await tokenAs(room) });
    expect(invalid).toMatchObject({
      status: 400,
      body: {
        error: { data: { code: "BAD_REQUEST", path: "tasks.create", issues: [{ path: "title", message: "title must not be empty" }] } },
      },
    });
    const forbidden = await call(room, "tasks.create", { input: { title: "reader" }, token: await tokenAs(room, "reader") });
    expect(forbidden).toMatchObject({
      status: 403,
      body: {
        error: { data: { code: "FORBIDDEN", issues: null }, message: '"tasks.create" requires the writer role; your token grants reader' },
      },
    });
    const missing = await call(room, "tasks.get", { method: "GET", input: { id: 42 }, token: await tokenAs(room) });
    expect(missing).toMatchObject({ status: 404, body: { error: { data: { code: "NOT_FOUND" }, message: "task 42 does not exist" } } });
  });

  it("refuses unknown paths, wrong methods and subscriptions with clear errors", async () => {
    const room = uniqueRoom();
    const token = await tokenAs(room);
    expect(await call(room, "tasks.nope", { method: "GET", token })).toMatchObject({
      status: 404,
      body: { error: { data: { code: "NOT_FOUND" } } },
    });
    const getMutation = await call(room, "tasks.create", { method: "GET", input: { title: "x" }, token });
    expect(getMutation).toMatchObject({ status: 405, body: { error: { data: { code: "METHOD_NOT_SUPPORTED" } } } });
    const subscription = await call(room, "tasks.changes", { method: "GET", token });
    expect(subscription).toMatchObject({
      status: 405,
      body: { error: { data: { code: "METHOD_NOT_SUPPORTED" }, message: expect.stringContaining("subscribe over the WebSocket route") } },
    });
  });

  it("refuses a body over 1 MiB with PAYLOAD_TOO_LARGE", async () => {
    const room = uniqueRoom();
    const response = await SELF.fetch(`${base(room)}/tasks.create`, {
      method: "POST",
      headers: bearer(await tokenAs(room)),
      body: JSON.stringify({ json: { title: "x", description: "y".repeat(1_100_000) } }),
    });
    expect(response.status).toBe(413);

    // Without a content-length the body is counted while it is read, and the rest of the
    // upload is cancelled (workerd logs "read end of pipe was aborted": expected).
    const chunk = new TextEncoder().encode("y".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await SELF.fetch(`${base(room)}/tasks.create`, {
      method: "POST",
      headers: bearer(await tokenAs(room)),
      body: stream,
    });
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ error: { json: { data: { code: "PAYLOAD_TOO_LARGE" } } } });
  });

  it("works with the stock httpLink and httpBatchLink clients", async () => {
    const room = uniqueRoom();
    const token = await tokenAs(room);
    const client = httpClient(room, token);
    const task = await client.tasks.create.mutate({ title: "over httpLink" });
    expect(task.created_at).toBeInstanceOf(Date);
    const error = await client.tasks.create.mutate({ title: "" }).catch((cause: unknown) => cause);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.issues).toEqual([expect.objectContaining({ path: "title" })]);

    const batched = httpClient(room, token, true);
    const [one, two, list] = await Promise.all([
      batched.tasks.create.mutate({ title: "batched one" }),
      batched.tasks.create.mutate({ title: "batched two" }),
      batched.session.whoami.query(),
    ]);
    expect([one.title, two.title]).toEqual(["batched one", "batched two"]);
    expect(list).toMatchObject({ room, sub: "http-caller", role: "writer" });
  });

  it("delivers a mutation made over HTTP to a WebSocket subscriber of the room", async () => {
    const room = uniqueRoom();
    const watcher = await clientFor(room, "reader", "watcher");
    const seen = recorder<FeedEvent<Task>>();
    const subscription = watcher.tasks.changes.subscribe(undefined, { onData: (event) => seen.push(event.data) });
    await seen.waitFor(1);
    await call(room, "tasks.create", { input: { title: "posted" }, token: await tokenAs(room) });
    const [, change] = await seen.waitFor(2);
    expect(change).toMatchObject({ type: "change", op: "insert", row: { title: "posted" } });
    subscription.unsubscribe();
  });

  it("routes rooms whose names contain slashes, encoded or not", async () => {
    for (const [path, room] of [
      ["team-7/board", "team-7/board"],
      ["team-8%2Fboard", "team-8/board"],
      ["a/trpc", "a/trpc"],
    ] as const) {
      const response = await SELF.fetch(`http://example.com/rooms/${path}/trpc/session.whoami`, { headers: bearer(await tokenAs(room)) });
      expect(response.status, path).toBe(200);
      const body = (await response.json()) as { result: { data: SuperJSONResult } };
      expect(superjson.deserialize(body.result.data), path).toMatchObject({ room });
    }
    const bad = await SELF.fetch("http://example.com/rooms/bad%20room/trpc/session.whoami");
    expect(bad.status).toBe(400);
  });
});
