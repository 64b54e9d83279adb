/**
 * A room whose SQLite is behind the code (a table or column missing, a
 * migration that failed) answers every caller with an error naming what is
 * wrong, on every transport, and logs it — never a bare close.
 */
import { env, evictDurableObject, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { closeClients, clientFor, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";
import { TableQuotas } from "../../src/live/table-quotas";

const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await closeClients();
  vi.restoreAllMocks();
});

/** Creates a room with one task, then breaks its schema with `ddl` and evicts it so the next call wakes a fresh instance. */
async function breakRoom(ddl: string): Promise<string> {
  const room = uniqueRoom("broken");
  const client = await clientFor(room, "writer");
  await client.tasks.create.mutate({ title: "before the break" });
  await closeClients();
  const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
  await runInDurableObject(stub, (_instance, state) => {
    // Drift made by hand, outside migrations: the quota triggers name columns, so they go first
    // (a migration drops them itself, see applyRoomMigrations).
    new TableQuotas(state.storage.sql).dropTriggers();
    state.storage.sql.exec(ddl);
  });
  await evictDurableObject(stub, { webSockets: "close" });
  return room;
}

describe("a room whose schema is behind the code", () => {
  it("answers WebSocket calls with an error naming the missing table, and logs it", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const room = await breakRoom("DROP TABLE tasks");
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "writer")}`);
    sockets.push(socket);
    socket.send({ id: 1, method: "query", params: { path: "tasks.list", input: { json: {} } } });
    socket.send({ action: "rpc", method: "getCursors", requestId: "r1" });
    const frames = (await socket.waitForFrames(2)) as Record<string, unknown>[];
    expect(frames[0]).toMatchObject({ id: 1, error: { message: expect.stringContaining('table "tasks" is missing') } });
    // Seed frames are plain JSON (the recorder decodes superjson): read the raw text.
    expect(JSON.parse(socket.raw[1] as string)).toMatchObject({
      type: "error",
      requestId: "r1",
      error: { code: "INTERNAL_SERVER_ERROR", message: expect.stringContaining('table "tasks" is missing') },
    });
    expect(logged).toHaveBeenCalledWith(expect.stringContaining("room unavailable"), expect.anything());
  });

  it("answers an oversized batch with one error, not one per request", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const room = await breakRoom("DROP TABLE tasks");
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "writer")}`);
    sockets.push(socket);
    socket.send(Array.from({ length: 5_000 }, (_, id) => ({ id, method: "query", params: { path: "tasks.list" } })));
    socket.send({ id: "last", method: "query", params: { path: "tasks.list" } });
    const frames = (await socket.waitForFrames(2)) as Record<string, unknown>[];
    expect(frames[0]).toMatchObject({ id: null, error: { message: expect.stringContaining('table "tasks" is missing') } });
    expect(frames[1]).toMatchObject({ id: "last" });
    expect(socket.frames).toHaveLength(2);
  });

  it("answers HTTP calls with an error naming the missing column", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const room = await breakRoom("ALTER TABLE tasks DROP COLUMN assignee");
    const response = await SELF.fetch(`https://example.com/rooms/${room}/trpc/tasks.list`, {
      headers: { authorization: `Bearer ${await tokenFor(room, "reader")}` },
    });
    const body = (await response.json()) as { error: { json: { message: string; data: { code: string } } } };
    expect(response.status).toBe(500);
    expect(body.error.json.message).toContain('table "tasks" has no column "assignee"');
    expect(body.error.json.data.code).toBe("INTERNAL_SERVER_ERROR");
  });
});
