/**
 * Live windows in a TanStack Query cache (src/client/live-query.ts, the core
 * of the React hooks in src/client/react.ts), in the real runtime: tRPC's
 * options proxy over createRoomClient, a real QueryClient and MutationObserver,
 * a real room. The hooks themselves render in Chromium
 * (test/browser/react-board.test.ts); their types are checked here.
 */
import { MutationObserver, QueryClient, type SkipToken } from "@tanstack/react-query";
import { createTRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import type { Task } from "../../schema";
import type { AppRouter } from "../../src/app";
import { reconnectRoomClient, type RoomClient } from "../../src/client";
import { LIVE_QUERY_LINGER_MS, UNSEEN_COMMIT_GRACE_MS, liveQuery, optimistic, type LiveQueryStatus } from "../../src/client/live-query";
import type { LiveInputOf, LiveQueryResult, LiveRowOf, useLiveQuery } from "../../src/client/react";
import { clientFor, closeClients, uniqueRoom } from "../helpers/clients";

afterEach(closeClients);

const WAIT = { timeout: 5_000, interval: 10 };

function setup(client: RoomClient<AppRouter>) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const trpc = createTRPCOptionsProxy<AppRouter>({ client, queryClient });
  return { queryClient, trpc };
}

/** A held, live `tasks.live` query over `client` with `input`, and what the tests read it with. */
async function liveTasks(client: RoomClient<AppRouter>, input: { limit: number; status?: Task["status"] }) {
  const { queryClient, trpc } = setup(client);
  const options = trpc.tasks.live.subscriptionOptions(input);
  const query = liveQuery<Task>(queryClient, options);
  query.hold();
  await vi.waitFor(() => expect(query.getState().status).toBe("live"), WAIT);
  const rows = () => queryClient.getQueryData<Task[]>(options.queryKey) ?? [];
  return { queryClient, trpc, options, query, rows, titles: () => rows().map((task) => task.title) };
}

/** How many live subscriptions the room counts for `procedure` (through the admin inspector). */
async function roomSubscriptions(room: string, procedure: string): Promise<number> {
  const admin = await clientFor(room, "admin", "inspector");
  const inspection = await admin.admin.inspect.query();
  return inspection.connections.subscriptionsByProcedure[procedure] ?? 0;
}

