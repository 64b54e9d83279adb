/**
 * Replication lag at a sustained write rate: tasks.create at `rate` per second
 * for `seconds` (straight to the runtime), while a second socket polls
 * `sync.status`. A write is visible in D1 once the replica's watermark
 * (`replicatedSeq`, written in the same atomic D1 batch as the rows) reaches
 * the seq its mutation returned; its lag runs from its reply (the commit is
 * durable before the reply leaves the room) to the first poll that sees it.
 * D1 batches per second come from `totalSyncs`.
 */
import { performance } from "node:perf_hooks";
import type { BenchContext } from "../context";
import { sleep } from "../runtime";
import { TrpcSocket } from "../sockets";
import { percentiles } from "../stats";
import { checkReply, handFrame } from "./round-trips";

/** Gap between status polls; the poll resolution adds up to this (plus one round trip) to each lag. */
const POLL_GAP_MS = 5;
/** After the last write, wait at most this long for the replica to catch up. */
const CATCH_UP_MS = 10_000;

interface Status {
  replicatedSeq: number;
  roomSeq: number;
  totalSyncs: number;
  syncErrors: number;
}

async function status(socket: TrpcSocket): Promise<Status> {
  const { id, frame } = handFrame("query", "sync.status");
  const [reply] = await socket.call(frame, [id]);
  checkReply(reply!, id);
  return (JSON.parse(reply!) as { result: { data: { json: Status } } }).result.data.json;
}

export async function replication(context: BenchContext): Promise<void> {
  const { replicationSeconds: seconds, replicationRate: rate } = context.settings;
  const room = `repl-${context.suffix}`;
  const writer = await TrpcSocket.open(context.WebSocket, await context.productSocketUrl(room, "direct"));
  const poller = await TrpcSocket.open(context.WebSocket, await context.productSocketUrl(room, "direct", "reader", "poller"));

  // A first write starts the room's replication (its first start does a full resync).
  const first = handFrame("mutation", "tasks.create", `{"title":"replication warm-up"}`);
  const firstSeq = seqOf((await writer.call(first.frame, [first.id]))[0]!);
  const warmUntil = performance.now() + CATCH_UP_MS;
  while ((await status(poller)).replicatedSeq < firstSeq && performance.now() < warmUntil) await sleep(50);
  const before = await status(poller);

  const writes: Array<{ seq: number; committedAt: number }> = [];
  const observations: Array<{ at: number; replicatedSeq: number }> = [];
  let writing = true;
  const polling = (async () => {
    let giveUpAt = Number.POSITIVE_INFINITY;
    for (;;) {
      const current = await status(poller);
      observations.push({ at: performance.now(), replicatedSeq: current.replicatedSeq });
      if (!writing) {
        giveUpAt = Math.min(giveUpAt, performance.now() + CATCH_UP_MS);
        const lastSeq = Math.max(0, ...writes.map((write) => write.seq));
        if (current.replicatedSeq >= lastSeq || performance.now() > giveUpAt) break;
      }
      await sleep(POLL_GAP_MS);
    }
  })();

  const total = Math.round(seconds * rate);
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const { id, frame } = handFrame("mutation", "tasks.create", `{"title":"replicated ${i}"}`);
    pending.push(
      writer.call(frame, [id]).then(([reply]) => {
        writes.push({ seq: seqOf(reply!), committedAt: performance.now() });
      }),
    );
  }
  await Promise.all(pending);
  const writeSeconds = (performance.now() - start) / 1000;
  writing = false;
  await polling;
  const after = await status(poller);
  writer.close();
  poller.close();

  // Lag of each write: the first observation after its reply whose watermark covers it.
  writes.sort((a, b) => a.seq - b.seq);
  const lags: number[] = [];
  let unseen = 0;
  let cursor = 0;
  for (const write of writes) {
    while (cursor < observations.length && observations[cursor]!.replicatedSeq < write.seq) cursor++;
    let index = cursor;
    while (index < observations.length && observations[index]!.at < write.committedAt) index++;
    const seen = observations[index];
    if (!seen) unseen++;
    else lags.push(seen.at - write.committedAt);
  }
  const lag = percentiles(lags);
  const batches = after.totalSyncs - before.totalSyncs;
  context.log(
    `replication: ${writes.length} writes at ${(writes.length / writeSeconds).toFixed(0)}/s, lag p50 ${lag.p50.toFixed(1)} ms p99 ${lag.p99.toFixed(1)} ms, ${batches} D1 batches, ${unseen} never seen`,
  );
  context.results.latency("replicationLag", `commit → visible in D1 at ${rate} writes/s`, "direct", [lag]);
  context.results.value("replicationBatches", "D1 batches per second", "direct", "batches/s", batches / writeSeconds, {
    writes: writes.length,
    writesPerSecond: writes.length / writeSeconds,
    batches,
    writesPerBatch: batches === 0 ? null : writes.length / batches,
    syncErrors: after.syncErrors - before.syncErrors,
    neverSeen: unseen,
    polls: observations.length,
    pollGapMs: POLL_GAP_MS,
  });
}

function seqOf(reply: string): number {
  const match = /"seq":(\d+)/.exec(reply);
  if (!match) throw new Error(`mutation reply without seq: ${reply.slice(0, 200)}`);
  return Number(match[1]);
}
