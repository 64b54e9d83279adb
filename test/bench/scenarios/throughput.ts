/**
 * Write throughput of one room with many clients pipelining (closed loop,
 * straight to the runtime): the floor's one-insert frames and K-insert frames,
 * and nanotypeDB's typed mutations (stock client, createRoomClient: each
 * batches the requests of one tick into one frame), hand-written frames of one
 * mutation, and hand-written frames of K mutations (one event, one commit).
 */
import type { BenchContext, ThroughputRun } from "../context";
import { closedLoop } from "../context";
import { counters, FrameSocket, TrpcSocket } from "../sockets";
import { checkReply, handFrame } from "./round-trips";

interface Variant {
  key: string;
  label: string;
  workers: Array<(i: number) => Promise<unknown>>;
  opsPerCall: number;
}

export async function throughput(context: BenchContext): Promise<void> {
  const { settings, WebSocket: WS, suffix, results } = context;
  const room = `tp-${suffix}`;
  const clients = settings.throughputClients;
  const perClient = settings.throughputPerClient;
  const batch = settings.batchSize;
  const floors = await Promise.all(Array.from({ length: clients }, () => FrameSocket.open(WS, context.floorSocketUrl(room, "direct"))));
  const hands = await Promise.all(
    Array.from({ length: clients }, async () => TrpcSocket.open(WS, await context.productSocketUrl(room, "direct"))),
  );
  const stocks = await Promise.all(Array.from({ length: clients }, () => context.stockClient(room, "direct")));
  const ours = await Promise.all(Array.from({ length: clients }, () => context.roomClient(room, "direct")));
  /** `perClient` loops on each of the client's sockets. */
  const loops = <T>(targets: T[], op: (target: T, i: number) => Promise<unknown>) =>
    targets.flatMap((target) => Array.from({ length: perClient }, () => (i: number) => op(target, i)));

  const batchFrame = (i: number) => {
    const requests = Array.from({ length: batch }, (_, k) => handFrame("mutation", "tasks.create", `{"title":"bench ${i}.${k}"}`));
    return { ids: requests.map((request) => request.id), frame: `[${requests.map((request) => request.frame).join(",")}]` };
  };

  const variants: Variant[] = [
    {
      key: "floorSingle",
      label: "floor: raw frames of 1 insert",
      workers: loops(floors, (socket, i) => socket.request(`insert:${i}`)),
      opsPerCall: 1,
    },
    {
      key: "floorBatch",
      label: `floor: raw frames of ${batch} inserts (one commit each)`,
      workers: loops(floors, (socket) => socket.request(`insert-batch:${batch}`)),
      opsPerCall: batch,
    },
    {
      key: "stockTyped",
      label: "typed mutations, stock client",
      workers: loops(stocks, (client, i) => client.trpc.tasks.create.mutate({ title: `bench ${i}` })),
      opsPerCall: 1,
    },
    {
      key: "roomTyped",
      label: "typed mutations, createRoomClient",
      workers: loops(ours, (client, i) => client.tasks.create.mutate({ title: `bench ${i}` })),
      opsPerCall: 1,
    },
    {
      key: "roomBurst",
      label: `typed mutations, createRoomClient, bursts of ${perClient} issued in one tick`,
      workers: ours.map(
        (client) => (i: number) =>
          Promise.all(Array.from({ length: perClient }, (_, k) => client.tasks.create.mutate({ title: `bench ${i}.${k}` }))),
      ),
      opsPerCall: perClient,
    },
    {
      key: "handSingle",
      label: "hand-written tRPC frames of 1 mutation",
      workers: loops(hands, async (socket, i) => {
        const { id, frame } = handFrame("mutation", "tasks.create", `{"title":"bench ${i}"}`);
        const [reply] = await socket.call(frame, [id]);
        checkReply(reply!, id);
      }),
      opsPerCall: 1,
    },
    {
      key: "handBatch",
      label: `hand-written tRPC frames of ${batch} mutations (one commit each)`,
      workers: loops(hands, async (socket, i) => {
        const { ids, frame } = batchFrame(i);
        const replies = await socket.call(frame, ids);
        replies.forEach((reply, k) => checkReply(reply, ids[k]!));
      }),
      opsPerCall: batch,
    },
  ];

  const runs = new Map<string, ThroughputRun[]>();
  for (let repeat = 0; repeat < settings.throughputRepeats; repeat++) {
    const shift = repeat % variants.length;
    for (const variant of [...variants.slice(shift), ...variants.slice(0, shift)]) {
      counters.lastProgress = performance.now();
      const run = await closedLoop(variant.workers, settings.throughputMs, variant.opsPerCall);
      runs.set(variant.key, [...(runs.get(variant.key) ?? []), run]);
      context.log(
        `throughput repeat ${repeat + 1} ${variant.key.padEnd(12)} ${Math.round(run.opsPerSecond)} writes/s, ${(run.ops / Math.max(1, run.frames)).toFixed(1)} writes/frame`,
      );
    }
  }
  for (const variant of variants) {
    const list = runs.get(variant.key)!;
    results.rate(
      variant.key,
      variant.label,
      "direct",
      "writes/s",
      list.map((run) => run.opsPerSecond),
      { writesPerFrame: list.map((run) => run.ops / Math.max(1, run.frames)), inFlight: clients * perClient, clients },
    );
  }
  for (const socket of [...floors, ...hands]) socket.close();
  await Promise.all(stocks.map((client) => client.close()));
  await context.closeClients();
}