describe("live queries in the query cache", () => {
  it("keeps the cache entry under tRPC's key current, sharing one subscription between readers", async () => {
    const room = uniqueRoom("live-query");
    const writer = await clientFor(room, "writer", "alice");
    await writer.tasks.create.mutate({ title: "first" });
    const { queryClient, trpc } = setup(await clientFor(room, "reader", "bob"));
    const options = trpc.tasks.live.subscriptionOptions({ limit: 10 });

    const query = liveQuery<Task>(queryClient, options);
    const statuses: LiveQueryStatus[] = [];
    query.listen(() => statuses.push(query.getState().status));
    const releaseA = query.hold();
    const releaseB = liveQuery<Task>(queryClient, trpc.tasks.live.subscriptionOptions({ limit: 10 })).hold();
    expect(liveQuery(queryClient, trpc.tasks.live.subscriptionOptions({ limit: 10 }))).toBe(query);

    const titles = () => (queryClient.getQueryData<Task[]>(options.queryKey) ?? []).map((task) => task.title);
    await vi.waitFor(() => expect(titles()).toEqual(["first"]), WAIT);
    expect(query.getState()).toMatchObject({ status: "live", seq: 1 });
    expect(await roomSubscriptions(room, "tasks.live")).toBe(1);

    const [firstRow] = queryClient.getQueryData<Task[]>(options.queryKey)!;
    await writer.tasks.create.mutate({ title: "second" });
    await vi.waitFor(() => expect(titles()).toEqual(["first", "second"]), WAIT);
    expect(query.getState().seq).toBe(2);
    // A row the diff did not touch is the same object (memoized rows do not re-render).
    expect(queryClient.getQueryData<Task[]>(options.queryKey)![0]).toBe(firstRow);

    // Another input is another entry and another subscription.
    const pending = liveQuery<Task>(queryClient, trpc.tasks.live.subscriptionOptions({ status: "completed", limit: 10 }));
    const releasePending = pending.hold();
    await vi.waitFor(() => expect(pending.getState().status).toBe("live"), WAIT);
    expect(queryClient.getQueryData(trpc.tasks.live.subscriptionOptions({ status: "completed", limit: 10 }).queryKey)).toEqual([]);
    expect(await roomSubscriptions(room, "tasks.live")).toBe(2);

    // The subscription outlives its last reader by the linger time, then ends; the cached rows stay.
    releaseA();
    releaseB();
    releasePending();
    expect(await roomSubscriptions(room, "tasks.live")).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, LIVE_QUERY_LINGER_MS + 200));
    await vi.waitFor(async () => expect(await roomSubscriptions(room, "tasks.live")).toBe(0), WAIT);
    expect(titles()).toEqual(["first", "second"]);
    expect(liveQuery(queryClient, options)).not.toBe(query);
    expect(statuses).toEqual(["live", "live"]);
  });

  it("says reconnecting while the socket is down and resumes with what changed meanwhile", async () => {
    const room = uniqueRoom("live-query-resume");
    const writer = await clientFor(room, "writer", "alice");
    await writer.tasks.create.mutate({ title: "before" });
    const reader = await clientFor(room, "reader", "bob");
    const { queryClient, trpc } = setup(reader);
    const options = trpc.tasks.live.subscriptionOptions({ limit: 10 });
    const query = liveQuery<Task>(queryClient, options);
    const statuses: LiveQueryStatus[] = [];
    query.listen(() => statuses.push(query.getState().status));
    query.hold();
    await vi.waitFor(() => expect(query.getState().status).toBe("live"), WAIT);

    reconnectRoomClient(reader);
    await writer.tasks.create.mutate({ title: "while away" });
    await vi.waitFor(
      () => expect(queryClient.getQueryData<Task[]>(options.queryKey)?.map((task) => task.title)).toEqual(["before", "while away"]),
      WAIT,
    );
    await vi.waitFor(() => expect(query.getState().status).toBe("live"), WAIT);
    expect(statuses).toContain("reconnecting");
    expect(statuses.indexOf("reconnecting")).toBeLessThan(statuses.lastIndexOf("live"));
  });

  it("ends with status error and the room's error when the room refuses the subscription", async () => {
    const room = uniqueRoom("live-query-refused");
    const { queryClient, trpc } = setup(await clientFor(room, "reader", "bob"));
    const query = liveQuery<Task>(queryClient, trpc.tasks.live.subscriptionOptions({ limit: 100_000 }));
    query.hold();
    await vi.waitFor(() => expect(query.getState().status).toBe("error"), WAIT);
    expect(query.getState().error).toMatchObject({ data: { code: "BAD_REQUEST" } });
  });
});

