/**
 * Acknowledgement levels: what waiting for `replicated` adds to a mutation's
 * `committed` answer. One writer socket, one at a time, `ackWrites` times:
 * `tasks.create` (answered at `committed`), then `sync.replicated({ seq })`
 * (answered once D1 has the row). A `sync.status` round trip after each gives
 * the cost of a second call that waits for nothing, so the wait for D1 itself
 * shows apart from the extra round trip. Medians and their ratios, one run.
 */
import { performance } from "node:perf_hooks";
import type { BenchContext } from "../context";
import { TrpcSocket } from "../sockets";
import { percentiles } from "../stats";
import { checkReply, handFrame } from "./round-trips";

/** Mutations measured (each followed by a `replicated` wait and a plain query). */
const WRITES = 50;
/** Untimed rounds first (the room's first start, its first full resync). */
const WARMUP = 5;

export async function acks(context: BenchContext): Promise<void> {
  const room = `acks-${context.suffix}`;
  const socket = await TrpcSocket.open(context.WebSocket, await context.productSocketUrl(room, "direct"));
  const call = async (method: "mutation" | "query", path: string, json?: string): Promise<string> => {
    const { id, frame } = handFrame(method, path, json);
    const [reply] = await socket.call(frame, [id]);
    checkReply(reply!, id);
    return reply!;
  };

  const committed: number[] = [];
  const replicated: number[] = [];
  const waits: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < WARMUP + WRITES; i++) {
    const start = performance.now();
    const seq = seqOf(await call("mutation", "tasks.create", `{"title":"acknowledged ${i}"}`));
    const answered = performance.now();
    const ack = await call("query", "sync.replicated", `{"seq":${seq}}`);
    const confirmed = performance.now();
    if (!/"bookmark":/.test(ack)) throw new Error(`sync.replicated answered without a bookmark field: ${ack.slice(0, 200)}`);
    const before = performance.now();
    await call("query", "sync.status");
    const after = performance.now();
    if (i < WARMUP) continue;
    committed.push(answered - start);
    replicated.push(confirmed - start);
    waits.push(confirmed - answered);
    plain.push(after - before);
  }
  socket.close();

  const c = percentiles(committed);
  const r = percentiles(replicated);
  const w = percentiles(waits);
  const p = percentiles(plain);
  context.log(
    `acks: ${WRITES} writes, committed p50 ${c.p50.toFixed(2)} ms, replicated p50 ${r.p50.toFixed(2)} ms ` +
      `(${(r.p50 / c.p50).toFixed(2)}× committed); the replicated call alone p50 ${w.p50.toFixed(2)} ms ` +
      `vs a plain query ${p.p50.toFixed(2)} ms (${(w.p50 / p.p50).toFixed(2)}×)`,
  );
  context.results.latency("ackCommitted", "tasks.create answered (committed)", "direct", [c]);
  context.results.latency("ackReplicated", "tasks.create then sync.replicated answered (replicated)", "direct", [r]);
  context.results.latency("ackReplicatedCall", "sync.replicated call alone", "direct", [w]);
  context.results.latency("ackPlainQuery", "sync.status call (a round trip that waits for nothing)", "direct", [p]);
  context.results.value("ackRatio", "replicated p50 / committed p50", "direct", "×", r.p50 / c.p50, {
    replicatedCallOverPlainQuery: w.p50 / p.p50,
    writes: WRITES,
  });
}

function seqOf(reply: string): number {
  const match = /"seq":(\d+)/.exec(reply);
  if (!match) throw new Error(`mutation reply without seq: ${reply.slice(0, 200)}`);
  return Number(match[1]);
}
