/**
 * TanStack DB collections over a room's live windows (src/client/tanstack-db.ts)
 * in the real runtime, against a real room: the initial window, other clients'
 * writes, live queries with a where and a join, optimistic writes that give
 * way to the room's rows without flicker, a refused write rolled back, and a
 * reconnect resumed with a diff (or a reload) without losing or duplicating rows.
 * (Issue 19, item 4.)
 */
import { BasicIndex, createCollection, createLiveQueryCollection, eq, gte, type Collection } from "@tanstack/db";
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import type { Task } from "../../schema";
import type { AppRouter } from "../../src/app";
import { closeRoomClient, createRoomClient, reconnectRoomClient, type RoomClient } from "../../src/client";
import type { WindowEvent } from "../../src/client/live-window";
import { roomCollectionOptions, temporaryId, UNSEEN_COMMIT_GRACE_MS } from "../../src/client/tanstack-db";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { WorkerWebSocket } from "../helpers/worker-socket";

type Client = RoomClient<AppRouter>;
type Live = Client["tasks"]["live"];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Newest first: live queries before the collections they read.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await closeClients();
});

/** A task collection over `client.tasks.live` with writes through `client.tasks.*`, cleaned up after the test. */
function taskCollection(
  client: Client,
  input: { status?: Task["status"]; limit: number },
  live: Live = client.tasks.live,
  graceMs?: number,
) {
  const collection = createCollection(
    roomCollectionOptions({
      live,
      input,
      mutations: {
        insert: (row) =>
          client.tasks.create.mutate({ title: row.title, status: row.status, priority: row.priority, assignee: row.assignee }),
        update: ({ id, changes }) => client.tasks.update.mutate({ id, title: changes.title, status: changes.status }),
        delete: (row) => client.tasks.delete.mutate({ id: row.id }),
      },
      ...(graceMs === undefined ? {} : { unseenCommitGraceMs: graceMs }),
    }),
  );
  cleanups.push(() => collection.cleanup());
  return collection;
}

/** Any collection, a live query's included. */
interface Changing {
  subscribeChanges(listener: () => void, options: { includeInitialState: boolean }): { unsubscribe(): void };
}

/**
 * Every later change of `collection`. (`includeInitialState: false` is needed: left out, TanStack DB
 * 0.15 passes a subscriber only changes to keys it has already sent it, i.e. none.)
 */
function onChanges(collection: Changing, listener: () => void): { unsubscribe(): void } {
  return collection.subscribeChanges(listener, { includeInitialState: false });
}

/** Resolves once `done()` holds, checked after every change `collection` publishes. */
function until(collection: Changing, done: () => boolean): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise((resolve) => {
    const subscription = onChanges(collection, () => {
      if (!done()) return;
      subscription.unsubscribe();
      resolve();
    });
  });
}

/** What the room holds now, as a fresh query sees it. */
async function truth(client: Client, status?: Task["status"]): Promise<Task[]> {
  return (await client.tasks.list.query({ limit: 100, ...(status ? { status } : {}) })).items;
}

/** The collection's rows without TanStack DB's virtual props, by id. */
function rowsOf(collection: Collection<Task, number>): Task[] {
  return collection.toArray
    .map(({ $synced: _s, $origin: _o, $key: _k, $collectionId: _c, $hasPendingWrites: _p, ...row }) => row as Task)
    .sort((a, b) => a.id - b.id);
}

/** `client.tasks.live` recording every event it delivers and every unsubscribe. */
function recording(live: Live) {
  const events: WindowEvent<Task>[] = [];
  let unsubscribes = 0;
  type Handlers = { onData(event: { data: WindowEvent<Task> }): void; onError(error: unknown): void };
  const inner = live as unknown as { subscribe(input: unknown, handlers: Handlers): { unsubscribe(): void } };
  const subscribe = (input: unknown, handlers: Handlers) => {
    const subscription = inner.subscribe(input, {
      onData: (event) => {
        events.push(event.data);
        handlers.onData(event);
      },
      onError: handlers.onError,
    });
    return {
      unsubscribe: () => {
        unsubscribes += 1;
        subscription.unsubscribe();
      },
    };
  };
  return { live: { subscribe } as unknown as Live, events, unsubscribes: () => unsubscribes };
}

