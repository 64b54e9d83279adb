/**
 * What every scenario of the benchmark suite receives: settings, the running
 * endpoints (product and baseline, through wrangler's proxy and direct), the
 * WebSocket class, token minting, typed clients, and timing loops (latency
 * with warm-up and interleaved repeats; closed-loop throughput). Used by
 * run.ts and test/bench/scenarios/.
 */
import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from "@trpc/client";
import { performance } from "node:perf_hooks";
import superjson from "superjson";
import type { Role } from "../../src/protocol/identity";
import { signRoomToken } from "../../src/auth/tokens";
import { closeRoomClient, createRoomClient, roomSocketUrl, type RoomClient } from "../../src/client";
import type { AppRouter } from "../../src/app";
import type { Results } from "./results";
import { counters, type WebSocketClass } from "./sockets";
import { percentiles, type Percentiles } from "./stats";

export interface Settings {
  quick: boolean;
  warmup: number;
  iterations: number;
  repeats: number;
  throughputMs: number;
  /** Throughput repeats (more and shorter than latency's: a closed loop feels other load on the machine more). */
  throughputRepeats: number;
  /** Sockets × requests in flight per socket for throughput. */
  throughputClients: number;
  throughputPerClient: number;
  /** Mutations per frame for the batched-frame throughput scenario. */
  batchSize: number;
  fanOut: Array<{ n: number; warmup: number; rounds: number }>;
  debouncedSeconds: number;
  replicationSeconds: number;
  replicationRate: number;
  memorySockets: number;
  hibernationClients: number;
  /** Idle time after which the hibernation scenario checks the room (local eviction is ≤ ~12 s). */
  hibernationIdleMs: number;
  budgetMs: number;
}

export interface Endpoint {
  /** Through wrangler dev's proxy. */
  proxy: string;
  /** Straight to the runtime (the user worker's own workerd port). */
  direct: string;
  /** The runtime's workerd pid (RSS). */
  pid: number;
  /** wrangler dev's inspector port (forwards to the runtime's). */
  inspector: number;
}

/** The stock client and a way to close its socket (kept apart: every property of a tRPC client is a procedure path). */
export interface StockClient {
  trpc: TRPCClient<AppRouter>;
  close(): Promise<void>;
}

export class BenchContext {
  private readonly open: Array<() => Promise<void>> = [];

  constructor(
    readonly settings: Settings,
    readonly results: Results,
    readonly product: Endpoint,
    readonly baseline: Endpoint,
    readonly WebSocket: WebSocketClass,
    private readonly secret: string,
    readonly suffix: string,
  ) {}

  base(endpoint: Endpoint, path: "direct" | "proxy"): string {
    return path === "direct" ? endpoint.direct : endpoint.proxy;
  }

  token(room: string, role: Role = "writer", sub = "bench"): Promise<string> {
    return signRoomToken({ sub, room, role, ttlSeconds: 3_600 }, this.secret);
  }

  /** ws://…/rooms/<room>/ws?token=… of the product. */
  async productSocketUrl(room: string, path: "direct" | "proxy", role: Role = "writer", sub = "bench"): Promise<string> {
    return `${roomSocketUrl(this.base(this.product, path), room)}?token=${encodeURIComponent(await this.token(room, role, sub))}`;
  }

  floorSocketUrl(room: string, path: "direct" | "proxy"): string {
    return `${this.base(this.baseline, path).replace(/^http/, "ws")}/floor/${room}/ws`;
  }

  peerSocketUrl(room: string, path: "direct" | "proxy"): string {
    return `${this.base(this.baseline, path).replace(/^http/, "ws")}/parties/peer-room/${room}`;
  }

  /** The product's own client (createRoomClient). */
  async roomClient(
    room: string,
    path: "direct" | "proxy",
    extra: { keepAliveMs?: number; role?: Role; sub?: string } = {},
  ): Promise<RoomClient<AppRouter>> {
    const token = await this.token(room, extra.role ?? "writer", extra.sub ?? "bench");
    const client = createRoomClient<AppRouter>({
      url: this.base(this.product, path),
      room,
      token,
      WebSocket: this.WebSocket,
      ...(extra.keepAliveMs ? { keepAliveMs: extra.keepAliveMs } : {}),
    });
    this.open.push(() => closeRoomClient(client));
    return client;
  }

