/**
 * The seed's JSON protocol against the app under test (APP_FIXTURE): a seed
 * client subscribes to the app's table by name and hears every write to it;
 * a table without a change feed is refused with the list of those it accepts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { pathClientFor } from "../helpers/path-client";
import { RawSocket } from "../helpers/worker-socket";
import { appFixture } from "./fixtures";

const app = appFixture();
const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  await closeClients();
});

/** Seed frames are plain JSON: read the raw text the socket received. */
const rawFrames = (socket: RawSocket) => socket.raw.map((text) => JSON.parse(text as string) as Record<string, unknown>);

describe(`the seed protocol over ${app.table}`, () => {
  it("subscribes to the app's table by name and pushes each write", async () => {
    const room = uniqueRoom("seed");
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader", "bob")}`);
    sockets.push(socket);
    socket.send({ action: "subscribe", table: app.table, requestId: "s1" });
    await socket.waitForFrames(1);
    expect(rawFrames(socket)[0]).toEqual({ type: "subscribed", table: app.table, seq: 0, requestId: "s1" });

    const writer = await pathClientFor(room, "writer");
    const created = await writer.mutate<{ id: number; seq: number }>(app.paths.create, app.create("seeded"));
    await socket.waitForFrames(2);
    expect(rawFrames(socket)[1]).toMatchObject({
      event: "update",
      table: app.table,
      action: "added",
      seq: created.seq,
      row: { id: created.id, [app.labelColumn]: "seeded" },
    });
  });

  it("refuses a table without a change feed, naming the ones it accepts", async () => {
    const room = uniqueRoom("seed");
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "reader")}`);
    sockets.push(socket);
    socket.send({ action: "subscribe", table: "_debounced_state", requestId: "s2" });
    await socket.waitForFrames(1);
    expect(rawFrames(socket)[0]).toMatchObject({
      type: "rpc_error",
      requestId: "s2",
      error: { code: "NOT_FOUND", field: "table", message: expect.stringContaining(`known: ${app.table}`) },
    });
  });
});