/** A room client whose connects (connect-ticket requests) wait while its gate is shut. */
async function gatedClient(room: string, role: "reader" | "writer" = "writer") {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const client = createRoomClient<AppRouter>({
    url: "http://example.com",
    room,
    token: await tokenFor(room, role, "alice"),
    WebSocket: WorkerWebSocket as unknown as typeof WebSocket,
    fetch: async (input, init) => {
      await gate;
      return SELF.fetch(input, init);
    },
  });
  cleanups.push(() => closeRoomClient(client));
  return {
    client,
    shut: () => {
      gate = new Promise((resolve) => (open = resolve));
    },
    open: () => open(),
  };
}

const draft = (title: string, overrides: Partial<Task> = {}): Task => ({
  id: temporaryId(),
  title,
  description: "",
  status: "pending",
  priority: 0,
  assignee: null,
  position: 0,
  created_by: "alice",
  created_at: new Date(),
  updated_at: new Date(),
  completed_at: null,
  ...overrides,
});

describe("roomCollectionOptions: a TanStack DB collection over a live window", () => {
  it("loads the window, marks the collection ready, and types its rows as the procedure's rows", async () => {
    const room = uniqueRoom("tdb-load");
    const writer = await clientFor(room, "writer", "alice");
    for (const title of ["a", "b", "c"]) await writer.tasks.create.mutate({ title });
    await writer.tasks.create.mutate({ title: "done", status: "completed" });
    const reader = await clientFor(room, "reader", "bob");
    const tasks = taskCollection(reader, { status: "pending", limit: 2 });

    expect(tasks.status).toBe("idle");
    await tasks.preload();
    expect(tasks.status).toBe("ready");
    expectTypeOf(tasks.get(1)!.title).toEqualTypeOf<string>();
    expectTypeOf(tasks.get(1)!.created_at).toEqualTypeOf<Date>();
    expectTypeOf(tasks.get(1)!.status).toEqualTypeOf<Task["status"]>();
    // Only the window: the first 2 pending tasks.
    expect(rowsOf(tasks)).toEqual((await truth(reader, "pending")).slice(0, 2));
    expect(tasks.get(1)!.created_at).toBeInstanceOf(Date);
  });

  it("shows another client's create, update and delete", async () => {
    const room = uniqueRoom("tdb-others");
    const writer = await clientFor(room, "writer", "alice");
    const { id } = await writer.tasks.create.mutate({ title: "first" });
    const tasks = taskCollection(await clientFor(room, "reader", "bob"), { limit: 10 });
    await tasks.preload();

    const created = await writer.tasks.create.mutate({ title: "second" });
    await until(tasks, () => tasks.has(created.id));
    await writer.tasks.update.mutate({ id, title: "first, renamed" });
    await until(tasks, () => tasks.get(id)?.title === "first, renamed");
    await writer.tasks.delete.mutate({ id: created.id });
    await until(tasks, () => !tasks.has(created.id));
    expect(rowsOf(tasks)).toEqual(await truth(writer));
  });

  it("feeds TanStack DB live queries: a where over one window, a join of two windows", async () => {
    const room = uniqueRoom("tdb-query");
    const writer = await clientFor(room, "writer", "alice");
    const reader = await clientFor(room, "reader", "bob");
    const all = taskCollection(reader, { limit: 100 });
    const done = taskCollection(reader, { status: "completed", limit: 100 });
    // The join looks rows up by assignee on both sides.
    all.createIndex((task) => task.assignee, { indexType: BasicIndex });
    done.createIndex((task) => task.assignee, { indexType: BasicIndex });
    const urgent = createLiveQueryCollection((q) =>
      q
        .from({ task: all })
        .where(({ task }) => gte(task.priority, 2))
        .select(({ task }) => ({ id: task.id, title: task.title })),
    );
    // Each pending task with the tasks its assignee has completed (a join of two windows of the same table).
    const pendingWithDone = createLiveQueryCollection((q) =>
      q
        .from({ task: all })
        .innerJoin({ done }, ({ task, done }) => eq(task.assignee, done.assignee))
        .where(({ task }) => eq(task.status, "pending"))
        .select(({ task, done }) => ({ pending: task.title, done: done.title })),
    );
    cleanups.push(
      () => urgent.cleanup(),
      () => pendingWithDone.cleanup(),
    );
    await Promise.all([urgent.preload(), pendingWithDone.preload()]);
    expect(urgent.toArray).toEqual([]);

    const fix = await writer.tasks.create.mutate({ title: "fix", priority: 3, assignee: "carol" });
    await until(urgent, () => urgent.size === 1);
    expect(urgent.toArray.map(({ id, title }) => ({ id, title }))).toEqual([{ id: fix.id, title: "fix" }]);
    expect(pendingWithDone.size).toBe(0);

    const shipped = await writer.tasks.create.mutate({ title: "ship", status: "completed", assignee: "carol" });
    await until(pendingWithDone, () => pendingWithDone.size === 1);
    expect(pendingWithDone.toArray.map(({ pending, done }) => ({ pending, done }))).toEqual([{ pending: "fix", done: "ship" }]);

    // "ship" reopens: it leaves the completed window, so the join loses it.
    await writer.tasks.update.mutate({ id: shipped.id, status: "pending" });
    await until(pendingWithDone, () => pendingWithDone.size === 0);
    await writer.tasks.update.mutate({ id: fix.id, priority: 0 });
    await until(urgent, () => urgent.size === 0);
  });

  it("shows an optimistic update at once and keeps it until the room's row replaces it, with no flicker", async () => {
    const room = uniqueRoom("tdb-update");
    const client = await clientFor(room, "writer", "alice");
    const { id } = await client.tasks.create.mutate({ title: "before" });
    const tasks = taskCollection(client, { limit: 10 });
    await tasks.preload();
    const before = tasks.get(id)!;

    const titles: string[] = [];
    const subscription = onChanges(tasks, () => titles.push(tasks.get(id)!.title));
    const tx = tasks.update(id, (row) => {
      row.title = "after";
    });
    expect(tasks.get(id)!.title).toBe("after");
    expect(tasks.get(id)!.$synced).toBe(false);
    await tx.isPersisted.promise;
    subscription.unsubscribe();

    expect(titles.length).toBeGreaterThan(0);
    // Never back to "before"; when the transaction settles the collection already holds the room's row.
    expect(titles.every((title) => title === "after")).toBe(true);
    const server = await client.tasks.get.query({ id });
    expect(rowsOf(tasks)).toEqual([server]);
    expect(tasks.get(id)!.$synced).toBe(true);
    expect(server.updated_at.getTime()).toBeGreaterThanOrEqual(before.updated_at.getTime());
  });

  it("shows an optimistic insert at once under a temporary id, then the room's row in one step", async () => {
    const room = uniqueRoom("tdb-insert");
    const client = await clientFor(room, "writer", "alice");
    const tasks = taskCollection(client, { limit: 10 });
    await tasks.preload();

    const counts: number[] = [];
    const subscription = onChanges(tasks, () => counts.push(rowsOf(tasks).filter((row) => row.title === "new").length));
    const row = draft("new");
    const started = performance.now();
    const tx = tasks.insert(row);
    expect(tasks.get(row.id)!.title).toBe("new");
    expect(row.id).toBeLessThan(0);
    await tx.isPersisted.promise;
    const confirmedMs = performance.now() - started;
    subscription.unsubscribe();

    // Always exactly one "new" row: the optimistic one, then the room's (never none, never both).
    expect(counts.length).toBeGreaterThan(0);
    expect(counts.every((count) => count === 1)).toBe(true);
    expect(tasks.has(row.id)).toBe(false);
    expect(rowsOf(tasks)).toEqual(await truth(client));
    expect(tasks.toArray[0]!.$synced).toBe(true);
    // Confirmed by the window's push, well before the grace.
    expect(confirmedMs).toBeLessThan(UNSEEN_COMMIT_GRACE_MS);
  });

  it("deletes optimistically and stays deleted once the room confirms", async () => {
    const room = uniqueRoom("tdb-delete");
    const client = await clientFor(room, "writer", "alice");
    const { id } = await client.tasks.create.mutate({ title: "doomed" });
    const tasks = taskCollection(client, { limit: 10 });
    await tasks.preload();
    const sizes: number[] = [];
    const subscription = onChanges(tasks, () => sizes.push(tasks.size));
    const tx = tasks.delete(id);
    expect(tasks.has(id)).toBe(false);
    await tx.isPersisted.promise;
    subscription.unsubscribe();
    expect(sizes.length).toBeGreaterThan(0);
    expect(sizes.every((size) => size === 0)).toBe(true);
    expect(await truth(client)).toEqual([]);
  });

  it("rolls back a reader's insert and rejects its transaction with the room's FORBIDDEN", async () => {
    const room = uniqueRoom("tdb-forbidden");
    const reader = await clientFor(room, "reader", "bob");
    const tasks = taskCollection(reader, { limit: 10 });
    await tasks.preload();

    const row = draft("not allowed");
    const tx = tasks.insert(row);
    expect(tasks.has(row.id)).toBe(true);
    await expect(tx.isPersisted.promise).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    expect(tx.state).toBe("failed");
    expect(tasks.has(row.id)).toBe(false);
    expect(tasks.size).toBe(0);
  });

  it("settles a write the window never shows after the grace, and drops its optimistic row", async () => {
    const room = uniqueRoom("tdb-unseen");
    const client = await clientFor(room, "writer", "alice");
    const graceMs = 300;
    const pending = taskCollection(client, { status: "pending", limit: 10 }, client.tasks.live, graceMs);
    await pending.preload();

    // A completed task never enters the pending window: no push comes, the grace ends the wait.
    const row = draft("elsewhere", { status: "completed" });
    const started = performance.now();
    const tx = pending.insert(row);
    expect(pending.has(row.id)).toBe(true);
    await tx.isPersisted.promise;
    expect(performance.now() - started).toBeGreaterThanOrEqual(graceMs - 5);
    expect(pending.size).toBe(0);
    expect((await truth(client, "completed")).map((task) => task.title)).toEqual(["elsewhere"]);
  });

  it("ends the wait at the next push of a later commit, before the grace", async () => {
    const room = uniqueRoom("tdb-later");
    const client = await clientFor(room, "writer", "alice");
    const other = await clientFor(room, "writer", "bob");
    const pending = taskCollection(client, { status: "pending", limit: 10 }, client.tasks.live, 10_000);
    await pending.preload();

    const row = draft("elsewhere", { status: "completed" });
    const tx = pending.insert(row);
    const answered = await client.tasks.list.query({ status: "completed" });
    expect(answered.items).toHaveLength(1);
    // Bob's commit comes after Alice's; the window's push of it shows the room as of a later seq.
    const { id } = await other.tasks.create.mutate({ title: "from bob" });
    await tx.isPersisted.promise;
    expect(pending.has(id)).toBe(true);
    expect(pending.has(row.id)).toBe(false);
  });

  it("holds other clients' changes while one of its writes persists, and shows them when it settles", async () => {
    const room = uniqueRoom("tdb-held");
    const client = await clientFor(room, "writer", "alice");
    const other = await clientFor(room, "writer", "bob");
    const recorded = recording(client.tasks.live);
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const pending = createCollection(
      roomCollectionOptions({
        live: recorded.live,
        input: { status: "pending", limit: 10 },
        mutations: {
          // A slow write: it reaches the room only when the test releases it.
          insert: async (row) => {
            await released;
            return client.tasks.create.mutate({ title: row.title });
          },
        },
      }),
    );
    cleanups.push(() => pending.cleanup());
    await pending.preload();

    const tx = pending.insert(draft("slow"));
    const { id } = await other.tasks.create.mutate({ title: "from bob" });
    while (!recorded.events.some((event) => event.type === "diff" && event.upserts.some((task) => task.id === id))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The window pushed Bob's row, but TanStack DB keeps sync transactions back while a write persists.
    expect(tx.state).toBe("persisting");
    expect(pending.has(id)).toBe(false);
    release();
    await tx.isPersisted.promise;
    expect(rowsOf(pending).map((task) => task.title)).toEqual(["from bob", "slow"]);
  });

  it("resumes after a reconnect with a diff, without losing or duplicating rows", async () => {
    const room = uniqueRoom("tdb-reconnect");
    const writer = await clientFor(room, "writer", "alice");
    for (const title of ["a", "b", "c", "d"]) await writer.tasks.create.mutate({ title });
    const gated = await gatedClient(room, "reader");
    const recorded = recording(gated.client.tasks.live);
    const tasks = taskCollection(gated.client, { limit: 3 }, recorded.live);
    await tasks.preload();
    expect(rowsOf(tasks).map((task) => task.title)).toEqual(["a", "b", "c"]);

    // Disconnected (the reconnect waits at the gate) while another client changes the window.
    gated.shut();
    reconnectRoomClient(gated.client);
    await writer.tasks.delete.mutate({ id: 1 }); // "d" moves in
    await writer.tasks.update.mutate({ id: 2, title: "b, renamed" });
    await writer.tasks.create.mutate({ title: "e" });
    const want = (await truth(writer)).slice(0, 3);
    gated.open();

    await until(tasks, () => JSON.stringify(rowsOf(tasks)) === JSON.stringify(want));
    expect(rowsOf(tasks)).toEqual(want);
    expect(tasks.size).toBe(3);
    const resumed = recorded.events.at(-1)!;
    expect(resumed.type).toBe("diff");
    expect(resumed.type === "diff" && resumed.ids).toEqual([2, 3, 4]);
    expect(recorded.events.filter((event) => event.type === "snapshot")).toHaveLength(1);
  });

  it("replaces every row when the room answers a resume with a snapshot (the log no longer reaches back)", async () => {
    const room = uniqueRoom("tdb-reload");
    const writer = await clientFor(room, "writer", "alice");
    for (const title of ["a", "b"]) await writer.tasks.create.mutate({ title });
    const gated = await gatedClient(room, "reader");
    const recorded = recording(gated.client.tasks.live);
    const tasks = taskCollection(gated.client, { limit: 10 }, recorded.live);
    await tasks.preload();

    gated.shut();
    reconnectRoomClient(gated.client);
    await writer.tasks.delete.mutate({ id: 1 });
    await writer.tasks.create.mutate({ title: "c" });
    // Retention trimmed the log past the client's seq.
    const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
    await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("DELETE FROM _changes WHERE seq <= 3"));
    gated.open();

    const want = await truth(writer);
    await until(tasks, () => JSON.stringify(rowsOf(tasks)) === JSON.stringify(want));
    expect(rowsOf(tasks).map((task) => task.title)).toEqual(["b", "c"]);
    const reload = recorded.events.at(-1)!;
    expect(reload.type === "snapshot" && reload.reason).toMatch(/no longer reaches/);
    expect(tasks.status).toBe("ready");
  });

  it("stops its subscription when the collection is cleaned up", async () => {
    const room = uniqueRoom("tdb-cleanup");
    const client = await clientFor(room, "reader", "bob");
    const recorded = recording(client.tasks.live);
    const tasks = taskCollection(client, { limit: 10 }, recorded.live);
    await tasks.preload();
    expect(recorded.unsubscribes()).toBe(0);
    await tasks.cleanup();
    expect(tasks.status).toBe("cleaned-up");
    expect(recorded.unsubscribes()).toBe(1);
  });
});