  /** The stock tRPC client: createWSClient + wsLink from @trpc/client with superjson, nothing of ours. */
  async stockClient(
    room: string,
    path: "direct" | "proxy",
    extra: { keepAliveMs?: number; onClose?: () => void; sub?: string } = {},
  ): Promise<StockClient> {
    const url = await this.productSocketUrl(room, path, "writer", extra.sub ?? "bench");
    const wsClient = createWSClient({
      url,
      WebSocket: this.WebSocket,
      ...(extra.onClose ? { onClose: extra.onClose } : {}),
      ...(extra.keepAliveMs ? { keepAlive: { enabled: true, intervalMs: extra.keepAliveMs, pongTimeoutMs: 10_000 } } : {}),
    });
    const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
    const close = () => wsClient.close();
    this.open.push(close);
    return { trpc, close };
  }

  async closeClients(): Promise<void> {
    await Promise.allSettled(this.open.splice(0).map((close) => close()));
  }

  log(message: string): void {
    console.error(`  ${message}`);
  }
}

/** One latency scenario: `op(i)` is one round trip. */
export interface LatencyOp {
  key: string;
  label: string;
  op(i: number): Promise<void>;
}

let opCounter = 0;

/** Round trips timed in blocks: a burst of load from other work on the machine then hits every scenario alike. */
const BLOCK = 100;

/** Warm-up, then `iterations` timed round trips, one in flight. */
export async function timeOp(op: (i: number) => Promise<void>, warmup: number, iterations: number): Promise<Percentiles> {
  for (let i = 0; i < warmup; i++) await op(opCounter++);
  return percentiles(await timeSamples(op, iterations));
}

async function timeSamples(op: (i: number) => Promise<void>, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await op(opCounter++);
    samples.push(performance.now() - start);
  }
  return samples;
}

/**
 * Runs every op `repeats` times. Within a repeat, each op is warmed up, then
 * the ops take turns in blocks of BLOCK round trips (the order rotating each
 * block) until each has `iterations`; each repeat yields one set of percentiles.
 */
export async function runLatencyGroup(context: BenchContext, ops: LatencyOp[], tag: string): Promise<Map<string, Percentiles[]>> {
  const { warmup, iterations, repeats } = context.settings;
  const runs = new Map<string, Percentiles[]>();
  for (let repeat = 0; repeat < repeats; repeat++) {
    const samples = new Map<string, number[]>(ops.map((op) => [op.key, []]));
    for (const op of ops) for (let i = 0; i < warmup; i++) await op.op(opCounter++);
    for (let block = 0; block * BLOCK < iterations; block++) {
      const count = Math.min(BLOCK, iterations - block * BLOCK);
      const shift = (block + repeat) % ops.length;
      for (const op of [...ops.slice(shift), ...ops.slice(0, shift)]) samples.get(op.key)!.push(...(await timeSamples(op.op, count)));
    }
    for (const op of ops) {
      const result = percentiles(samples.get(op.key)!);
      runs.set(op.key, [...(runs.get(op.key) ?? []), result]);
      context.log(`${tag} repeat ${repeat + 1} ${op.key.padEnd(22)} p50 ${result.p50.toFixed(3)} ms  p99 ${result.p99.toFixed(3)} ms`);
    }
  }
  return runs;
}

export interface ThroughputRun {
  opsPerSecond: number;
  ops: number;
  seconds: number;
  frames: number;
}

/**
 * Closed loop: `workers` loops, each keeping one operation outstanding until
 * the deadline. An operation may do several writes (`opsPerCall`).
 */
export async function closedLoop(workers: Array<(i: number) => Promise<unknown>>, ms: number, opsPerCall = 1): Promise<ThroughputRun> {
  await Promise.all(workers.map((op) => op(opCounter++)));
  const framesBefore = counters.framesSent;
  const start = performance.now();
  const deadline = start + ms;
  let done = 0;
  await Promise.all(
    workers.map(async (op) => {
      while (performance.now() < deadline) {
        await op(opCounter++);
        done += opsPerCall;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { opsPerSecond: done / seconds, ops: done, seconds, frames: counters.framesSent - framesBefore };
}
