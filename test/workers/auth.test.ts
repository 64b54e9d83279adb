import { env, evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { SignJWT, exportSPKI, generateKeyPair } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { signRoomToken } from "../../src/auth/tokens";
import worker from "../../src/worker";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

afterEach(closeClients);

const secret = () => new TextEncoder().encode(env.AUTH_SECRET);

/** Calls the real Worker with a different environment (e.g. the deployable one, without a secret). */
function callWorker(request: Request, environment: Env): Promise<Response> {
  return worker.fetch(request as Parameters<typeof worker.fetch>[0], environment);
}

function upgrade(room: string, init: { token?: string; header?: string } = {}): Promise<Response> {
  const query = init.token === undefined ? "" : `?token=${encodeURIComponent(init.token)}`;
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (init.header) headers["authorization"] = init.header;
  return SELF.fetch(`http://example.com/rooms/${room}/ws${query}`, { headers });
}

async function roomExists(room: string): Promise<boolean> {
  const id = env.ROOMS.idFromName(room);
  return (await listDurableObjectIds(env.ROOMS)).some((existing) => existing.equals(id));
}

async function expectRefused(response: Response, status: number, message: RegExp): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.webSocket).toBeNull();
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.message).toMatch(message);
  expect(JSON.stringify(body)).not.toContain(env.AUTH_SECRET);
}

