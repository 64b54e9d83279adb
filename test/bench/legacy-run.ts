/**
 * First, small benchmark: a typed tRPC round trip against the floor (a raw
 * WebSocket frame doing the same SQLite work in a room), in one run on local
 * workerd.
 *
 *   npx tsx bench/run.ts            full run  (≈ 2 min, hard limit 5 min)
 *   npx tsx bench/run.ts --quick    smoke run (≈ 30 s, hard limit 90 s)
 *   npm run bench [-- --quick]
 *
 * Options: --global-websocket  use Node's built-in WebSocket instead of `ws`
 *          --verbose           stream the wrangler logs to stderr
 *
 * It starts two `wrangler dev` processes on 127.0.0.1 (the product from
 * ./wrangler.toml and the floor from bench/wrangler.floor.toml, both run from a
 * copy taken at start so edits during the run cannot reload them), each with
 * its own temporary --persist-to directory, runs the scenarios one request in
 * flight (warm-up, then N timed iterations, 3 interleaved repeats), then
 * throughput with 64 in flight, then some in-process micro-costs. Results go
 * to bench/results/latest.json and a Markdown summary to stdout. Every child
 * process (wrangler, workerd) is killed at the end, on errors and on SIGINT.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  symlinkSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  type WriteStream,
} from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/durable-sqlite";
import superjson from "superjson";
import { signRoomToken } from "../src/auth/tokens";
import { closeRoomClient, createRoomClient, roomSocketUrl, type RoomClient } from "../src/client";
import { appRouter } from "../src/rpc/router";
import { createWsAdapter } from "../src/rpc/ws-adapter";
import { createTaskInput } from "../src/tasks/task-inputs";
import { TaskStore } from "../src/tasks/task-store";
import { eq } from "drizzle-orm";
import { tasks } from "../schema/room";

// ---------------------------------------------------------------- settings

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER_BIN = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const RESULTS_FILE = join(ROOT, "bench/results/latest.json");
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const VERBOSE = argv.includes("--verbose");
const USE_GLOBAL_WEBSOCKET = argv.includes("--global-websocket");

const SETTINGS = QUICK
  ? { warmup: 50, iterations: 300, repeats: 3, inflight: 64, throughputMs: 1_000, microOps: 5_000, timerOps: 300, budgetMs: 90_000 }
  : { warmup: 200, iterations: 2_000, repeats: 3, inflight: 64, throughputMs: 3_000, microOps: 20_000, timerOps: 1_000, budgetMs: 300_000 };
const STARTUP_TIMEOUT_MS = QUICK ? 45_000 : 90_000;
/** A request with no progress for this long fails the run (instead of per-request timers, which would cost time). */
const STALL_MS = 20_000;

// ---------------------------------------------------------------- child processes

interface Child {
  name: string;
  proc: ChildProcess;
  /** Process group id (= pid: spawned detached). wrangler's workerd inherits the group. */
  pgid: number;
  tail: string[];
  exited: boolean;
  exitCode: number | null;
}

const children: Child[] = [];
let tempDir = "";

/**
 * Copies what the two workers are built from into the temp dir and runs
 * wrangler there: `wrangler dev` watches its sources and reloads the worker
 * (closing every socket) when a file changes, so edits made in the repo during
 * a run would otherwise restart the worker under test. The copy also keeps
 * wrangler's .wrangler/ and any .dev.vars of the repo out of the run.
 */
function snapshot(): { productDir: string; floorDir: string } {
  const productDir = join(tempDir, "product");
  for (const entry of ["wrangler.toml", "package.json", "tsconfig.json", "src", "schema", "drizzle", "migrations"]) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(productDir, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(productDir, "node_modules"), "dir");
  const floorDir = join(tempDir, "floor");
  mkdirSync(floorDir);
  for (const file of ["floor-worker.ts", "wrangler.floor.toml"]) cpSync(join(ROOT, "bench", file), join(floorDir, file));
  return { productDir, floorDir };
}

function gitState(): { commit: string; dirtyFiles: number } {
  const run = (args: string[]) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
  return { commit: run(["rev-parse", "HEAD"]) || "?", dirtyFiles: run(["status", "--porcelain"]).split("\n").filter(Boolean).length };
}

function childEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(ROOT, "node_modules/.bin")}:${process.env["PATH"] ?? ""}`,
    X_LOCAL_OBSERVABILITY: "false",
    WRANGLER_SEND_METRICS: "false",
    CI: "true",
    NO_COLOR: "1",
    WRANGLER_LOG_PATH: join(tempDir, "wrangler-logs"),
  };
}

function startChild(name: string, cwd: string, args: string[], logFile: WriteStream): Child {
  const proc = spawn(process.execPath, [WRANGLER_BIN, ...args], {
    cwd,
    env: childEnv(),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  const child: Child = { name, proc, pgid: proc.pid, tail: [], exited: false, exitCode: null };
  children.push(child);
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    logFile.write(text);
    if (VERBOSE) process.stderr.write(text.replace(/^/gm, `[${name}] `));
    for (const line of text.split("\n")) if (line.trim()) child.tail.push(line);
    if (child.tail.length > 80) child.tail.splice(0, child.tail.length - 80);
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
  proc.on("exit", (code) => {
    child.exited = true;
    child.exitCode = code;
  });
  return child;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

async function waitGroupsGone(pgids: number[], ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pgids.every((pgid) => !groupAlive(pgid))) return true;
    await sleep(100);
  }
  return pgids.every((pgid) => !groupAlive(pgid));
}

/** SIGTERM every child's process group, then SIGKILL whatever is left. */
async function killChildren(): Promise<void> {
  const pgids = children.map((child) => child.pgid).filter(groupAlive);
  for (const pgid of pgids) signalGroup(pgid, "SIGTERM");
  if (await waitGroupsGone(pgids, 5_000)) return;
  for (const pgid of pgids) signalGroup(pgid, "SIGKILL");
  if (!(await waitGroupsGone(pgids, 3_000))) {
    console.error(`warning: process groups still alive after SIGKILL: ${pgids.filter(groupAlive).join(", ")}`);
  }
}

/** Last resort on process exit (synchronous). */
process.on("exit", () => {
  for (const child of children) signalGroup(child.pgid, "SIGKILL");
});

async function runOnce(name: string, cwd: string, args: string[], logFile: WriteStream, timeoutMs: number): Promise<void> {
  const child = startChild(name, cwd, args, logFile);
  const until = Date.now() + timeoutMs;
  while (!child.exited) {
    if (Date.now() > until) throw new Error(`${name} did not finish within ${timeoutMs} ms\n${child.tail.join("\n")}`);
    await sleep(100);
  }
  if (child.exitCode !== 0) throw new Error(`${name} exited with ${child.exitCode}\n${child.tail.join("\n")}`);
}

async function waitReady(child: Child, url: string): Promise<void> {
  const until = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < until) {
    if (child.exited) throw new Error(`${child.name} exited with ${child.exitCode} before it was ready\n${child.tail.join("\n")}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) {
        await response.arrayBuffer();
        return;
      }
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  throw new Error(`${child.name} not ready at ${url} after ${STARTUP_TIMEOUT_MS} ms\n${child.tail.join("\n")}`);
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolvePort, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolvePort(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("no port");
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

// ---------------------------------------------------------------- WebSockets

type WebSocketClass = typeof WebSocket;

async function loadWebSocket(): Promise<{ impl: WebSocketClass; name: string }> {
  if (!USE_GLOBAL_WEBSOCKET) {
    try {
      // `ws` is in node_modules (via wrangler/miniflare), not a direct dependency: load it if present.
      const specifier = "ws";
      const mod = (await import(specifier)) as { WebSocket?: unknown; default?: unknown };
      const impl = mod.WebSocket ?? mod.default;
      if (typeof impl === "function") {
        const version = (JSON.parse(readFileSync(join(ROOT, "node_modules/ws/package.json"), "utf8")) as { version: string }).version;
        return { impl: impl as WebSocketClass, name: `ws@${version}` };
      }
    } catch {
      // Fall back to the built-in one.
    }
  }
  return { impl: globalThis.WebSocket, name: `node-builtin (Node ${process.versions.node})` };
}

/** Frames sent by every socket of this process (to see how many requests a tRPC batch frame carries). */
let framesSent = 0;

/** The same WebSocket class, counting `send` calls. Every scenario uses it, so the cost is equal. */
function countingWebSocket(impl: WebSocketClass): WebSocketClass {
  const Base = impl as unknown as new (url: string) => WebSocket;
  class CountingWebSocket extends Base {
    override send(data: string | ArrayBuffer | ArrayBufferView): void {
      framesSent++;
      super.send(data);
    }
  }
  return CountingWebSocket as unknown as WebSocketClass;
}

let lastProgress = performance.now();

/** One WebSocket with FIFO request/response matching (a room answers frames in order). */
class FrameSocket {
  private readonly pending: Array<{ resolve(data: string): void; reject(error: Error): void }> = [];
  private closed: Error | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      lastProgress = performance.now();
      const data = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
      if (data === "PONG") return;
      this.pending.shift()?.resolve(data);
    });
    ws.addEventListener("close", (event) => {
      this.closed = new Error(`socket closed (${event.code} ${event.reason})`);
      for (const waiter of this.pending.splice(0)) waiter.reject(this.closed);
    });
  }

  static open(impl: WebSocketClass, url: string): Promise<FrameSocket> {
    return new Promise((resolveOpen, reject) => {
      const ws = new impl(url);
      const timer = setTimeout(() => reject(new Error(`timeout opening ${url.replace(/token=[^&]+/, "token=…")}`)), 15_000);
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        resolveOpen(new FrameSocket(ws));
      });
      ws.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error(`cannot open ${url.replace(/token=[^&]+/, "token=…")}`));
      });
    });
  }

  request(frame: string): Promise<string> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolveFrame, reject) => {
      this.pending.push({ resolve: resolveFrame, reject });
      this.ws.send(frame);
    });
  }

  close(): void {
    try {
      this.ws.close(1000, "bench done");
    } catch {
      // Already closed.
    }
  }
}

/**
 * An in-process stand-in for a WebSocket that answers each tRPC request with a
 * canned response on the next event-loop turn (setImmediate): what is left of
 * the typed round trip is the client's own cost.
 */
