/**
 * Replica reads over HTTP (`GET /rooms/:room/trpc/replica.tasks.list`, served
 * by the Worker from D1), straight to the runtime: latency one at a time and
 * throughput with several in flight, against the same read served by the room
 * (`tasks.list` over the same endpoint, forwarded to the room), both timed
 * without instrumentation. Then a counted pass with a RoomProbe attached: zero
 * Room invocations during replica reads proves they never reached the room;
 * room reads show the probe counts. Each answer's `source` (replica, or room
 * fallback) is counted too.
 */
import { performance } from "node:perf_hooks";
import type { BenchContext } from "../context";
import { timeOp } from "../context";
import { RoomProbe } from "../room-probe";
import { sleep } from "../runtime";
import { TrpcSocket } from "../sockets";
import { handFrame } from "./round-trips";

const IN_FLIGHT = 16;
const ROWS = 20;
/** Reads made one at a time in the counted pass (plus a throughput burst for replica reads). */
const COUNTED_READS = 200;

export async function replicaReads(context: BenchContext): Promise<void> {
  const { results, settings } = context;
  const room = `replica-${context.suffix}`;
  const token = await context.token(room, "reader", "reader");
  const input = encodeURIComponent(JSON.stringify({ json: { limit: ROWS } }));
  const endpoint = `${context.product.direct}/rooms/${encodeURIComponent(room)}/trpc`;
  const sources = { replica: 0, room: 0, other: 0 };
  const get = async (path: string): Promise<string> => {
    const response = await fetch(`${endpoint}/${path}?input=${input}`, { headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${text.slice(0, 200)}`);
    return text;
  };
  const replicaRead = async (): Promise<void> => {
    const answer = (JSON.parse(await get("replica.tasks.list")) as { result?: { data?: { json?: { source?: string } } } }).result?.data
      ?.json;
    if (answer?.source === "replica") sources.replica++;
    else if (answer?.source === "room") sources.room++;
    else sources.other++;
  };
  const roomRead = async (): Promise<void> => void (await get("tasks.list"));

  const probe = await fetch(`${endpoint}/replica.tasks.list?input=${input}`, { headers: { authorization: `Bearer ${token}` } });
  await probe.arrayBuffer();
  if (probe.status === 404) {
    context.log("replica reads: no HTTP endpoint (404)");
    results.value("replicaReads", "replica reads over HTTP", "direct", "reads/s", null, {
      notMeasured: "endpoint missing: /rooms/:room/trpc answered 404",
    });
    return;
  }

  // Rows to read, replicated before the reads start; then the room is left alone.
  const writer = await TrpcSocket.open(context.WebSocket, await context.productSocketUrl(room, "direct"));
  const requests = Array.from({ length: ROWS }, (_, i) => handFrame("mutation", "tasks.create", `{"title":"replica ${i}"}`));
  await writer.call(
    `[${requests.map((request) => request.frame).join(",")}]`,
    requests.map((request) => request.id),
  );
  writer.close();
  await sleep(1_500);

  const throughput = async (read: () => Promise<void>): Promise<number> => {
    let done = 0;
    const start = performance.now();
    const deadline = start + settings.throughputMs;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < deadline) {
          await read();
          done++;
        }
      }),
    );
    return done / ((performance.now() - start) / 1000);
  };
  const iterations = Math.min(500, settings.iterations);
  const warmup = Math.min(50, settings.warmup);

  // Timed without the probe (an attached debugger may slow the runtime), replica and room alike.
  const replicaLatency = await timeOp(replicaRead, warmup, iterations);
  const replicaRate = await throughput(replicaRead);
  const roomLatency = await timeOp(roomRead, warmup, iterations);
  const roomRate = await throughput(roomRead);

  // Counted pass: replica reads one at a time and in flight, then room reads to show the probe counts.
  const roomProbe = await RoomProbe.attach(context.WebSocket, context.product.inspector);
  const before = await roomProbe.settle();
  const countedReads = sources.replica + sources.room + sources.other;
  await timeOp(replicaRead, 0, COUNTED_READS);
  await throughput(replicaRead);
  const replicaInvocations = (await roomProbe.settle()) - before;
  const replicaReadsCounted = sources.replica + sources.room + sources.other - countedReads;
  await timeOp(roomRead, 0, COUNTED_READS);
  const roomInvocations = (await roomProbe.settle()) - before - replicaInvocations;
  await roomProbe.detach();

  results.latency("replicaRead", `replica read over HTTP (replica.tasks.list, ${ROWS} rows, from D1)`, "direct", [replicaLatency]);
  results.latency("roomRead", `the same read served by the room (tasks.list over HTTP)`, "direct", [roomLatency]);
  results.rate("replicaRate", `replica reads over HTTP, ${IN_FLIGHT} in flight`, "direct", "reads/s", [replicaRate], {
    readsCounted: replicaReadsCounted,
    answeredFromReplica: sources.replica,
    answeredFromRoom: sources.room,
    unknownSource: sources.other,
    roomInvocations: replicaInvocations,
    totalReads: sources.replica + sources.room + sources.other,
    instrumentedRoomMethods: roomProbe.methods.join("/"),
  });
  results.rate("roomRate", `the same read served by the room, ${IN_FLIGHT} in flight`, "direct", "reads/s", [roomRate], {
    roomReadsCounted: COUNTED_READS,
    roomInvocations,
  });
  context.log(
    `replica reads: p50 ${replicaLatency.p50.toFixed(2)} ms, ${Math.round(replicaRate)}/s, ${replicaInvocations} room invocations in ${replicaReadsCounted} counted reads; room reads: p50 ${roomLatency.p50.toFixed(2)} ms, ${Math.round(roomRate)}/s, ${roomInvocations} invocations in ${COUNTED_READS} counted reads`,
  );
}
