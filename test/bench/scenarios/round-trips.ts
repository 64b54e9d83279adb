/**
 * Round trips, one in flight: the floor's raw frames (echo, insert, get), the
 * peer's echo, and nanotypeDB's typed mutation and query through the stock
 * tRPC client and through createRoomClient, plus hand-written tRPC frames (the
 * server's share without any client library). Run once per path (wrangler's
 * proxy, straight to the runtime). Also the client's own cost against an
 * in-process fake socket.
 */
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";
import superjson from "superjson";
import { closeRoomClient, createRoomClient } from "../../../src/client";
import type { AppRouter } from "../../../src/app";
import { runLatencyGroup, type BenchContext, type LatencyOp } from "../context";
import { FrameSocket, TrpcSocket, type WebSocketClass } from "../sockets";

let trpcId = 1_000_000;

/** A tRPC v11 request frame written by hand (superjson input without meta is `{ json }`). */
export function handFrame(method: "mutation" | "query" | "subscription", path: string, json?: string): { id: number; frame: string } {
  const id = ++trpcId;
  const input = json === undefined ? "" : `,"input":{"json":${json}}`;
  return { id, frame: `{"id":${id},"method":"${method}","params":{"path":"${path}"${input}}}` };
}

export function checkReply(reply: string, id: number): void {
  if (!reply.startsWith(`{"id":${id},"result":`)) throw new Error(`unexpected tRPC reply: ${reply.slice(0, 300)}`);
}

export async function roundTrips(context: BenchContext, path: "direct" | "proxy"): Promise<void> {
  const { WebSocket: WS, results, suffix } = context;
  const room = `rt-${path}-${suffix}`;
  const floor = await FrameSocket.open(WS, context.floorSocketUrl(room, path));
  const peer = await FrameSocket.open(WS, context.peerSocketUrl(room, path));
  const hand = await TrpcSocket.open(WS, await context.productSocketUrl(room, path));
  const stock = await context.stockClient(room, path);
  const ours = await context.roomClient(room, path);

  const seeded = await ours.tasks.create.mutate({ title: "seed" });
  const floorSeedId = Number(await floor.request("insert:seed"));

  const ops: LatencyOp[] = [
    {
      key: "rawEcho",
      label: "floor: raw echo frame",
      op: async (i) => {
        const frame = `echo:${i}`;
        if ((await floor.request(frame)) !== frame) throw new Error("echo mismatch");
      },
    },
    {
      key: "peerEcho",
      label: "peer: PartyServer echo",
      op: async (i) => {
        const frame = `echo:${i}`;
        if ((await peer.request(frame)) !== frame) throw new Error("peer echo mismatch");
      },
    },
    {
      key: "rawInsert",
      label: "floor: raw insert frame",
      op: async (i) => {
        if (!/^\d+$/.test(await floor.request(`insert:${i}`))) throw new Error("insert failed");
      },
    },
    {
      key: "rawGet",
      label: "floor: raw read frame (row by id, JSON)",
      op: async () => {
        if (!(await floor.request(`get:${floorSeedId}`)).startsWith("{")) throw new Error("get failed");
      },
    },
    {
      key: "stockMutation",
      label: "typed mutation, stock client",
      op: async (i) => {
        if (typeof (await stock.trpc.tasks.create.mutate({ title: `bench ${i}` })).id !== "number") throw new Error("no id");
      },
    },
    {
      key: "roomMutation",
      label: "typed mutation, createRoomClient",
      op: async (i) => {
        if (typeof (await ours.tasks.create.mutate({ title: `bench ${i}` })).id !== "number") throw new Error("no id");
      },
    },
    {
      key: "stockQuery",
      label: "typed query, stock client",
      op: async () => {
        if ((await stock.trpc.tasks.get.query({ id: seeded.id })).id !== seeded.id) throw new Error("wrong task");
      },
    },
    {
      key: "roomQuery",
      label: "typed query, createRoomClient",
      op: async () => {
        if ((await ours.tasks.get.query({ id: seeded.id })).id !== seeded.id) throw new Error("wrong task");
      },
    },
    {
      key: "roomWhoami",
      label: "typed query without storage (session.whoami), createRoomClient",
      op: async () => {
        if ((await ours.session.whoami.query()).sub !== "bench") throw new Error("wrong identity");
      },
    },
  ];
  if (path === "direct") {
    // Breakdown helpers: each adds one piece of the typed mutation's work to the floor.
    ops.push(
      {
        key: "rawInsertRow",
        label: "floor: insert … RETURNING *, row as JSON",
        op: async (i) => {
          if (!(await floor.request(`insert-row:${i}`)).startsWith("{")) throw new Error("insert-row failed");
        },
      },
      {
        key: "rawInsertLogged",
        label: "floor: insert-row + the change-log trigger and seq reads",
        op: async (i) => {
          if (!(await floor.request(`insert-logged:${i}`)).startsWith("{")) throw new Error("insert-logged failed");
        },
      },
      {
        key: "handMutation",
        label: "hand-written tRPC frame: tasks.create",
        op: async (i) => {
          const { id, frame } = handFrame("mutation", "tasks.create", `{"title":"bench ${i}"}`);
          checkReply((await hand.call(frame, [id]))[0]!, id);
        },
      },
      {
        key: "handMutationWithId",
        label: "hand-written tRPC frame: tasks.create with a mutation id (recorded)",
        op: async (i) => {
          const { id, frame } = handFrame("mutation", "tasks.create", `{"title":"bench ${i}"}`);
          const withId = frame.replace('"params":{', `"params":{"mutationId":"bench-${suffix}:${i}",`);
          checkReply((await hand.call(withId, [id]))[0]!, id);
        },
      },
      {
        key: "handQuery",
        label: "hand-written tRPC frame: tasks.get",
        op: async () => {
          const { id, frame } = handFrame("query", "tasks.get", `{"id":${seeded.id}}`);
          checkReply((await hand.call(frame, [id]))[0]!, id);
        },
      },
    );
  }

  const runs = await runLatencyGroup(context, ops, path);
  for (const op of ops) results.latency(op.key, op.label, path, runs.get(op.key)!);

  if (path === "direct") {
    // Canned replies for the in-process fake socket: what is left is the client's own cost.
    const created = handFrame("mutation", "tasks.create", `{"title":"canned"}`);
    const cannedCreate = dataOf((await hand.call(created.frame, [created.id]))[0]!);
    await clientOnly(context, cannedCreate);
  }
  floor.close();
  peer.close();
  hand.close();
  await stock.close();
  await closeRoomClient(ours);
}

