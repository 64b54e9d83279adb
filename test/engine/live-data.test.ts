/**
 * The engine's live data against the app under test (APP_FIXTURE): a table's
 * change feed (ready, insert/update/delete with rows, resume from lastEventId
 * with no gap and no duplicate) and its live query (initial result, a push per
 * write, resumed after hibernation without a re-send).
 */
import { env, evictDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { LiveWindowRows } from "../../src/client/live-window";
import type { FeedEvent } from "../../src/live/feeds";
import type { WindowEvent } from "../../src/protocol/live-events";
import { closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { pathClientFor } from "../helpers/path-client";
import { recorder } from "../helpers/recorder";
import { eventsOf, requestFrame, waitForEvents } from "../helpers/socket-events";
import { RawSocket } from "../helpers/worker-socket";
import { appFixture } from "./fixtures";

type Row = Record<string, unknown> & { id: number };
type Written = Row & { seq: number };

const app = appFixture();
const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  await closeClients();
});

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));
const withoutSeq = ({ seq: _seq, ...row }: Written): Row => row;

async function open(room: string, role: "reader" | "writer" = "writer"): Promise<RawSocket> {
  const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, role)}`);
  sockets.push(socket);
  return socket;
}

describe(`the change feed of ${app.table}`, () => {
  it("sends ready, then each insert, update and delete with the row as written", async () => {
    const room = uniqueRoom("feed");
    const writer = await pathClientFor(room, "writer");
    const watcher = await pathClientFor(room, "reader", "bob");
    const seen = recorder<FeedEvent<Row>>();
    watcher.subscribe<{ data: FeedEvent<Row> }>(app.paths.changes, undefined, (event) => seen.push(event.data));
    expect((await seen.waitFor(1))[0]).toEqual({ type: "ready", seq: 0 });

    const created = await writer.mutate<Written>(app.paths.create, app.create("first"));
    expect(created[app.labelColumn]).toBe("first");
    expect((await seen.waitFor(2))[1]).toEqual({
      type: "change",
      op: "insert",
      table: app.table,
      id: created.id,
      seq: created.seq,
      row: withoutSeq(created),
    });

    const updated = await writer.mutate<Written>(app.paths.update, { id: created.id, ...app.update.set });
    expect(updated[app.update.column]).toEqual(app.update.set[app.update.column]);
    expect((await seen.waitFor(3))[2]).toEqual({
      type: "change",
      op: "update",
      table: app.table,
      id: created.id,
      seq: updated.seq,
      row: withoutSeq(updated),
    });

    const deleted = await writer.mutate<{ id: number; deleted: true; seq: number }>(app.paths.delete, { id: created.id });
    expect((await seen.waitFor(4))[3]).toEqual({
      type: "change",
      op: "delete",
      table: app.table,
      id: created.id,
      seq: deleted.seq,
      row: null,
    });
    expect([created.seq, updated.seq, deleted.seq]).toEqual([1, 2, 3]);
  });

  it("replays exactly the changes missed while disconnected, then continues with no duplicate", async () => {
    const room = uniqueRoom("feed");
    const first = await open(room, "reader");
    first.send(requestFrame("feed", "subscription", app.paths.changes));
    const writer = await open(room);
    writer.send(requestFrame(1, "mutation", app.paths.create, app.create("before")));
    const [, before] = await waitForEvents<FeedEvent<Row>>(first, "feed", 2);
    const lastEventId = before!.id;

    await evictDurableObject(stub(room), { webSockets: "close" });
    await first.waitForClose();

    const again = await open(room);
    again.send(requestFrame(1, "mutation", app.paths.create, app.create("missed one")));
    const [created] = (await again.waitForFrames(1)) as [{ result: { data: Written } }];
    again.send(requestFrame(2, "mutation", app.paths.update, { id: created.result.data.id, ...app.update.set }));
    await again.waitForFrames(2);
    again.send(requestFrame(3, "mutation", app.paths.create, app.create("missed two")));
    await again.waitForFrames(3);

    const second = await open(room, "reader");
    second.send({ ...requestFrame("feed", "subscription", app.paths.changes), params: { path: app.paths.changes, lastEventId } });
    const replayed = await waitForEvents<FeedEvent<Row>>(second, "feed", 3);
    const base = Number(lastEventId);
    expect(replayed.map((event) => Number(event.id))).toEqual([base + 1, base + 2, base + 3]);
    expect(
      replayed.map((event) => (event.data.type === "change" ? [event.data.op, event.data.row?.[app.labelColumn]] : event.data.type)),
    ).toEqual([
      ["insert", "missed one"],
      ["update", "missed one"],
      ["insert", "missed two"],
    ]);

    // The next event is the next write: nothing replayed twice, no second ready.
    again.send(requestFrame(4, "mutation", app.paths.create, app.create("live again")));
    const all = await waitForEvents<FeedEvent<Row>>(second, "feed", 4);
    expect(all).toHaveLength(4);
    expect(all[3]).toMatchObject({
      id: String(base + 4),
      data: { type: "change", op: "insert", row: { [app.labelColumn]: "live again" } },
    });
  });

  it("sends resync to a client whose lastEventId is ahead of the room's log", async () => {
    const room = uniqueRoom("feed");
    const writer = await pathClientFor(room, "writer");
    await writer.mutate(app.paths.create, app.create("only"));
    const socket = await open(room, "reader");
    socket.send({ ...requestFrame("feed", "subscription", app.paths.changes), params: { path: app.paths.changes, lastEventId: "999" } });
    const [resync] = await waitForEvents<FeedEvent<Row>>(socket, "feed", 1);
    expect(resync).toMatchObject({ id: "1", data: { type: "resync", seq: 1 } });
  });
});

describe(`the live query of ${app.table}`, () => {
  it("sends the window at once, a diff after each write, and resumes after hibernation without a re-send", async () => {
    const room = uniqueRoom("live");
    const writer = await pathClientFor(room, "writer");
    const watcher = await pathClientFor(room, "reader", "bob");
    const existing = await writer.mutate<Written>(app.paths.create, app.create("existing"));
    const seen = recorder<WindowEvent<Row>>();
    const window = new LiveWindowRows<Row>();
    watcher.subscribe<{ data: WindowEvent<Row> }>(app.paths.live, { limit: 10 }, (event) => {
      window.apply(event.data);
      seen.push(event.data);
    });

    const [initial] = await seen.waitFor(1);
    expect(initial).toEqual({ type: "snapshot", seq: existing.seq, rows: [withoutSeq(existing)] });

    const second = await writer.mutate<Written>(app.paths.create, app.create("second"));
    const [, pushed] = await seen.waitFor(2);
    // Only the new row travels; the window holds both.
    expect(pushed).toEqual({ type: "diff", seq: second.seq, upserts: [withoutSeq(second)], removes: [] });
    expect(window.rows).toEqual([withoutSeq(existing), withoutSeq(second)]);

    await evictDurableObject(stub(room), { webSockets: "hibernate" });
    const updated = await writer.mutate<Written>(app.paths.update, { id: existing.id, ...app.update.set });
    const [, , resumed] = await seen.waitFor(3);
    expect(resumed).toEqual({ type: "diff", seq: updated.seq, upserts: [withoutSeq(updated)], removes: [] });
    expect(window.rows).toEqual([withoutSeq(updated), withoutSeq(second)]);
    expect(window.rows[0]![app.update.column]).toEqual(app.update.set[app.update.column]);
    // One push per commit: the resumed subscription did not re-send its result on wake.
    expect(seen.events).toHaveLength(3);
  });

  it("keeps the raw socket's subscription after hibernation: no second started frame", async () => {
    const room = uniqueRoom("live");
    const watcher = await open(room, "reader");
    watcher.send(requestFrame("live", "subscription", app.paths.live, { limit: 5 }));
    const [initial] = await waitForEvents<WindowEvent<Row>>(watcher, "live", 1);
    expect(initial!.data).toEqual({ type: "snapshot", seq: 0, rows: [] });

    await evictDurableObject(stub(room), { webSockets: "hibernate" });
    const writer = await open(room);
    writer.send(requestFrame(1, "mutation", app.paths.create, app.create("after waking")));
    const [, pushed] = await waitForEvents<WindowEvent<Row>>(watcher, "live", 2);
    expect(pushed!.data.type === "diff" && pushed!.data.upserts.map((row) => row[app.labelColumn])).toEqual(["after waking"]);
    expect(watcher.frames.filter((frame) => (frame as { result?: { type: string } }).result?.type === "started")).toHaveLength(1);
    expect(eventsOf(watcher, "live")).toHaveLength(2);
  });
});
