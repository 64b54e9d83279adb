import { env, evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { AppRouter } from "../../src/app";
import { sealTicket, ticketKey } from "../../src/auth/connect-ticket";
import { closeRoomClient, createRoomClient, reconnectRoomClient, type RoomClient } from "../../src/client";
import type { ConnectionClose } from "../../src/client/room-link";
import { CONNECT_TICKET_TTL_MS, MAX_CONNECT_TICKETS_PER_ROOM, MAX_CONNECT_TICKETS_PER_USER } from "../../src/lib/limits";
import type { RoomName } from "../../src/lib/room-name";
import type { Identity } from "../../src/protocol/identity";
import { ConnectTickets } from "../../src/room/connect-tickets";
import worker from "../../src/worker";
import { closeClients, stockClientFor, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket, WorkerWebSocket } from "../helpers/worker-socket";

afterEach(closeClients);

const roomStub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

function requestTicket(room: string, headers: Record<string, string> = {}, query = ""): Promise<Response> {
  return SELF.fetch(`http://example.com/rooms/${room}/ticket${query}`, { method: "POST", headers });
}

/** A fresh ticket for `room`, issued to a token of `role` and `sub`. */
async function ticketFor(room: string, role: "reader" | "writer" | "admin" = "writer", sub = "alice", token?: string): Promise<string> {
  const response = await requestTicket(room, { authorization: `Bearer ${token ?? (await tokenFor(room, role, sub))}` });
  expect(response.status).toBe(200);
  return ((await response.json()) as { ticket: string }).ticket;
}

function upgradeWith(room: string, ticket: string): Promise<Response> {
  return SELF.fetch(`http://example.com/rooms/${room}/ws?ticket=${encodeURIComponent(ticket)}`, { headers: { upgrade: "websocket" } });
}

async function roomExists(room: string): Promise<boolean> {
  const id = env.ROOMS.idFromName(room);
  return (await listDurableObjectIds(env.ROOMS)).some((existing) => existing.equals(id));
}

async function expectRefused(response: Response, status: number, code: string, message: RegExp): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.webSocket).toBeNull();
  expect(await response.json()).toMatchObject({ error: { code, message: expect.stringMatching(message) } });
}

async function expectAccepted(response: Response): Promise<void> {
  expect(response.status).toBe(101);
  response.webSocket!.accept();
  response.webSocket!.close();
}

