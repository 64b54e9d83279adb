/**
 * Replica reads over HTTP (`GET /rooms/:room/trpc/replica.tasks.list`),
 * straight to the runtime: latency one at a time, throughput with several in
 * flight, and where each answer came from (`source`: the D1 replica, or the
 * room as a fallback). When the product has no such endpoint yet, the scenario
 * records that instead of a number.
 */
import { performance } from "node:perf_hooks";
import type { BenchContext } from "../context";
import { timeOp } from "../context";
import { sleep } from "../runtime";
import { TrpcSocket } from "../sockets";
import { handFrame } from "./round-trips";

const IN_FLIGHT = 16;

interface ReplicaAnswer {
  source: "replica" | "room";
  seq: number;
}

export async function replicaReads(context: BenchContext): Promise<void> {
  const { results, settings } = context;
  const room = `replica-${context.suffix}`;
  const token = await context.token(room, "reader", "reader");
  const url = `${context.product.direct}/rooms/${encodeURIComponent(room)}/trpc/replica.tasks.list?input=${encodeURIComponent(
    JSON.stringify({ json: { limit: 20 } }),
  )}`;
  const sources = { replica: 0, room: 0, other: 0 };
  const read = async (): Promise<void> => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    if (!response.ok) throw new Error(`replica read answered ${response.status}: ${text.slice(0, 200)}`);
    const answer = (JSON.parse(text) as { result?: { data?: { json?: ReplicaAnswer } } }).result?.data?.json;
    if (answer?.source === "replica") sources.replica++;
    else if (answer?.source === "room") sources.room++;
    else sources.other++;
  };

  const probe = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await probe.arrayBuffer();
  if (probe.status === 404) {
    context.log("replica reads: no HTTP endpoint (404)");
    results.value("replicaReads", "replica reads over HTTP", "direct", "reads/s", null, {
      notMeasured: "endpoint missing: /rooms/:room/trpc answered 404",
    });
    return;
  }

  // Rows to read, replicated before the reads start.
  const writer = await TrpcSocket.open(context.WebSocket, await context.productSocketUrl(room, "direct"));
  const requests = Array.from({ length: 20 }, (_, i) => handFrame("mutation", "tasks.create", `{"title":"replica ${i}"}`));
  await writer.call(
    `[${requests.map((request) => request.frame).join(",")}]`,
    requests.map((request) => request.id),
  );
  writer.close();
  await sleep(1_000);

  const latency = await timeOp(read, Math.min(50, settings.warmup), Math.min(500, settings.iterations));
  results.latency("replicaRead", "replica read over HTTP (replica.tasks.list, 20 rows)", "direct", [latency]);

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
  const perSecond = done / ((performance.now() - start) / 1000);
  context.log(`replica reads: p50 ${latency.p50.toFixed(2)} ms, ${Math.round(perSecond)} reads/s; sources ${JSON.stringify(sources)}`);
  results.value("replicaReads", `replica reads over HTTP, ${IN_FLIGHT} in flight`, "direct", "reads/s", perSecond, {
    answeredFromReplica: sources.replica,
    answeredFromRoom: sources.room,
    unknownSource: sources.other,
  });
}
