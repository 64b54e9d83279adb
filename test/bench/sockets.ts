/**
 * Client-side sockets for the benchmark suite: the WebSocket class every
 * scenario uses (the `ws` package when present, counting frames sent), a
 * request/response socket for raw frames, and fleets of N sockets that count
 * what they receive (fan-out, presence, memory, hibernation). Used by run.ts
 * and the scenario files only.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export type WebSocketClass = typeof WebSocket;

/** Frames sent by every socket of this process (to see how many requests one frame carries). */
export const counters = { framesSent: 0, pingsSent: 0, pongsReceived: 0, lastProgress: performance.now() };

/** `ws` (≈ 1.7× faster than Node's built-in client) when present in node_modules, else the global WebSocket. */
export async function loadWebSocket(root: string, forceGlobal: boolean): Promise<{ impl: WebSocketClass; name: string }> {
  if (!forceGlobal) {
    try {
      // `ws` comes with wrangler/miniflare, not as a direct dependency: load it if present.
      const specifier = "ws";
      const mod = (await import(specifier)) as { WebSocket?: unknown; default?: unknown };
      const impl = mod.WebSocket ?? mod.default;
      if (typeof impl === "function") {
        const version = (JSON.parse(readFileSync(join(root, "node_modules/ws/package.json"), "utf8")) as { version: string }).version;
        return { impl: impl as WebSocketClass, name: `ws@${version}` };
      }
    } catch {
      // Fall back to the built-in one.
    }
  }
  return { impl: globalThis.WebSocket, name: `node-builtin (Node ${process.versions.node})` };
}

/** The same WebSocket class, counting frames, PINGs sent and PONGs received. Every scenario uses it. */
export function countingWebSocket(impl: WebSocketClass): WebSocketClass {
  const Base = impl as unknown as new (url: string) => WebSocket;
  class CountingWebSocket extends Base {
    constructor(url: string) {
      super(url);
      this.addEventListener("message", (event: MessageEvent) => {
        counters.lastProgress = performance.now();
        if (event.data === "PONG") counters.pongsReceived++;
      });
    }

    override send(data: string | ArrayBuffer | ArrayBufferView): void {
      counters.framesSent++;
      if (data === "PING") counters.pingsSent++;
      super.send(data);
    }
  }
  return CountingWebSocket as unknown as WebSocketClass;
}

function textOf(data: unknown): string {
  return typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer);
}

function redact(url: string): string {
  return url.replace(/token=[^&]+/, "token=…");
}

/** Opens one WebSocket; rejects after `timeoutMs`. */
export function openSocket(impl: WebSocketClass, url: string, timeoutMs = 15_000): Promise<WebSocket> {
  return new Promise((resolveOpen, reject) => {
    const ws = new impl(url);
    const timer = setTimeout(() => {
      reject(new Error(`timeout opening ${redact(url)}`));
      try {
        ws.close();
      } catch {
        // Never opened.
      }
    }, timeoutMs);
    ws.addEventListener("open", () => {
      clearTimeout(timer);
      resolveOpen(ws);
    });
    ws.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error(`cannot open ${redact(url)}`));
    });
  });
}

/** One WebSocket with FIFO request/response matching (a room answers one connection's frames in order). */
export class FrameSocket {
  private readonly pending: Array<{ resolve(data: string): void; reject(error: Error): void }> = [];
  private closed: Error | null = null;

  constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const data = textOf(event.data);
      if (data === "PONG") return;
      this.pending.shift()?.resolve(data);
    });
    ws.addEventListener("close", (event) => {
      this.closed = new Error(`socket closed (${event.code} ${event.reason})`);
      for (const waiter of this.pending.splice(0)) waiter.reject(this.closed);
    });
  }

  static async open(impl: WebSocketClass, url: string): Promise<FrameSocket> {
    return new FrameSocket(await openSocket(impl, url));
  }

  request(frame: string): Promise<string> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolveFrame, reject) => {
      this.pending.push({ resolve: resolveFrame, reject });
      this.ws.send(frame);
    });
  }

  /** Sends without waiting for an answer (broadcast senders get none). */
  send(frame: string): void {
    this.ws.send(frame);
  }

  close(): void {
    closeQuietly(this.ws);
  }
}

export function closeQuietly(ws: WebSocket): void {
  try {
    ws.close(1000, "bench done");
  } catch {
    // Already closed.
  }
}

/**
 * N sockets that count received frames (PONGs excluded). `round()` resolves
 * once every socket has received `perSocket` more frames: the time from a send
 * to the last of N receives.
 */
export class Fleet {
  readonly sockets: WebSocket[] = [];
  private received = 0;
  private target = Number.POSITIVE_INFINITY;
  private onTarget: (() => void) | null = null;
  closes = 0;