describe("room tokens are verified in the Worker", () => {
  it("refuses a request without a token with 401 and never creates the room", async () => {
    const room = uniqueRoom();
    await expectRefused(await upgrade(room), 401, /token is required/);
    expect(await roomExists(room)).toBe(false);
  });

  it("accepts the token as ?token= or as an Authorization header", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room);
    const byQuery = await upgrade(room, { token });
    expect(byQuery.status).toBe(101);
    byQuery.webSocket?.accept();
    byQuery.webSocket?.close();
    const byHeader = await upgrade(room, { header: `Bearer ${token}` });
    expect(byHeader.status).toBe(101);
    byHeader.webSocket?.accept();
    byHeader.webSocket?.close();
  });

  it("refuses an expired token", async () => {
    const room = uniqueRoom();
    const token = await new SignJWT({ room, role: "writer" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret());
    await expectRefused(await upgrade(room, { token }), 401, /expired/);
    expect(await roomExists(room)).toBe(false);
  });

  it.each([
    ["a fractional exp", Date.now() / 1000 + 3600.5678],
    ["an exp far in the future", 1e15],
  ])("accepts a token with %s (a legal NumericDate) on a socket and over HTTP", async (_case, exp) => {
    const room = uniqueRoom();
    const token = await new SignJWT({ room, role: "writer", exp }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").sign(secret());
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
    socket.send({ id: 1, method: "query", params: { path: "session.whoami" } });
    const [whoami] = await socket.waitForFrames(1);
    expect(whoami).toMatchObject({ id: 1, result: { data: { sub: "alice", role: "writer" } } });
    socket.close();

    const response = await SELF.fetch(`http://example.com/rooms/${room}/trpc/session.whoami`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
  });

  it("refuses a token signed with another secret", async () => {
    const room = uniqueRoom();
    const token = await signRoomToken(
      { sub: "alice", room, role: "admin", ttlSeconds: 60 },
      "another-secret-that-is-long-enough-0123456789",
    );
    await expectRefused(await upgrade(room, { token }), 401, /signature is invalid/);
  });

  it("refuses an unsigned alg:none token", async () => {
    const room = uniqueRoom();
    const encode = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const token = `${encode({ alg: "none", typ: "JWT" })}.${encode({ sub: "mallory", room, role: "admin", exp: 9_999_999_999 })}.`;
    await expectRefused(await upgrade(room, { token }), 401, /algorithm|malformed|invalid/);
    expect(await roomExists(room)).toBe(false);
  });

  it("refuses a token whose claims were tampered with", async () => {
    const room = uniqueRoom();
    const [header, payload, signature] = (await tokenFor(room, "reader")).split(".") as [string, string, string];
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
    const forged = btoa(JSON.stringify({ ...claims, role: "admin" }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    await expectRefused(await upgrade(room, { token: `${header}.${forged}.${signature}` }), 401, /signature is invalid/);
  });

  it("refuses a token without exp, or with an unknown role", async () => {
    const room = uniqueRoom();
    const noExp = await new SignJWT({ room, role: "writer" }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").sign(secret());
    await expectRefused(await upgrade(room, { token: noExp }), 401, /exp/);
    const badRole = await new SignJWT({ room, role: "owner" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setExpirationTime("1h")
      .sign(secret());
    await expectRefused(await upgrade(room, { token: badRole }), 401, /role/);
  });

  it("answers 403 for a valid token on another room", async () => {
    const roomA = uniqueRoom();
    const roomB = uniqueRoom();
    await expectRefused(await upgrade(roomB, { token: await tokenFor(roomA) }), 403, /does not grant room/);
    expect(await roomExists(roomB)).toBe(false);
  });

  it("matches prefix patterns only inside the prefix", async () => {
    const token = await tokenFor("team-42/*");
    const inside = await upgrade("team-42/board", { token });
    expect(inside.status).toBe(101);
    inside.webSocket?.accept();
    inside.webSocket?.close();
    await expectRefused(await upgrade("team-4", { token }), 403, /does not grant/);
    await expectRefused(await upgrade("team-42", { token }), 403, /does not grant/);
    await expectRefused(await upgrade("team-420/board", { token }), 403, /does not grant/);
  });

  it("verifies ES256 tokens against a configured public key", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const room = uniqueRoom();
    const token = await new SignJWT({ room, role: "reader" })
      .setProtectedHeader({ alg: "ES256" })
      .setSubject("svc")
      .setExpirationTime("5m")
      .sign(privateKey);
    const keyed = { ...env, AUTH_SECRET: undefined, AUTH_PUBLIC_KEY: await exportSPKI(publicKey) } as unknown as Env;
    const request = new Request(`http://example.com/rooms/${room}/ws?token=${token}`, { headers: { upgrade: "websocket" } });
    const accepted = await callWorker(request, keyed);
    expect(accepted.status).toBe(101);
    accepted.webSocket?.accept();
    accepted.webSocket?.close();
    // An HS256 token signed with the public key's text is not accepted (algorithm confusion).
    const confused = await new SignJWT({ room, role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("mallory")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(await exportSPKI(publicKey)));
    const refused = await callWorker(
      new Request(`http://example.com/rooms/${room}/ws?token=${confused}`, { headers: { upgrade: "websocket" } }),
      keyed,
    );
    expect(refused.status).toBe(401);
  });
});

describe("fail closed", () => {
  it("refuses every room request with 503 naming the setting when no key is configured", async () => {
    const room = uniqueRoom();
    const unconfigured = { ...env, AUTH_SECRET: undefined } as unknown as Env;
    const response = await callWorker(
      new Request(`http://example.com/rooms/${room}/ws?token=${await tokenFor(room)}`, { headers: { upgrade: "websocket" } }),
      unconfigured,
    );
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      error: { code: "AUTH_NOT_CONFIGURED", message: expect.stringContaining("AUTH_SECRET") },
    });
    expect(await roomExists(room)).toBe(false);
  });

  it("refuses a secret that is too short to be safe", async () => {
    const room = uniqueRoom();
    const weak = { ...env, AUTH_SECRET: "short" } as unknown as Env;
    const response = await callWorker(new Request(`http://example.com/rooms/${room}/ws`, { headers: { upgrade: "websocket" } }), weak);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "AUTH_MISCONFIGURED" } });
  });

  it("has no development token route unless DEV_TOKENS=true", async () => {
    const response = await SELF.fetch("http://example.com/dev/token", {
      method: "POST",
      body: JSON.stringify({ sub: "alice", room: "r", role: "admin" }),
    });
    expect(response.status).toBe(404);

    const dev = { ...env, DEV_TOKENS: "true" } as unknown as Env;
    const minted = await callWorker(
      new Request("http://example.com/dev/token", { method: "POST", body: JSON.stringify({ sub: "alice", room: "r", role: "admin" }) }),
      dev,
    );
    expect(minted.status).toBe(200);
    const { token } = (await minted.json()) as { token: string };
    expect(token.split(".")).toHaveLength(3);
    const bad = await callWorker(
      new Request("http://example.com/dev/token", { method: "POST", body: JSON.stringify({ sub: "alice", room: "r", role: "root" }) }),
      dev,
    );
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { message: expect.stringContaining("role") } });
  });
});