function fakeWebSocketClass(cannedData: Record<string, string>): WebSocketClass {
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
      const list = (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ id: number; params: { path: string } }>;
      setImmediate(() => {
        for (const request of list) {
          const canned = cannedData[request.params.path] ?? "null";
          this.dispatchEvent(new MessageEvent("message", { data: `{"id":${request.id},"result":{"type":"data","data":${canned}}}` }));
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

// ---------------------------------------------------------------- statistics

interface Stats {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

function stats(samples: Float64Array): Stats {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  let sum = 0;
  for (const value of sorted) sum += value;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), mean: sum / sorted.length, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianStats(runs: Stats[]): Stats {
  return {
    p50: median(runs.map((run) => run.p50)),
    p90: median(runs.map((run) => run.p90)),
    p99: median(runs.map((run) => run.p99)),
    mean: median(runs.map((run) => run.mean)),
    min: Math.min(...runs.map((run) => run.min)),
    max: Math.max(...runs.map((run) => run.max)),
  };
}

// ---------------------------------------------------------------- scenarios

interface LatencyScenario {
  key: string;
  label: string;
  required: boolean;
  op(i: number): Promise<void>;
}

interface ThroughputScenario {
  key: string;
  label: string;
  /** Starts one operation; resolves when it completes. */
  op(i: number): Promise<unknown>;
}

async function timeLoop(op: (i: number) => Promise<void>, offset: number, count: number, samples: Float64Array | null): Promise<void> {
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await op(offset + i);
    if (samples) samples[i] = performance.now() - start;
  }
}

let opCounter = 0;

async function runLatency(scenario: LatencyScenario): Promise<Stats> {
  const samples = new Float64Array(SETTINGS.iterations);
  await timeLoop(scenario.op, opCounter, SETTINGS.warmup, null);
  opCounter += SETTINGS.warmup;
  await timeLoop(scenario.op, opCounter, SETTINGS.iterations, samples);
  opCounter += SETTINGS.iterations;
  return stats(samples);
}

/** Closed loop: `inflight` operations outstanding until the deadline, then drain. Returns ops/s. */
interface ThroughputRun {
  opsPerSecond: number;
  ops: number;
  seconds: number;
  /** Frames the client sent in the timed window, and operations per frame (> 1 = batching). */
  frames: number;
  opsPerFrame: number;
}

async function runThroughput(scenario: ThroughputScenario): Promise<ThroughputRun> {
  // Short warm-up (wakes the room if it hibernated).
  await Promise.all(Array.from({ length: 32 }, (_, i) => scenario.op(opCounter + i)));
  opCounter += 32;
  const framesBefore = framesSent;
  const start = performance.now();
  const deadline = start + SETTINGS.throughputMs;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await scenario.op(opCounter++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: SETTINGS.inflight }, worker));
  const seconds = (performance.now() - start) / 1000;
  const frames = framesSent - framesBefore;
  return { opsPerSecond: done / seconds, ops: done, seconds, frames, opsPerFrame: done / Math.max(1, frames) };
}

// ---------------------------------------------------------------- micro-costs (in this Node process)

interface Micro {
  key: string;
  label: string;
  /** null when skipped. */
  microsecondsPerOp: number | null;
  skipped?: string;
}

function microSync(key: string, label: string, ops: number, fn: (i: number) => unknown): Micro {
  let sink: unknown;
  for (let i = 0; i < Math.min(2_000, ops); i++) sink = fn(i);
  const start = performance.now();
  for (let i = 0; i < ops; i++) sink = fn(i);
  const elapsed = performance.now() - start;
  if (sink === Symbol.for("never")) console.log(sink);
  return { key, label, microsecondsPerOp: (elapsed * 1000) / ops };
}

async function microAsync(key: string, label: string, ops: number, fn: () => Promise<unknown>): Promise<Micro> {
  for (let i = 0; i < 50; i++) await fn();
  const start = performance.now();
  for (let i = 0; i < ops; i++) await fn();
  return { key, label, microsecondsPerOp: ((performance.now() - start) * 1000) / ops };
}

type ServerStack = (frame: string) => Promise<string>;

/**
 * The room's whole JavaScript path for one frame, in this process: the real
 * ws-adapter, appRouter (middleware, zod, superjson) and TaskStore (Drizzle),
 * over a fake SQL cursor that returns a canned row, and a fake socket. What it
 * leaves out: SQLite, the storage commit, socket I/O and the attachment read.
 * Best effort: it reaches into room internals (the adapter's options, the
 * procedure context, TaskStore), which change; when they no longer fit it
 * returns the reason and the run reports these rows as skipped.
 */
async function serverStackInNode(task: Record<string, unknown>, frames: string[]): Promise<ServerStack | string> {
  try {
    const time = (value: unknown) => (value instanceof Date ? value.getTime() : null);
    const raw = [
      task["id"],
      task["title"],
      task["description"],
      task["status"],
      task["priority"],
      task["assignee"] ?? null,
      task["position"],
      task["created_by"],
      time(task["created_at"]),
      time(task["updated_at"]),
      time(task["completed_at"]),
    ];
    const cursor = {
      raw: () => ({ toArray: () => [raw] }),
      toArray: () => [],
      next: () => ({ done: true, value: undefined }),
      one: () => ({}),
    };
    const storage = { sql: { exec: () => cursor } } as unknown as DurableObjectStorage;
    const store: unknown = Reflect.construct(TaskStore, [drizzle(storage)]);
    const expiresAt = Date.now() + 3_600_000;
    // `live` is stubbed (mutations read the change-log head to stamp their seq); the SQL behind it is the floor's insert-logged.
    const live = { log: { head: () => 1 }, hub: { published: 1, publish: () => null } };
    const context = { room: "bench", identity: { sub: "bench", role: "writer", expiresAt }, connectionParams: null, tasks: store, live };
    const options = {
      router: appRouter,
      session: () => ({ context, awaitingConnectionParams: false, expiresAt, subscriptions: [] }),
      saveConnectionParams: () => undefined,
      saveSubscriptions: () => undefined,
      resumeEventId: () => "1",
    };
    const adapter = createWsAdapter(options as unknown as Parameters<typeof createWsAdapter>[0]);
    let reply = "";
    const ws = { send: (data: string) => void (reply = data), close: () => undefined, readyState: 1 } as unknown as WebSocket;
    const server: ServerStack = async (frame) => {
      reply = "";
      await adapter.message(ws, frame);
      return reply;
    };
    for (const frame of frames) {
      const answer = await server(frame);
      if (!answer.startsWith(`{"id":1,"result":`)) return `the in-process room replied ${answer.slice(0, 200) || "nothing"}`;
    }
    return server;
  } catch (error) {
    return `the in-process room failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function microCosts(cannedCreate: string, cannedGet: string): Promise<Micro[]> {
  const n = SETTINGS.microOps;
  const input = { title: "bench 1" };
  const taskResponse = `{"id":1,"result":{"type":"data","data":${cannedCreate}}}`;
  const task = superjson.deserialize(JSON.parse(cannedCreate) as Parameters<typeof superjson.deserialize>[0]) as Record<string, unknown>;
  const db = drizzle({} as DurableObjectStorage);
  const at = new Date();
  const createFrame = `{"id":1,"method":"mutation","params":{"path":"tasks.create","input":{"json":{"title":"bench 1"}}}}`;
  const getFrame = `{"id":1,"method":"query","params":{"path":"tasks.get","input":{"json":{"id":${String(task["id"])}}}}}`;
  const server = await serverStackInNode(task, [createFrame, getFrame]);
  const serverRow = async (key: string, label: string, frame: string): Promise<Micro> =>
    typeof server === "string" ? { key, label, microsecondsPerOp: null, skipped: server } : microAsync(key, label, n, () => server(frame));
  return [
    await serverRow(
      "serverStackMutation",
      "server: whole room JS path for a tasks.create frame (adapter, tRPC, zod, superjson, Drizzle; fake SQL)",
      createFrame,
    ),
    await serverRow("serverStackQuery", "server: whole room JS path for a tasks.get frame (same, fake SQL)", getFrame),
    await microAsync("setTimeout0", "setTimeout(0) → callback (wsLink's `await sleep(0)` before each send)", SETTINGS.timerOps, () =>
      sleep(0),
    ),
    await microAsync(
      "setImmediate",
      "setImmediate → callback (for comparison)",
      SETTINGS.timerOps,
      () => new Promise((done) => setImmediate(done)),
    ),
    microSync("clientEncode", "client: superjson.serialize(input) + JSON.stringify(request)", n, (i) =>
      JSON.stringify({ id: i, method: "mutation", params: { input: superjson.serialize(input), path: "tasks.create" } }),
    ),
    microSync("clientDecode", "client: JSON.parse(response) + superjson.deserialize(task)", n, () => {
      const message = JSON.parse(taskResponse) as { result: { data: Parameters<typeof superjson.deserialize>[0] } };
      return superjson.deserialize(message.result.data);
    }),
    microSync("serverParse", "server: JSON.parse(request) + superjson.deserialize(input)", n, (i) => {
      const message = JSON.parse(
        `{"id":${i},"method":"mutation","params":{"path":"tasks.create","input":{"json":{"title":"bench ${i}"}}}}`,
      ) as { params: { input: Parameters<typeof superjson.deserialize>[0] } };
      return superjson.deserialize(message.params.input);
    }),
    microSync("zod", "server: zod createTaskInput.parse({ title })", n, (i) => createTaskInput.parse({ title: `bench ${i}` })),
    microSync("drizzleBuild", "server: Drizzle insert(tasks).values(…).returning() → SQL (build only)", n, (i) =>
      db
        .insert(tasks)
        .values({
          title: `bench ${i}`,
          description: "",
          status: "pending",
          priority: 0,
          assignee: null,
          position: 0,
          created_by: "bench",
          created_at: at,
          updated_at: at,
          completed_at: null,
        })
        .returning()
        .toSQL(),
    ),
    microSync("drizzleSelectBuild", "server: Drizzle select().from(tasks).where(eq(id)) → SQL (build only)", n, (i) =>
      db.select().from(tasks).where(eq(tasks.id, i)).toSQL(),
    ),
    microSync("serverEncode", "server: superjson.serialize(task) + JSON.stringify(response)", n, (i) =>
      JSON.stringify({ id: i, result: { type: "data", data: superjson.serialize(task) } }),
    ),
    microSync("floorEncode", "floor: JSON.stringify(row) (insert-row / get reply)", n, () =>
      JSON.stringify({ ...task, created_at: 1, updated_at: 1 }),
    ),
    microSync("getDecode", "client: JSON.parse + superjson.deserialize of tasks.get reply", n, () =>
      superjson.deserialize(JSON.parse(cannedGet) as Parameters<typeof superjson.deserialize>[0]),
    ),
  ];
}

// ---------------------------------------------------------------- main

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function versionOf(path: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, path), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function fmt(value: number, digits = 3): string {
  return value.toFixed(digits);
}

async function main(): Promise<void> {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    throw new Error(`wrangler needs Node ≥ 22.12; this is ${process.versions.node}. Run via npx/npm (node_modules/.bin/node is Node 22).`);
  }
  const runStarted = Date.now();
  const loadAtStart = loadavg();
  tempDir = mkdtempSync(join(tmpdir(), "nanotype-bench-"));
  const logFile = createWriteStream(join(tempDir, "wrangler.log"));
  const secret = randomBytes(24).toString("hex"); // 48 characters
  const [productPort, floorPort, productInspector, floorInspector] = (await freePorts(4)) as [number, number, number, number];
  const productState = join(tempDir, "product-state");
  const floorState = join(tempDir, "floor-state");
  const productUrl = `http://127.0.0.1:${productPort}`;
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  const { productDir, floorDir } = snapshot();
  const git = gitState();

  const migrateArgs = ["d1", "migrations", "apply", "nanotype-read-replica", "--local", "--persist-to", productState];
  const productArgs = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(productPort),
    "--inspector-port",
    String(productInspector),
    "--persist-to",
    productState,
    "--var",
    `AUTH_SECRET:${secret}`,
    "--show-interactive-dev-session=false",
  ];
  const floorArgs = [
    "dev",
    "-c",
    "wrangler.floor.toml",
    "--ip",
    "127.0.0.1",
    "--port",
    String(floorPort),
    "--inspector-port",
    String(floorInspector),
    "--persist-to",
    floorState,
    "--show-interactive-dev-session=false",
  ];
  const redact = (args: string[]) => args.map((arg) => arg.replace(secret, "<48-char bench secret>")).join(" ");
  const commands = {
    note: "run in a copy of the repo taken at start (<tmp>/product: wrangler.toml, src, schema, drizzle, migrations; <tmp>/floor: bench/floor-worker.ts, bench/wrangler.floor.toml)",
    migrate: `(cd <tmp>/product && wrangler ${redact(migrateArgs).replaceAll(tempDir, "<tmp>")})`,
    product: `(cd <tmp>/product && wrangler ${redact(productArgs).replaceAll(tempDir, "<tmp>")})`,
    floor: `(cd <tmp>/floor && wrangler ${redact(floorArgs).replaceAll(tempDir, "<tmp>")})`,
    env: "X_LOCAL_OBSERVABILITY=false WRANGLER_SEND_METRICS=false CI=true",
  };

  console.error(`bench: ${QUICK ? "quick" : "full"} run; temp dir ${tempDir}`);
  const floor = startChild("floor", floorDir, floorArgs, logFile);
  await runOnce("d1-migrate", productDir, migrateArgs, logFile, 60_000);
  const product = startChild("product", productDir, productArgs, logFile);
  await Promise.all([waitReady(product, `${productUrl}/health`), waitReady(floor, `${floorUrl}/health`)]);
  const startupSeconds = (Date.now() - runStarted) / 1000;
  console.error(`bench: both workers ready after ${startupSeconds.toFixed(1)} s`);

  const { impl: baseWebSocket, name: wsName } = await loadWebSocket();
  const WS = countingWebSocket(baseWebSocket);
  const suffix = randomBytes(4).toString("hex");
  const room = `bench-${suffix}`;
  const token = await signRoomToken({ sub: "bench", room, role: "writer", ttlSeconds: 3_600 }, secret);

  const floorSocket = await FrameSocket.open(WS, `ws://127.0.0.1:${floorPort}/floor/${room}/ws`);
  const productSocketUrl = `${roomSocketUrl(productUrl, room)}?token=${encodeURIComponent(token)}`;
  const handSocket = await FrameSocket.open(WS, productSocketUrl);
  const client: RoomClient = createRoomClient({ url: productUrl, room, token, WebSocket: WS });

  // Seed rows for the read scenarios and capture real replies for the fake socket.
  const seeded = await client.tasks.create.mutate({ title: "seed" });
  const floorSeedId = Number(await floorSocket.request("insert:seed"));
  let trpcId = 1_000_000;
  /** A tRPC v11 request frame written by hand (superjson input without meta is `{ json }`). */
  const handFrame = (method: "mutation" | "query", path: string, json: string) => {
    const id = ++trpcId;
    return { id, frame: `{"id":${id},"method":"${method}","params":{"path":"${path}","input":{"json":${json}}}}` };
  };
  const checkTrpc = (reply: string, id: number) => {
    if (!reply.startsWith(`{"id":${id},"result":`)) throw new Error(`unexpected tRPC reply: ${reply.slice(0, 300)}`);
  };
  const replyData = (reply: string) => JSON.stringify((JSON.parse(reply) as { result: { data: unknown } }).result.data);
  const cannedCreate = replyData(await handSocket.request(handFrame("mutation", "tasks.create", `{"title":"seed 2"}`).frame));
  const cannedGet = replyData(await handSocket.request(handFrame("query", "tasks.get", `{"id":${seeded.id}}`).frame));
  const fakeClient = createRoomClient({
    url: "http://fake.invalid",
    room,
    token: "fake",
    WebSocket: fakeWebSocketClass({ "tasks.create": cannedCreate, "tasks.get": cannedGet }),
  });

  const latencyScenarios: LatencyScenario[] = [
    {
      key: "rawEcho",
      label: "raw echo frame (floor)",
      required: true,
      op: async (i) => {
        const frame = `echo:${i}`;
        if ((await floorSocket.request(frame)) !== frame) throw new Error("echo mismatch");
      },
    },
    {
      key: "rawInsert",
      label: "raw insert frame (floor)",
      required: true,
      op: async (i) => {
        const reply = await floorSocket.request(`insert:${i}`);
        if (!/^\d+$/.test(reply)) throw new Error(`insert failed: ${reply}`);
      },
    },
    {
      key: "typedMutation",
      label: "typed mutation: client.tasks.create.mutate",
      required: true,
      op: async (i) => {
        const task = await client.tasks.create.mutate({ title: `bench ${i}` });
        if (typeof task.id !== "number") throw new Error("create returned no id");
      },
    },
    {
      key: "typedQuery",
      label: "typed query: client.tasks.get.query",
      required: true,
      op: async () => {
        const task = await client.tasks.get.query({ id: seeded.id });
        if (task.id !== seeded.id) throw new Error("get returned another task");
      },
    },
    {
      key: "rawInsertRow",
      label: "raw insert … RETURNING *, row as JSON (floor)",
      required: false,
      op: async (i) => {
        const reply = await floorSocket.request(`insert-row:${i}`);
        if (!reply.startsWith("{")) throw new Error(`insert-row failed: ${reply}`);
      },
    },
    {
      key: "rawInsertLogged",
      label: "raw insert-row + the product's change-log trigger and seq reads (floor)",
      required: false,
      op: async (i) => {
        const reply = await floorSocket.request(`insert-logged:${i}`);
        if (!reply.startsWith("{")) throw new Error(`insert-logged failed: ${reply}`);
      },
    },
    {
      key: "rawGet",
      label: "raw get-by-id frame, row as JSON (floor)",
      required: false,
      op: async () => {
        const reply = await floorSocket.request(`get:${floorSeedId}`);
        if (!reply.startsWith("{")) throw new Error(`get failed: ${reply}`);
      },
    },
    {
      key: "handMutation",
      label: "hand-written tRPC frame: tasks.create",
      required: false,
      op: async (i) => {
        const { id, frame } = handFrame("mutation", "tasks.create", `{"title":"bench ${i}"}`);
        checkTrpc(await handSocket.request(frame), id);
      },
    },
    {
      key: "handQuery",
      label: "hand-written tRPC frame: tasks.get",
      required: false,
      op: async () => {
        const { id, frame } = handFrame("query", "tasks.get", `{"id":${seeded.id}}`);
        checkTrpc(await handSocket.request(frame), id);
      },
    },
    {
      key: "fakeMutation",
      label: "typed mutation, in-process fake socket (client cost only)",
      required: false,
      op: async (i) => {
        await fakeClient.tasks.create.mutate({ title: `bench ${i}` });
      },
    },
  ];

  const throughputScenarios: ThroughputScenario[] = [
    { key: "rawInsert", label: "raw insert frames (floor), 1 insert per frame", op: (i) => floorSocket.request(`insert:${i}`) },
    {
      key: "typedMutation",
      label: "typed mutations (stock client; wsLink batches per tick)",
      op: (i) => client.tasks.create.mutate({ title: `bench ${i}` }),
    },
    {
      key: "handMutation",
      label: "hand-written tRPC frames, 1 mutation per frame",
      op: async (i) => {
        const { id, frame } = handFrame("mutation", "tasks.create", `{"title":"bench ${i}"}`);
        checkTrpc(await handSocket.request(frame), id);
      },
    },
  ];

  // Stall watchdog.
  let stalledSince: string | null = null;
  const watchdog = setInterval(() => {
    if (performance.now() - lastProgress > STALL_MS && stalledSince !== null) {
      fail(new Error(`no progress for ${STALL_MS / 1000} s in "${stalledSince}"`));
    }
  }, 1_000);
  watchdog.unref();

  const latency: Record<string, Stats[]> = {};
  for (let repeat = 0; repeat < SETTINGS.repeats; repeat++) {
    // Rotate the order each repeat so no scenario always runs first or last.
    const order = latencyScenarios.map((_, index) => latencyScenarios[(index + repeat * 3) % latencyScenarios.length]!);
    for (const scenario of order) {
      stalledSince = scenario.key;
      lastProgress = performance.now();
      const result = await runLatency(scenario);
      (latency[scenario.key] ??= []).push(result);
      console.error(`  repeat ${repeat + 1} ${scenario.key.padEnd(14)} p50 ${fmt(result.p50)} ms  p99 ${fmt(result.p99)} ms`);
    }
  }
  stalledSince = null;

  const loadAtThroughput = loadavg();
  const throughput: Record<string, ThroughputRun[]> = {};
  for (let repeat = 0; repeat < SETTINGS.repeats; repeat++) {
    const order = throughputScenarios.map((_, index) => throughputScenarios[(index + repeat) % throughputScenarios.length]!);
    for (const scenario of order) {
      stalledSince = `throughput ${scenario.key}`;
      lastProgress = performance.now();
      const result = await runThroughput(scenario);
      (throughput[scenario.key] ??= []).push(result);
      console.error(
        `  repeat ${repeat + 1} throughput ${scenario.key.padEnd(14)} ${Math.round(result.opsPerSecond)} ops/s, ${result.opsPerFrame.toFixed(1)} ops/frame`,
      );
    }
  }
  stalledSince = null;
  clearInterval(watchdog);

  await closeRoomClient(client);
  await closeRoomClient(fakeClient);
  floorSocket.close();
  handSocket.close();

  const micro = await microCosts(cannedCreate, cannedGet);

  // ------------------------------------------------------------ report
  const medians: Record<string, Stats> = {};
  for (const [key, runs] of Object.entries(latency)) medians[key] = medianStats(runs);
  const m = (key: string) => medians[key]!;
  const ratios = {
    typedMutationOverRawInsert: { p50: m("typedMutation").p50 / m("rawInsert").p50, p99: m("typedMutation").p99 / m("rawInsert").p99 },
    typedQueryOverRawEcho: { p50: m("typedQuery").p50 / m("rawEcho").p50, p99: m("typedQuery").p99 / m("rawEcho").p99 },
    handMutationOverRawInsert: { p50: m("handMutation").p50 / m("rawInsert").p50, p99: m("handMutation").p99 / m("rawInsert").p99 },
    typedQueryOverRawGet: { p50: m("typedQuery").p50 / m("rawGet").p50, p99: m("typedQuery").p99 / m("rawGet").p99 },
  };
  const throughputMedians: Record<string, number> = {};
  for (const [key, runs] of Object.entries(throughput)) throughputMedians[key] = median(runs.map((run) => run.opsPerSecond));
  const p50 = (key: string) => m(key).p50;
  const breakdown = [
    { part: "transport round trip (raw echo)", ms: p50("rawEcho") },
    { part: "+ SQLite insert and its commit (raw insert − raw echo)", ms: p50("rawInsert") - p50("rawEcho") },
    { part: "+ RETURNING * and a JSON row reply (raw insert-row − raw insert)", ms: p50("rawInsertRow") - p50("rawInsert") },
    {
      part: "+ change log: trigger row in _changes, seq reads (raw insert-logged − raw insert-row)",
      ms: p50("rawInsertLogged") - p50("rawInsertRow"),
    },
    {
      part: "+ server JS stack: adapter, tRPC, superjson, zod, middleware, Drizzle (hand-written frame − raw insert-logged)",
      ms: p50("handMutation") - p50("rawInsertLogged"),
    },
    {
      part: "+ client stack: wsLink, setTimeout(0), superjson, observables (typed − hand-written frame)",
      ms: p50("typedMutation") - p50("handMutation"),
    },
    { part: "= typed mutation", ms: p50("typedMutation") },
  ];

  const queryBreakdown = [
    { part: "transport round trip (raw echo)", ms: p50("rawEcho") },
    { part: "+ SQLite select by id and a JSON row reply (raw get − raw echo)", ms: p50("rawGet") - p50("rawEcho") },
    {
      part: "+ server tRPC stack: adapter, superjson, zod, middleware, Drizzle (hand-written frame − raw get)",
      ms: p50("handQuery") - p50("rawGet"),
    },
    {
      part: "+ client stack: wsLink, setTimeout(0), superjson, observables (typed − hand-written frame)",
      ms: p50("typedQuery") - p50("handQuery"),
    },
    { part: "= typed query", ms: p50("typedQuery") },
  ];

  const results = {
    version: 1,
    date: new Date().toISOString(),
    mode: QUICK ? "quick" : "full",
    settings: SETTINGS,
    environment: {
      node: process.versions.node,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "?",
      wrangler: versionOf("node_modules/wrangler/package.json"),
      miniflare: versionOf("node_modules/wrangler/node_modules/miniflare/package.json"),
      workerd: versionOf("node_modules/wrangler/node_modules/workerd/package.json"),
      trpc: versionOf("node_modules/@trpc/client/package.json"),
      websocketClient: wsName,
      /** 1/5/15-minute load averages: other work on the machine shows up here (and as noise). */
      loadAverageStart: loadAtStart,
      loadAverageAtThroughput: loadAtThroughput,
      loadAverageEnd: loadavg(),
    },
    source: git,
    commands,
    startupSeconds,
    latencyMs: Object.fromEntries(
      latencyScenarios.map((scenario) => [
        scenario.key,
        { label: scenario.label, required: scenario.required, median: medians[scenario.key], runs: latency[scenario.key] },
      ]),
    ),
    ratios,
    breakdownP50Ms: { mutation: breakdown, query: queryBreakdown },
    throughput: Object.fromEntries(
      throughputScenarios.map((scenario) => [
        scenario.key,
        {
          label: scenario.label,
          inflight: SETTINGS.inflight,
          medianOpsPerSecond: throughputMedians[scenario.key],
          runs: throughput[scenario.key],
        },
      ]),
    ),
    microCostsNode: micro,
    totalSeconds: (Date.now() - runStarted) / 1000,
  };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);

  const lines: string[] = [];
  lines.push(`## nanotypeDB bench — ${results.mode}, ${results.date}`);
  lines.push("");
  lines.push(
    `Local workerd via wrangler dev ${results.environment.wrangler}, Node ${results.environment.node}, ${results.environment.cpus} CPUs, client ${wsName}. ` +
      `${SETTINGS.iterations} iterations after ${SETTINGS.warmup} warm-up, one in flight, ${SETTINGS.repeats} interleaved repeats; medians of the repeats. ` +
      `Load average (1 min) at start / throughput / end: ${loadAtStart[0]!.toFixed(2)} / ${loadAtThroughput[0]!.toFixed(2)} / ${loadavg()[0]!.toFixed(2)}.`,
  );
  lines.push("");
  lines.push("| scenario | p50 ms | p90 ms | p99 ms | p50 per repeat |");
  lines.push("|---|---:|---:|---:|---|");
  for (const scenario of latencyScenarios) {
    const s = m(scenario.key);
    const label = scenario.required ? scenario.label : `${scenario.label} *(extra)*`;
    lines.push(
      `| ${label} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${latency[scenario.key]!.map((run) => fmt(run.p50)).join(" / ")} |`,
    );
  }
  lines.push("");
  lines.push("| ratio | p50 | p99 |");
  lines.push("|---|---:|---:|");
  lines.push(
    `| typed mutation / raw insert | ${fmt(ratios.typedMutationOverRawInsert.p50, 2)}× | ${fmt(ratios.typedMutationOverRawInsert.p99, 2)}× |`,
  );
  lines.push(`| typed query / raw echo | ${fmt(ratios.typedQueryOverRawEcho.p50, 2)}× | ${fmt(ratios.typedQueryOverRawEcho.p99, 2)}× |`);
  lines.push(
    `| hand-written tRPC mutation / raw insert *(extra)* | ${fmt(ratios.handMutationOverRawInsert.p50, 2)}× | ${fmt(ratios.handMutationOverRawInsert.p99, 2)}× |`,
  );
  lines.push(
    `| typed query / raw get *(extra)* | ${fmt(ratios.typedQueryOverRawGet.p50, 2)}× | ${fmt(ratios.typedQueryOverRawGet.p99, 2)}× |`,
  );
  lines.push("");
  lines.push(
    `| throughput, ${SETTINGS.inflight} in flight, ${SETTINGS.throughputMs / 1000} s | ops/s (median) | per repeat | ops per client frame |`,
  );
  lines.push("|---|---:|---|---:|");
  for (const scenario of throughputScenarios) {
    const runs = throughput[scenario.key]!;
    lines.push(
      `| ${scenario.label} | ${Math.round(throughputMedians[scenario.key]!)} | ${runs.map((run) => Math.round(run.opsPerSecond)).join(" / ")} | ${median(runs.map((run) => run.opsPerFrame)).toFixed(1)} |`,
    );
  }
  lines.push("");
  lines.push("| where a typed mutation's p50 goes (differences of medians) | ms |");
  lines.push("|---|---:|");
  for (const row of breakdown) lines.push(`| ${row.part} | ${fmt(row.ms)} |`);
  lines.push("");
  lines.push("| where a typed query's p50 goes (differences of medians) | ms |");
  lines.push("|---|---:|");
  for (const row of queryBreakdown) lines.push(`| ${row.part} | ${fmt(row.ms)} |`);
  lines.push("");
  lines.push("| micro-cost in this Node process (V8; the room runs V8 too) | µs/op |");
  lines.push("|---|---:|");
  for (const row of micro) {
    lines.push(`| ${row.label} | ${row.microsecondsPerOp === null ? `skipped: ${row.skipped ?? "?"}` : fmt(row.microsecondsPerOp, 2)} |`);
  }
  lines.push("");
  lines.push(
    `Results: ${relative(ROOT, RESULTS_FILE)}. Total ${results.totalSeconds.toFixed(1)} s (startup ${startupSeconds.toFixed(1)} s).`,
  );
  console.log(lines.join("\n"));
}

// ---------------------------------------------------------------- lifecycle

let finishing: Promise<void> | null = null;

/** Kills the children and removes the temp dir once, however many times it is called (signals can repeat). */
async function finish(code: number): Promise<never> {
  finishing ??= (async () => {
    await killChildren();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  })();
  await finishing;
  process.exit(code);
}

function fail(error: unknown): void {
  if (finishing) return;
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  for (const child of children) {
    if (child.tail.length) console.error(`--- last lines of ${child.name} ---\n${child.tail.slice(-25).join("\n")}`);
  }
  void finish(1);
}

const budget = setTimeout(() => fail(new Error(`time budget of ${SETTINGS.budgetMs / 1000} s exceeded`)), SETTINGS.budgetMs);
budget.unref();
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, stopping`);
    void finish(130);
  });
}
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);

main().then(
  () => finish(0),
  (error: unknown) => fail(error),
);
