/**
 * Heap measurements of a `wrangler dev` runtime, for the bench scripts that
 * look inside workerd's V8 heap (live-retention.ts, socket-heap.ts): a copy of
 * a checkout served by `wrangler dev` with an inspector port (its own process
 * group, stopped at the end), the `ws` client that comes with wrangler, and a
 * minimal CDP client (GC, heap usage, heap snapshots). 127.0.0.1 only.
 */
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts, spawnGroup, wranglerEnv, type ProcessGroup } from "../helpers/wrangler-process";
import { findRuntime, type RuntimeEntry } from "./runtime";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The part of the `ws` package's WebSocket used here (it comes with wrangler, without type declarations). */
export interface WS {
  readonly readyState: number;
  /** The extensions the server accepted (e.g. "permessage-deflate"). */
  readonly extensions: string;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "close", listener: () => void): void;
  off(event: "message", listener: (data: Buffer) => void): void;
  once(event: "open", listener: () => void): void;
  once(event: "error", listener: (error: Error) => void): void;
  send(data: string): void;
  pause(): void;
  resume(): void;
  terminate(): void;
}
type WSClass = new (url: string, options: { maxPayload: number; perMessageDeflate: boolean }) => WS;
let WebSocketImpl: WSClass | null = null;

/** Opens a `ws` socket (the package is loaded on first use); permessage-deflate only when asked (`ws` offers it by default). */
export async function openSocket(url: string, options: { deflate?: boolean } = {}): Promise<WS> {
  WebSocketImpl ??= ((await import("ws" as string)) as { WebSocket: WSClass }).WebSocket;
  const Impl = WebSocketImpl;
  return new Promise((done, fail) => {
    const ws = new Impl(url, { maxPayload: 256 * 1024 * 1024, perMessageDeflate: options.deflate ?? false });
    ws.once("open", () => done(ws));
    ws.once("error", fail);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  for (const until = Date.now() + timeoutMs; !check();) {
    if (Date.now() > until) throw new Error(`timeout waiting for ${what}`);
    await sleep(25);
  }
}

/** A minimal CDP client on wrangler dev's inspector port. */
export class Inspector {
  private nextId = 1;
  private readonly waiting = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();
  onEvent: (method: string, params: unknown) => void = () => {};

  private constructor(private readonly ws: WS) {
    ws.on("message", (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number; method?: string; params?: unknown; result?: unknown };
      if (message.id !== undefined) {
        this.waiting.get(message.id)?.(message);
        this.waiting.delete(message.id);
      } else if (message.method) this.onEvent(message.method, message.params);
    });
  }

  static async open(port: number): Promise<Inspector> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{ webSocketDebuggerUrl?: string }>;
    const url = targets.find((target) => target.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
    if (!url) throw new Error("no inspector target");
    return new Inspector(await openSocket(url));
  }

  command<T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++;
    return new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`${method}: no answer in ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(id, (message) => {
        clearTimeout(timer);
        if (message.error) fail(new Error(`${method}: ${JSON.stringify(message.error)}`));
        else done(message.result as T);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /**
   * MiB of V8 heap in use after a full GC. workerd may leave
   * `HeapProfiler.collectGarbage` unanswered; a heap snapshot (thrown away)
   * collects garbage first too, so it stands in then.
   */
  async liveHeapMiB(): Promise<number> {
    try {
      await this.command("HeapProfiler.collectGarbage", {}, 5_000);
      await this.command("HeapProfiler.collectGarbage", {}, 5_000);
    } catch {
      if (!this.gcWarned) console.log("(HeapProfiler.collectGarbage unanswered: collecting with a discarded heap snapshot instead)");
      this.gcWarned = true;
      await this.snapshot(null);
    }
    const { usedSize } = await this.command<{ usedSize: number }>("Runtime.getHeapUsage");
    return usedSize / 2 ** 20;
  }
  private gcWarned = false;

  /** The V8 heap now, without collecting: MiB in use and MiB the heap has reserved (`totalSize`). */
  async heapUsage(): Promise<{ usedMiB: number; totalMiB: number }> {
    const { usedSize, totalSize } = await this.command<{ usedSize: number; totalSize: number }>("Runtime.getHeapUsage");
    return { usedMiB: usedSize / 2 ** 20, totalMiB: totalSize / 2 ** 20 };
  }

  /** Streams a heap snapshot to `file` (null: thrown away). */
  async snapshot(file: string | null): Promise<void> {
    const out = file === null ? null : createWriteStream(file);
    this.onEvent = (method, params) => {
      if (method === "HeapProfiler.addHeapSnapshotChunk") out?.write((params as { chunk: string }).chunk);
    };
    await this.command("HeapProfiler.takeHeapSnapshot", { reportProgress: false, captureNumericValue: false }, 300_000);
    this.onEvent = () => {};
    if (out) await new Promise<void>((done) => out.end(done));
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A running `wrangler dev` of a checkout copy, with its runtime and inspector. */
export interface DevSession {
  /** The proxy's port (wrangler dev's own). */
  port: number;
  /** The user worker's workerd process (sockets go straight to it). */
  runtime: RuntimeEntry;
  inspector: Inspector;
  /** The runtime's resident set size in MiB (NaN once gone). */
  rssMiB(): number;
  stop(): Promise<void>;
}

function copyCheckout(repo: string, into: string): string {
  const dir = join(into, "worker");
  for (const entry of [
    "wrangler.toml",
    "package.json",
    "tsconfig.json",
    "worker-configuration.d.ts",
    "src",
    "schema",
    "drizzle",
    "migrations",
  ]) {
    if (existsSync(join(repo, entry))) cpSync(join(repo, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  mkdirSync(join(dir, "public"), { recursive: true });
  return dir;
}

function wrangler(cwd: string, work: string, args: string[]): ProcessGroup {
  return spawnGroup({
    args: [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), ...args],
    cwd,
    env: wranglerEnv(ROOT, join(work, "wrangler-logs")),
    onOutput: (text) => {
      if (/error|fatal|out of memory/i.test(text)) process.stderr.write(text.replace(/^/gm, "[wrangler] "));
    },
  });
}

/** Copies `repo`, applies the local D1 migrations and starts `wrangler dev` on 127.0.0.1 with an inspector. */
export async function startDevSession(repo: string, secret: string): Promise<DevSession> {
  const work = mkdtempSync(join(tmpdir(), "heap-bench-"));
  const workerDir = copyCheckout(repo, work);
  const state = join(work, "state");
  const migrate = wrangler(workerDir, work, ["d1", "migrations", "apply", "nanotype-read-replica", "--local", "--persist-to", state]);
  await waitFor(() => migrate.exited, 90_000, "d1 migrations");
  const [port, inspectorPort] = (await freePorts(2)) as [number, number];
  const group = wrangler(workerDir, work, [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    state,
    "--var",
    `AUTH_SECRET:${secret}`,
    "--show-interactive-dev-session=false",
  ]);
  const stop = async () => {
    await group.stop();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    for (const until = Date.now() + 90_000; ;) {
      if (Date.now() > until || group.exited) throw new Error(`wrangler dev not ready\n${group.logTail()}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
      } catch {
        // Not yet.
      }
      await sleep(250);
    }
    const runtime = await findRuntime({ name: "heap-bench", group }, port);
    const inspector = await Inspector.open(inspectorPort);
    const rssMiB = () => {
      try {
        return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${runtime.pid}/status`, "utf8"))![1]) / 1024;
      } catch {
        return Number.NaN;
      }
    };
    return {
      port,
      runtime,
      inspector,
      rssMiB,
      stop: async () => {
        inspector.close();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