describe("connect tickets", () => {
  it("connects with a ticket and carries the token's identity: a reader's socket reads but cannot mutate", async () => {
    const room = uniqueRoom();
    const socket = await RawSocket.open(`/rooms/${room}/ws?ticket=${await ticketFor(room, "reader", "rita")}`);
    socket.send({ id: 1, method: "query", params: { path: "session.whoami" } });
    socket.send({ id: 2, method: "mutation", params: { path: "tasks.create", input: { json: { title: "escalate" } } } });
    const frames = await socket.waitForFrames(2);
    expect(frames).toContainEqual(
      expect.objectContaining({
        id: 1,
        result: expect.objectContaining({ data: expect.objectContaining({ sub: "rita", role: "reader", room }) }),
      }),
    );
    expect(frames).toContainEqual(
      expect.objectContaining({ id: 2, error: expect.objectContaining({ data: expect.objectContaining({ code: "FORBIDDEN" }) }) }),
    );
    socket.close();
  });

  it("answers { ticket, expiresAt }: valid for CONNECT_TICKET_TTL_MS, never past the token's expiry, never cached", async () => {
    const room = uniqueRoom();
    const before = Date.now();
    const response = await requestTicket(room, { authorization: `Bearer ${await tokenFor(room)}` });
    expect(response.headers.get("cache-control")).toBe("no-store");
    const { ticket, expiresAt } = (await response.json()) as { ticket: string; expiresAt: number };
    expect(ticket).toMatch(/^[\w-]{22}\.\d+\.[\w-]{43}$/);
    expect(expiresAt).toBeGreaterThanOrEqual(before + CONNECT_TICKET_TTL_MS);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + CONNECT_TICKET_TTL_MS);

    const shortToken = await tokenFor(room, "writer", "alice", 2);
    const short = (await (await requestTicket(room, { authorization: `Bearer ${shortToken}` })).json()) as { expiresAt: number };
    expect(short.expiresAt).toBeLessThanOrEqual(before + 3_000);
  });

  it("refuses a ticket's second use with 401", async () => {
    const room = uniqueRoom();
    const ticket = await ticketFor(room);
    await expectAccepted(await upgradeWith(room, ticket));
    await expectRefused(await upgradeWith(room, ticket), 401, "INVALID_TICKET", /already used/);
  });

  it("refuses an expired ticket in the Worker, without waking the room", async () => {
    const room = uniqueRoom() as RoomName;
    const key = await ticketKey(env);
    if (!key.ok) throw new Error(key.message);
    const expired = await sealTicket(key.key, room, "A".repeat(22), Date.now() - 1);
    await expectRefused(await upgradeWith(room, expired), 401, "INVALID_TICKET", /expired/);
    expect(await roomExists(room)).toBe(false);
  });

  it("refuses a ticket issued for room A at room B, without creating room B", async () => {
    const roomA = uniqueRoom();
    const roomB = uniqueRoom();
    const ticket = await ticketFor(roomA);
    await expectRefused(await upgradeWith(roomB, ticket), 401, "INVALID_TICKET", /another room/);
    expect(await roomExists(roomB)).toBe(false);
    await expectAccepted(await upgradeWith(roomA, ticket));
  });

  it("refuses malformed, forged and altered tickets without creating the room", async () => {
    const room = uniqueRoom();
    await expectRefused(await upgradeWith(room, "nope"), 401, "INVALID_TICKET", /malformed/);
    await expectRefused(
      await upgradeWith(room, `${"A".repeat(22)}.${Date.now() + 5_000}.${"B".repeat(43)}`),
      401,
      "INVALID_TICKET",
      /forged/,
    );
    const other = uniqueRoom();
    const [id, expiresAt, mac] = (await ticketFor(other)).split(".") as [string, string, string];
    await expectRefused(await upgradeWith(other, `${id}.${Number(expiresAt) + 60_000}.${mac}`), 401, "INVALID_TICKET", /altered/);
    expect(await roomExists(room)).toBe(false);
  });

  it("refuses a ticket request without a bearer token, with a bad one, with ?token=, or for another room, without creating the room", async () => {
    const room = uniqueRoom();
    await expectRefused(await requestTicket(room), 401, "UNAUTHORIZED", /token is required/);
    await expectRefused(await requestTicket(room, { authorization: "Bearer not-a-jwt" }), 401, "UNAUTHORIZED", /./);
    await expectRefused(await requestTicket(room, {}, `?token=${await tokenFor(room)}`), 401, "UNAUTHORIZED", /does not read \?token=/);
    await expectRefused(
      await requestTicket(room, { authorization: `Bearer ${await tokenFor(uniqueRoom())}` }),
      403,
      "FORBIDDEN",
      /does not grant/,
    );
    const get = await SELF.fetch(`http://example.com/rooms/${room}/ticket`, {
      headers: { authorization: `Bearer ${await tokenFor(room)}` },
    });
    expect(get.status).toBe(405);
    expect(await roomExists(room)).toBe(false);
  });

  it("answers 503 naming TICKET_SECRET when only a public key is configured", async () => {
    const room = uniqueRoom();
    const publicOnly = { ...env, AUTH_SECRET: undefined, AUTH_JWKS: JSON.stringify({ keys: [] }) } as unknown as Env;
    const request = new Request(`http://example.com/rooms/${room}/ws?ticket=x`, { headers: { upgrade: "websocket" } });
    const response = await worker.fetch(request as Parameters<typeof worker.fetch>[0], publicOnly);
    await expectRefused(response, 503, "TICKETS_NOT_CONFIGURED", /TICKET_SECRET/);
  });

  it("signs with TICKET_SECRET when it is set, and refuses one shorter than 32 characters with 503", async () => {
    const room = uniqueRoom();
    const call = (request: Request, environment: Env) => worker.fetch(request as Parameters<typeof worker.fetch>[0], environment);
    const ticket = await ticketFor(room);
    const separate = { ...env, TICKET_SECRET: "a-separate-ticket-secret-0123456789abcdef" } as unknown as Env;
    const upgrade = () => new Request(`http://example.com/rooms/${room}/ws?ticket=${ticket}`, { headers: { upgrade: "websocket" } });
    await expectRefused(await call(upgrade(), separate), 401, "INVALID_TICKET", /forged/);
    const short = { ...env, TICKET_SECRET: "short" } as unknown as Env;
    await expectRefused(await call(upgrade(), short), 503, "AUTH_MISCONFIGURED", /TICKET_SECRET/);
    await expectAccepted(await upgradeWith(room, ticket));
  });

  it("fails closed when the room restarts between issue and use: the old ticket is refused, a new one works", async () => {
    const room = uniqueRoom();
    const first = await ticketFor(room);
    await evictDurableObject(roomStub(room), { webSockets: "close" });
    await expectRefused(await upgradeWith(room, first), 401, "INVALID_TICKET", /room restarted/);
    await expectAccepted(await upgradeWith(room, await ticketFor(room)));
  });

  it(`keeps ${MAX_CONNECT_TICKETS_PER_USER} tickets per user in a room and drops the oldest for one more`, async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room);
    const tickets: string[] = [];
    for (let i = 0; i <= MAX_CONNECT_TICKETS_PER_USER; i += 1) tickets.push(await ticketFor(room, "writer", "alice", token));
    await expectRefused(await upgradeWith(room, tickets[0]!), 401, "INVALID_TICKET", /already used/);
    for (const ticket of tickets.slice(1)) await expectAccepted(await upgradeWith(room, ticket));
  });

  it(`refuses one ticket more than ${MAX_CONNECT_TICKETS_PER_ROOM} per room with 429 and retry-after`, async () => {
    const room = uniqueRoom();
    const users = MAX_CONNECT_TICKETS_PER_ROOM / MAX_CONNECT_TICKETS_PER_USER;
    const tokens = await Promise.all(Array.from({ length: users + 1 }, (_, user) => tokenFor(room, "reader", `user-${user}`)));
    for (const token of tokens.slice(0, users)) {
      const answers = await Promise.all(
        Array.from({ length: MAX_CONNECT_TICKETS_PER_USER }, () => requestTicket(room, { authorization: `Bearer ${token}` })),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(MAX_CONNECT_TICKETS_PER_USER).fill(200));
    }
    const refused = await requestTicket(room, { authorization: `Bearer ${tokens[users]}` });
    expect(refused.headers.get("retry-after")).toBe(String(CONNECT_TICKET_TTL_MS / 1000));
    await expectRefused(refused, 429, "TOO_MANY_REQUESTS", new RegExp(`${MAX_CONNECT_TICKETS_PER_ROOM}`));
  });

  it("closes a ticket socket at its token's expiry with 4001, as a token socket", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room, "reader", "sam", 2);
    const socket = await RawSocket.open(`/rooms/${room}/ws?ticket=${await ticketFor(room, "reader", "sam", token)}`);
    const exp = (JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { exp: number }).exp;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now() + 20)));
    await runDurableObjectAlarm(roomStub(room));
    expect(await socket.waitForClose()).toMatchObject({ code: 4001 });
  });

  it("still connects the stock tRPC client with ?token=", async () => {
    const room = uniqueRoom();
    const client = await stockClientFor(room, "reader", "stan");
    expect(await client.session.whoami.query()).toMatchObject({ sub: "stan", role: "reader" });
  });
});