  private constructor() {}

  /** Opens `count` sockets, `concurrency` at a time; `afterOpen` runs on each (e.g. sends a subscription) before the next batch. */
  static async open(
    impl: WebSocketClass,
    url: (index: number) => string,
    count: number,
    options: { concurrency?: number; afterOpen?: (ws: WebSocket, index: number) => Promise<void> } = {},
  ): Promise<Fleet> {
    const fleet = new Fleet();
    const concurrency = options.concurrency ?? 50;
    for (let start = 0; start < count; start += concurrency) {
      const batch = Array.from({ length: Math.min(concurrency, count - start) }, (_, offset) => start + offset);
      await Promise.all(
        batch.map(async (index) => {
          const ws = await openSocket(impl, url(index));
          if (options.afterOpen) await options.afterOpen(ws, index);
          fleet.attach(ws);
        }),
      );
    }
    return fleet;
  }

  private attach(ws: WebSocket): void {
    this.sockets.push(ws);
    ws.addEventListener("message", (event) => {
      if (event.data === "PONG") return;
      this.received++;
      if (this.received >= this.target && this.onTarget) {
        const done = this.onTarget;
        this.onTarget = null;
        done();
      }
    });
    ws.addEventListener("close", () => this.closes++);
  }

  get size(): number {
    return this.sockets.length;
  }

  /** Calls `send()`, then resolves with the ms until every socket received `perSocket` more frames. */
  round(send: () => void, perSocket = 1, timeoutMs = 20_000): Promise<number> {
    const start = performance.now();
    this.target = this.received + this.sockets.length * perSocket;
    return new Promise((resolveRound, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`fan-out round timed out: ${this.target - this.received} of ${this.sockets.length * perSocket} frames missing`)),
        timeoutMs,
      );
      this.onTarget = () => {
        clearTimeout(timer);
        resolveRound(performance.now() - start);
      };
      send();
    });
  }

  /** Waits until no frame arrived for `quietMs` (drains snapshots and acknowledgements). */
  async settle(quietMs = 300, timeoutMs = 10_000): Promise<void> {
    const until = performance.now() + timeoutMs;
    let seen = this.received;
    while (performance.now() < until) {
      await new Promise((done) => setTimeout(done, quietMs));
      if (this.received === seen) return;
      seen = this.received;
    }
  }

  async close(): Promise<void> {
    const open = this.sockets.filter((ws) => ws.readyState === 1);
    await Promise.all(
      open.map(
        (ws) =>
          new Promise<void>((done) => {
            const timer = setTimeout(done, 3_000);
            ws.addEventListener("close", () => {
              clearTimeout(timer);
              done();
            });
            closeQuietly(ws);
          }),
      ),
    );
  }
}

/** Resolves with the first frame `ws` receives that satisfies `accept`. */
export function nextFrame(ws: WebSocket, accept: (data: string) => boolean, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolveFrame, reject) => {
    const timer = setTimeout(() => {
      ws.removeEventListener("message", onMessage);
      reject(new Error("timed out waiting for a frame"));
    }, timeoutMs);
    const onMessage = (event: MessageEvent) => {
      const data = textOf(event.data);
      if (!accept(data)) return;
      clearTimeout(timer);
      ws.removeEventListener("message", onMessage);
      resolveFrame(data);
    };
    ws.addEventListener("message", onMessage);
  });
}

/** A socket for hand-written tRPC frames: replies are matched by request id, so batched frames and pipelining need no ordering. */
export class TrpcSocket {
  private readonly waiting = new Map<number, { resolve(data: string): void; reject(error: Error): void }>();
  private closed: Error | null = null;

  constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const data = textOf(event.data);
      const match = /^\{"id":(\d+),/.exec(data);
      if (!match) return;
      const id = Number(match[1]);
      const waiter = this.waiting.get(id);
      if (!waiter) return;
      this.waiting.delete(id);
      waiter.resolve(data);
    });
    ws.addEventListener("close", (event) => {
      this.closed = new Error(`socket closed (${event.code} ${event.reason})`);
      for (const waiter of this.waiting.values()) waiter.reject(this.closed);
      this.waiting.clear();
    });
  }

  static async open(impl: WebSocketClass, url: string): Promise<TrpcSocket> {
    return new TrpcSocket(await openSocket(impl, url));
  }

  /** Sends one frame holding requests `ids` and resolves with their replies in the same order. */
  call(frame: string, ids: number[]): Promise<string[]> {
    if (this.closed) return Promise.reject(this.closed);
    const replies = ids.map((id) => new Promise<string>((resolve, reject) => this.waiting.set(id, { resolve, reject })));
    this.ws.send(frame);
    return Promise.all(replies);
  }

  close(): void {
    closeQuietly(this.ws);
  }
}