describe("roles are enforced by the router", () => {
  it("lets a reader query but not mutate", async () => {
    const reader = await clientFor(uniqueRoom(), "reader", "rita");
    expect((await reader.tasks.list.query()).items).toEqual([]);
    await expect(reader.tasks.create.mutate({ title: "nope" })).rejects.toMatchObject({
      data: { code: "FORBIDDEN" },
      message: expect.stringContaining("requires the writer role"),
    });
  });

  it("records the authenticated user as the creator", async () => {
    const writer = await clientFor(uniqueRoom(), "writer", "wendy");
    expect((await writer.tasks.create.mutate({ title: "mine" })).created_by).toBe("wendy");
  });

  it("keeps identity and role after the room hibernates and wakes", async () => {
    const room = uniqueRoom();
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader", "hana")}`);
    socket.send({ id: 1, method: "query", params: { path: "session.whoami" } });
    await socket.waitForFrames(1);
    await evictDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), { webSockets: "hibernate" });
    socket.send({ id: 2, method: "query", params: { path: "session.whoami" } });
    socket.send({ id: 3, method: "mutation", params: { path: "tasks.create", input: { json: { title: "x" } } } });
    const [, whoami, create] = await socket.waitForFrames(3);
    expect(whoami).toMatchObject({ id: 2, result: { data: { sub: "hana", role: "reader", room } } });
    expect(create).toMatchObject({ id: 3, error: { data: { code: "FORBIDDEN" } } });
    socket.close();
  });

  it("does not let connectionParams raise the role", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room, "reader", "rita", { connectionParams: { role: "admin", sub: "root" } });
    expect(await client.session.whoami.query()).toMatchObject({ sub: "rita", role: "reader" });
    await expect(client.tasks.create.mutate({ title: "escalate" })).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
  });

  it("answers a call on an expired socket with UNAUTHORIZED, then closes it with 4001", async () => {
    const room = uniqueRoom();
    const token = await signRoomToken({ sub: "alice", room, role: "writer", ttlSeconds: 1 }, env.AUTH_SECRET);
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
    // Take the alarm away, so that the call is what meets the expired socket.
    await withoutAlarm(room);
    await untilExpired(token);
    socket.send({ id: 1, method: "query", params: { path: "tasks.list" } });
    expect(await socket.waitForClose()).toMatchObject({ code: 4001 });
    expect(socket.frames).toEqual([
      expect.objectContaining({ id: 1, error: expect.objectContaining({ data: expect.objectContaining({ code: "UNAUTHORIZED" }) }) }),
    ]);
    expect((socket.frames[0] as { error: { message: string } }).error.message).toContain("token expired");
  });
});

describe("a socket's token expiry ends its stream", () => {
  const subscribe = { id: "s", method: "subscription", params: { path: "tasks.changes" } };
  const create = (id: number, title: string) => ({ id, method: "mutation", params: { path: "tasks.create", input: { json: { title } } } });

  it("delivers nothing to a subscriber after its token expires and closes it with 4001", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room, "reader", "sam", 2);
    const subscriber = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
    subscriber.send(subscribe);
    await subscriber.waitForFrames(2); // started, ready
    const writer = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room)}`);
    writer.send(create(1, "while valid"));
    await subscriber.waitForFrames(3);
    // Without the alarm, only the check before each push stands between the change and the socket.
    await withoutAlarm(room);
    await untilExpired(token);

    writer.send(create(2, "after expiry"));
    await writer.waitForFrames(2);
    expect(await subscriber.waitForClose()).toMatchObject({ code: 4001 });
    expect(subscriber.frames).toHaveLength(3);
    writer.close();
  });

  it("closes a silent subscriber at its token's expiry through the room's alarm", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room, "reader", "sam", 2);
    const subscriber = await RawSocket.open(`/rooms/${room}/ws?token=${token}`);
    subscriber.send(subscribe);
    await subscriber.waitForFrames(2);
    await untilExpired(token);
    // The alarm is due now; run it rather than wait for the runtime (it may already have run).
    await runDurableObjectAlarm(env.ROOMS.get(env.ROOMS.idFromName(room)));
    expect(await subscriber.waitForClose()).toMatchObject({ code: 4001, reason: expect.stringContaining("token expired") });
    expect(subscriber.frames).toHaveLength(2);
  });
});

/** Deletes the room's storage alarm (the room still believes it is set, so it is not set again). */
async function withoutAlarm(room: string): Promise<void> {
  await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_instance, state) => state.storage.deleteAlarm());
}

/** Waits (the runtime's clock is real) until the token's `exp` has passed. */
async function untilExpired(token: string): Promise<void> {
  const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { exp: number };
  const wait = payload.exp * 1000 - Date.now() + 20;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