function dataOf(reply: string): string {
  return JSON.stringify((JSON.parse(reply) as { result: { data: unknown } }).result.data);
}

/** The stock client and createRoomClient against a socket that answers on the next event-loop turn. */
async function clientOnly(context: BenchContext, cannedCreate: string): Promise<void> {
  const Fake = fakeWebSocketClass(cannedCreate);
  const stockWs = createWSClient({ url: "ws://fake.invalid", WebSocket: Fake });
  const stock = createTRPCClient<AppRouter>({ links: [wsLink({ client: stockWs, transformer: superjson })] });
  // No ticket route behind a fake socket: the token goes in the URL.
  const ours = createRoomClient<AppRouter>({
    url: "http://fake.invalid",
    room: "fake",
    token: "fake",
    WebSocket: Fake,
    connectWith: "token",
  });
  const ops: LatencyOp[] = [
    {
      key: "stockMutation",
      label: "stock client, fake socket (client cost only)",
      op: async (i) => void (await stock.tasks.create.mutate({ title: `bench ${i}` })),
    },
    {
      key: "roomMutation",
      label: "createRoomClient, fake socket (client cost only)",
      op: async (i) => void (await ours.tasks.create.mutate({ title: `bench ${i}` })),
    },
  ];
  const runs = await runLatencyGroup(context, ops, "in-process");
  for (const op of ops) context.results.latency(op.key, op.label, "in-process", runs.get(op.key)!);
  await stockWs.close();
  await closeRoomClient(ours);
}

/** A WebSocket stand-in answering each tRPC request with a canned result on the next turn (setImmediate). */
function fakeWebSocketClass(cannedData: string): WebSocketClass {
  class FakeWebSocket extends EventTarget {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    readonly CONNECTING = 0;
    readonly OPEN = 1;
    readonly CLOSING = 2;
    readonly CLOSED = 3;
    readyState = 0;
    binaryType = "blob";

    constructor(readonly url: string) {
      super();
      setImmediate(() => {
        this.readyState = 1;
        this.dispatchEvent(new Event("open"));
      });
    }

    send(data: string): void {
      if (data === "PING") {
        setImmediate(() => this.dispatchEvent(new MessageEvent("message", { data: "PONG" })));
        return;
      }
      const parsed = JSON.parse(data) as unknown;
      const list = (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ id: number }>;
      setImmediate(() => {
        for (const request of list) {
          this.dispatchEvent(new MessageEvent("message", { data: `{"id":${request.id},"result":{"type":"data","data":${cannedData}}}` }));
        }
      });
    }

    close(): void {
      if (this.readyState >= 2) return;
      this.readyState = 3;
      setImmediate(() => this.dispatchEvent(Object.assign(new Event("close"), { code: 1000, reason: "", wasClean: true })));
    }
  }
  return FakeWebSocket as unknown as WebSocketClass;
}
