/**
 * The debounced writer under a slider-like load: `rate` updates per second to
 * each of `keys` keys for `seconds`, sent as one frame of `keys` updates per
 * tick (straight to the runtime). SQLite writes and updates come from the
 * room's own `debounced.stats`, read before, at the end of the load, and after
 * the trailing flush.
 */
import { performance } from "node:perf_hooks";
import type { BenchContext } from "../context";
import { sleep } from "../runtime";
import { TrpcSocket } from "../sockets";
import { checkReply, handFrame } from "./round-trips";

const KEYS = 50;
const RATE_PER_KEY = 60;
/** The writer's default interval (1 s) plus margin: the trailing flush has happened by then. */
const TRAILING_FLUSH_WAIT_MS = 2_000;

interface DebouncedStats {
  updatesReceived: number;
  sqliteWrites: number;
}

async function stats(socket: TrpcSocket): Promise<DebouncedStats> {
  const { id, frame } = handFrame("query", "debounced.stats");
  const [reply] = await socket.call(frame, [id]);
  checkReply(reply!, id);
  return (JSON.parse(reply!) as { result: { data: { json: DebouncedStats } } }).result.data.json;
}

export async function debounced(context: BenchContext): Promise<void> {
  const seconds = context.settings.debouncedSeconds;
  const socket = await TrpcSocket.open(context.WebSocket, await context.productSocketUrl(`deb-${context.suffix}`, "direct"));
  const before = await stats(socket);
  const ticks = seconds * RATE_PER_KEY;
  const pending: Array<Promise<string[]>> = [];
  const start = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    const due = start + (tick * 1000) / RATE_PER_KEY;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const requests = Array.from({ length: KEYS }, (_, key) =>
      handFrame("mutation", "debounced.update", `{"key":"slider:${key}","value":{"tick":${tick},"x":${tick * 0.5}}}`),
    );
    pending.push(
      socket.call(
        `[${requests.map((request) => request.frame).join(",")}]`,
        requests.map((request) => request.id),
      ),
    );
  }
  const replies = (await Promise.all(pending)).flat();
  const elapsed = (performance.now() - start) / 1000;
  const failed = replies.filter((reply) => reply.includes('"error"')).length;
  const atEnd = await stats(socket);
  await sleep(TRAILING_FLUSH_WAIT_MS);
  const after = await stats(socket);
  socket.close();

  const updates = after.updatesReceived - before.updatesReceived;
  const writesDuringLoad = atEnd.sqliteWrites - before.sqliteWrites;
  const writes = after.sqliteWrites - before.sqliteWrites;
  context.log(
    `debounced: ${updates} updates in ${elapsed.toFixed(1)} s, ${writesDuringLoad} writes during the load, ${writes} with the trailing flush`,
  );
  context.results.value("debouncedWrites", `${RATE_PER_KEY} updates/s × ${KEYS} keys for ${seconds} s`, "direct", "SQLite writes", writes, {
    updatesSent: ticks * KEYS,
    updatesAccepted: updates,
    updatesFailed: failed,
    loadSeconds: elapsed,
    writesDuringLoad,
    writesWithTrailingFlush: writes,
    coalescing: writes === 0 ? null : updates / writes,
    keys: KEYS,
    ratePerKey: RATE_PER_KEY,
    /** The target scaled to this run's length: 500 writes for 50 keys × 10 s, one per key per second. */
    allowedWrites: KEYS * seconds,
  });
}