/** A WebSocket class that records the URL of every socket it opens. */
class UrlRecordingSocket extends WorkerWebSocket {
  static urls: string[] = [];
  constructor(url: string) {
    super(url);
    UrlRecordingSocket.urls.push(url);
  }
}

describe("createRoomClient and connect tickets", () => {
  const opened: RoomClient<AppRouter>[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((client) => closeRoomClient(client)));
    UrlRecordingSocket.urls = [];
  });

  function client(room: string, token: string, extra: Partial<Parameters<typeof createRoomClient>[0]> = {}) {
    const made = createRoomClient<AppRouter>({
      url: "http://example.com",
      room,
      token,
      WebSocket: UrlRecordingSocket as unknown as typeof WebSocket,
      fetch: (input, init) => SELF.fetch(input, init),
      ...extra,
    });
    opened.push(made);
    return made;
  }

  it("connects with a fresh ticket on every connect and reconnect, and never puts the token in a URL", async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room, "reader", "tia");
    let opens = 0;
    let reopened: () => void = () => {};
    const reopen = new Promise<void>((resolve) => (reopened = resolve));
    const made = client(room, token, { onOpen: () => (opens += 1) === 2 && reopened() });
    expect(await made.session.whoami.query()).toMatchObject({ sub: "tia", role: "reader" });
    reconnectRoomClient(made);
    await reopen;
    expect(await made.session.whoami.query()).toMatchObject({ sub: "tia" });
    const urls = UrlRecordingSocket.urls;
    expect(urls).toHaveLength(2);
    for (const url of urls) {
      expect(new URL(url).searchParams.get("ticket")).toMatch(/^[\w-]{22}\./);
      expect(url).not.toContain("token=");
      expect(url).not.toContain(token);
    }
    expect(urls[0]).not.toBe(urls[1]);
  });

  it('opens ?token= with connectWith: "token"', async () => {
    const room = uniqueRoom();
    const token = await tokenFor(room);
    const made = client(room, token, { connectWith: "token" });
    expect(await made.session.whoami.query()).toMatchObject({ sub: "alice" });
    expect(new URL(UrlRecordingSocket.urls[0]!).searchParams.get("token")).toBe(token);
  });

  it("reports a refused ticket request as a failed connect, with the reason, and keeps retrying", async () => {
    const room = uniqueRoom();
    const closes: ConnectionClose[] = [];
    let twice: () => void = () => {};
    const retried = new Promise<void>((resolve) => (twice = resolve));
    const made = client(room, await tokenFor(uniqueRoom()), {
      retryWindowMs: 300,
      onClose: (cause) => {
        closes.push(cause ?? {});
        if (closes.length === 2) twice();
      },
    });
    await expect(made.session.whoami.query()).rejects.toThrow(
      /not restored within 0\.3 s \(last: could not connect: connect ticket refused \(HTTP 403 FORBIDDEN.*the query was not answered/,
    );
    await retried;
    expect(closes[0]).toMatchObject({ code: 1006, reason: expect.stringContaining("HTTP 403") });
    expect(closes[1]).toMatchObject({ code: 1006, reason: expect.stringContaining("HTTP 403") });
    expect(UrlRecordingSocket.urls).toEqual([]);
    expect(await roomExists(room)).toBe(false);
  });

  it("retries with backoff when the ticket request fails on the network, and connects once it is back", async () => {
    const room = uniqueRoom();
    let failures = 2;
    const closes: ConnectionClose[] = [];
    const made = client(room, await tokenFor(room), {
      fetch: (input, init) => {
        if (failures > 0) {
          failures -= 1;
          return Promise.reject(new TypeError("network down"));
        }
        return SELF.fetch(input, init);
      },
      onClose: (cause) => closes.push(cause ?? {}),
    });
    let answer: unknown;
    for (let attempt = 0; answer === undefined && attempt < 20; attempt += 1) {
      answer = await made.session.whoami.query().catch(() => undefined);
    }
    expect(answer).toMatchObject({ sub: "alice" });
    expect(closes.slice(0, 2)).toEqual([
      { code: 1006, reason: expect.stringContaining("network down") },
      { code: 1006, reason: expect.stringContaining("network down") },
    ]);
  });
});