describe("optimistic updates reconciled by seq", () => {
  /** Every value the cache entry took, as the titles of its rows, plus markers the test adds. */
  function recordTitles(queryClient: QueryClient, queryKey: readonly unknown[]): string[][] {
    const history: string[][] = [];
    queryClient.getQueryCache().subscribe((event) => {
      if (event.type !== "updated" || event.action.type !== "success") return;
      if (JSON.stringify(event.query.queryKey) !== JSON.stringify(queryKey)) return;
      history.push((event.query.state.data as Task[]).map((task) => task.title));
    });
    return history;
  }

  it("shows the change before the answer and swaps in the room's row with no flicker back", async () => {
    const room = uniqueRoom("optimistic");
    const client = await clientFor(room, "writer", "alice");
    const task = await client.tasks.create.mutate({ title: "Draft" });
    const input = { limit: 10 };
    const { queryClient, trpc, options, query } = await liveTasks(client, input);
    const history = recordTitles(queryClient, options.queryKey);

    const rename = new MutationObserver(
      queryClient,
      trpc.tasks.update.mutationOptions(
        optimistic(trpc.tasks.live, input, (rows, change) =>
          rows.map((row) => (row.id === change.id && change.title !== undefined ? { ...row, title: change.title } : row)),
        ),
      ),
    );
    // The room trims titles: the optimistic row ("  Final  ") differs from the room's ("Final").
    const answered = rename.mutate({ id: task.id, title: "  Final  " });
    // onMutate runs within microtasks; the answer needs a socket message (a macrotask), so it cannot be in yet.
    for (let turn = 0; turn < 20; turn++) await Promise.resolve();
    expect(history).toEqual([["  Final  "]]);
    expect(rename.getCurrentResult().status).toBe("pending");

    expect(await answered).toMatchObject({ title: "Final", seq: 2 });
    await vi.waitFor(() => expect(history.at(-1)).toEqual(["Final"]), WAIT);
    // Never back to "Draft" in between: the optimistic row, then the room's.
    expect(history).toEqual([["  Final  "], ["Final"]]);
    expect(query.getState().seq).toBe(2);
  });

  it("rolls the change back with the room's error when the room refuses the mutation", async () => {
    const room = uniqueRoom("optimistic-refused");
    const writer = await clientFor(room, "writer", "alice");
    const task = await writer.tasks.create.mutate({ title: "Keep me" });
    const { queryClient, trpc } = setup(await clientFor(room, "reader", "bob"));
    const input = { limit: 10 };
    const options = trpc.tasks.live.subscriptionOptions(input);
    liveQuery<Task>(queryClient, options).hold();
    await vi.waitFor(() => expect(queryClient.getQueryData(options.queryKey)).toHaveLength(1), WAIT);
    const history = recordTitles(queryClient, options.queryKey);

    const rename = new MutationObserver(
      queryClient,
      trpc.tasks.update.mutationOptions(
        optimistic(trpc.tasks.live, input, (rows, change) =>
          rows.map((row) => (row.id === change.id ? { ...row, title: change.title ?? row.title } : row)),
        ),
      ),
    );
    await expect(rename.mutate({ id: task.id, title: "Hijacked" })).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    expect(rename.getCurrentResult()).toMatchObject({ status: "error", error: { data: { code: "FORBIDDEN" } } });
    expect(history).toEqual([["Hijacked"], ["Keep me"]]);
    expect((await writer.tasks.get.query({ id: task.id })).title).toBe("Keep me");
  });

  it("keeps changes of overlapping mutations apart and drops one the window never reflects after the settle time", async () => {
    const room = uniqueRoom("optimistic-overlap");
    const client = await clientFor(room, "writer", "alice");
    const input = { status: "pending" as const, limit: 10 };
    const { queryClient, trpc, options, titles } = await liveTasks(client, input);

    const placeholder = (title: string, id: number): Task =>
      ({ id, title, status: "pending", description: "", priority: 0, assignee: null, position: 0, created_by: "alice" }) as Task;
    const optimisticCreate = () =>
      new MutationObserver(
        queryClient,
        trpc.tasks.create.mutationOptions(
          optimistic(trpc.tasks.live, input, (rows, change, { temporaryId }) => [...rows, placeholder(change.title, temporaryId)]),
        ),
      );
    const create = optimisticCreate();
    const other = optimisticCreate();
    const first = create.mutate({ title: "one" });
    const second = other.mutate({ title: "two" });
    await Promise.all([first, second]);
    // The placeholders (negative ids) give way to the room's rows, each when its push arrives.
    expect(titles()).toEqual(expect.arrayContaining(["one", "two"]));
    await vi.waitFor(
      () => expect(queryClient.getQueryData<Task[]>(options.queryKey)!.map((task) => task.id > 0)).toEqual([true, true]),
      WAIT,
    );
    expect(titles()).toEqual(["one", "two"]);

    // A completed task is outside this window: the room pushes nothing, so the guess goes after the settle time.
    const started = Date.now();
    await create.mutate({ title: "elsewhere", status: "completed" });
    expect(titles()).toEqual(["one", "two", "elsewhere"]);
    await vi.waitFor(() => expect(titles()).toEqual(["one", "two"]), { timeout: UNSEEN_COMMIT_GRACE_MS + 2_000, interval: 20 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(UNSEEN_COMMIT_GRACE_MS - 50);
  });

  it("lays a change over every newer push with the same temporary id until its own push arrives", async () => {
    const room = uniqueRoom("optimistic-rebase");
    const client = await clientFor(room, "writer", "alice");
    const input = { limit: 10 };
    const { queryClient, trpc, rows } = await liveTasks(client, input);

    // A slow network: the create's request leaves only when the test opens the gate.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const createOptions = trpc.tasks.create.mutationOptions(
      optimistic(trpc.tasks.live, input, (current, change, { temporaryId }) => [
        ...current,
        { id: temporaryId, title: change.title, status: "pending", created_by: "alice" } as Task,
      ]),
    );
    const create = new MutationObserver(queryClient, {
      ...createOptions,
      mutationFn: async (variables, context) => {
        await gate;
        return createOptions.mutationFn!(variables, context);
      },
    });
    const answered = create.mutate({ title: "mine" });
    await vi.waitFor(() => expect(rows().map((task) => task.title)).toEqual(["mine"]), WAIT);
    const temporary = rows()[0]!.id;
    expect(temporary).toBeLessThan(0);

    // Someone else's task arrives while the create waits: shown under the change, which keeps its id.
    const carol = await clientFor(room, "writer", "carol");
    await carol.tasks.create.mutate({ title: "theirs" });
    await vi.waitFor(() => expect(rows().map((task) => task.title)).toEqual(["theirs", "mine"]), WAIT);
    expect(rows()[1]!.id).toBe(temporary);

    open();
    const created = await answered;
    await vi.waitFor(
      () =>
        expect(rows().map((task) => [task.id, task.title])).toEqual([
          [1, "theirs"],
          [created.id, "mine"],
        ]),
      WAIT,
    );
  });
});

describe("the hooks' types", () => {
  it("take the procedure's input and give its rows", () => {
    const trpc = createTRPCOptionsProxy<AppRouter>({ client: null as never, queryClient: new QueryClient() });
    type Live = typeof trpc.tasks.live;
    type Row = LiveRowOf<Live>;
    // The window's row is the table's row (with its numeric id): each extends the other.
    expectTypeOf<Row>().not.toBeNever();
    expectTypeOf<Row>().toExtend<Task>();
    expectTypeOf<Task>().toExtend<Row>();
    expectTypeOf<{ limit: 10; status: "pending" }>().toExtend<LiveInputOf<Live>>();
    expectTypeOf<{ status: "archived" }>().not.toExtend<LiveInputOf<Live>>();
    type Hook = typeof useLiveQuery<Live>;
    expectTypeOf<Parameters<Hook>[1]>().toEqualTypeOf<LiveInputOf<Live> | SkipToken>();
    expectTypeOf<ReturnType<Hook>>().toEqualTypeOf<LiveQueryResult<Row>>();
    expectTypeOf<ReturnType<Hook>["data"]>().toEqualTypeOf<readonly Row[] | undefined>();
    expectTypeOf<ReturnType<Hook>["status"]>().toEqualTypeOf<"loading" | "live" | "reconnecting" | "error">();

    // Type errors, checked by `tsc` (never run).
    const check = (use: typeof useLiveQuery) => {
      // @ts-expect-error a query is not a live window
      use(trpc.tasks.list, {});
      // @ts-expect-error the window's input is checked
      use(trpc.tasks.live, { limit: "ten" });
      // @ts-expect-error the rows are tasks
      const title: number = use(trpc.tasks.live, {}).data![0]!.title;
      // @ts-expect-error optimistic needs a mutation answering a seq
      trpc.presence.setPresence.mutationOptions(optimistic(trpc.tasks.live, {}, (rows) => rows));
      return title;
    };
    expect(typeof check).toBe("function");
  });
});