describe("a room's ticket store (injected clock)", () => {
  const identity = (sub: string, expiresAt = 1_000_000): Identity => ({ sub, role: "writer", expiresAt });
  function store(start = 0) {
    const clock = { now: start };
    return { clock, tickets: new ConnectTickets(() => clock.now) };
  }
  const issued = (answer: ReturnType<ConnectTickets["issue"]>) => {
    if (!answer.ok) throw new Error(answer.message);
    return answer;
  };

  it("redeems a ticket once, until just before CONNECT_TICKET_TTL_MS has passed", () => {
    const { clock, tickets } = store();
    const first = issued(tickets.issue({ identity: identity("a") }));
    const second = issued(tickets.issue({ identity: identity("a") }));
    expect(first.id).not.toBe(second.id);
    expect(first.expiresAt).toBe(CONNECT_TICKET_TTL_MS);
    clock.now = CONNECT_TICKET_TTL_MS - 1;
    expect(tickets.redeem(first.id)).toEqual(identity("a"));
    expect(tickets.redeem(first.id)).toBeNull();
    clock.now = CONNECT_TICKET_TTL_MS;
    expect(tickets.redeem(second.id)).toBeNull();
    expect(tickets.redeem("never-issued")).toBeNull();
  });

  it("never outlives the token it was issued for", () => {
    const { clock, tickets } = store();
    const ticket = issued(tickets.issue({ identity: identity("a", 500) }));
    expect(ticket.expiresAt).toBe(500);
    clock.now = 500;
    expect(tickets.redeem(ticket.id)).toBeNull();
  });

  it(`holds ${MAX_CONNECT_TICKETS_PER_USER} per user and drops that user's oldest for one more`, () => {
    const { tickets } = store();
    const mine = Array.from({ length: MAX_CONNECT_TICKETS_PER_USER }, () => issued(tickets.issue({ identity: identity("a") })).id);
    const other = issued(tickets.issue({ identity: identity("b") })).id;
    expect(tickets.size).toBe(MAX_CONNECT_TICKETS_PER_USER + 1);
    const newest = issued(tickets.issue({ identity: identity("a") })).id;
    expect(tickets.redeem(mine[0]!)).toBeNull();
    for (const id of [...mine.slice(1), newest, other]) expect(tickets.redeem(id)).not.toBeNull();
  });

  it(`accepts ${MAX_CONNECT_TICKETS_PER_ROOM} per room, refuses one more with 429, and accepts again once they expire`, () => {
    const { clock, tickets } = store();
    for (let n = 0; n < MAX_CONNECT_TICKETS_PER_ROOM; n += 1)
      issued(tickets.issue({ identity: identity(`u${n % (MAX_CONNECT_TICKETS_PER_ROOM / MAX_CONNECT_TICKETS_PER_USER)}`) }));
    expect(tickets.size).toBe(MAX_CONNECT_TICKETS_PER_ROOM);
    expect(tickets.issue({ identity: identity("late") })).toMatchObject({ ok: false, status: 429 });
    // A user at their own cap swaps their oldest ticket instead of being refused.
    expect(tickets.issue({ identity: identity("u0") }).ok).toBe(true);
    clock.now = CONNECT_TICKET_TTL_MS;
    expect(tickets.issue({ identity: identity("late") }).ok).toBe(true);
    expect(tickets.size).toBe(1);
  });

  it("refuses a request that carries no valid identity", () => {
    const { tickets } = store();
    expect(tickets.issue({ identity: { sub: "", role: "owner", expiresAt: 1 } })).toMatchObject({ ok: false, status: 400 });
    expect(tickets.issue(null)).toMatchObject({ ok: false, status: 400 });
  });
});
