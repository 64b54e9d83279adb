/**
 * Security finding 1 (issue 15), measured: many `tasks.live {limit: 500}`
 * subscriptions on a room of 500 tasks of ~2.4 KB, then writes by a writer.
 * For one checkout (or several: `--side label=DIR`, run one after another) and
 * each scenario, a fresh `wrangler dev` (from a copy of the checkout, in its own
 * process group, killed at the end), then:
 *
 *   seed 500 tasks → open 32 sockets × 16 subscriptions, one socket at a time,
 *   each waiting for its 16 first results (or refusals) → RSS before → N writes
 *   (`tasks.update` of task 1's title), each: time to the writer's answer, and
 *   time until every accepted subscription received the new title → peak RSS,
 *   VmHWM, GET /health, and any "heap out of memory" line wrangler printed.
 *
 * Scenarios: 1 = the finding exactly (one reader token for all 32 sockets);
 * 2 = 32 reader users × 16 identical subscriptions; 3 = 32 users × 16
 * subscriptions with 512 different inputs (nothing can be shared); 4 = one
 * reader token, 4 sockets × 16 (the 64 a user may hold after the fix, so both
 * sides carry the same load); 5 (not run by default) = 64 users × 16
 * identical subscriptions (1,024, within the room's 4,096).
 * Memory is the runtime workerd's (the user worker's process behind wrangler's
 * proxy; sockets connect to it directly), from /proc/<pid>/status, and its
 * isolate's V8 heap through wrangler dev's inspector port (CDP).
 *
 *   git worktree add --detach /tmp/before ab6c4e2 && ln -s $PWD/node_modules /tmp/before/
 *   git worktree add --detach /tmp/after HEAD && ln -s $PWD/node_modules /tmp/after/
 *   npx tsx test/bench/finding-1.ts --side before=/tmp/before --side after=/tmp/after
 *
 * Options: --side label=DIR (repeatable; default: after=<this repo>), --repo DIR
 * (one side, labelled by its commit), --scenarios 1,2,3,4, --writes 5,
 * --timeout 120 (s per scenario). Writes test/bench/results/finding-1.json
 * (merged per side label) and renders test/bench/results/finding-1.md from it
 * (a "## Reading" section written by hand in that file is kept).
 * Load goes to 127.0.0.1 only.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { signRoomToken } from "../../src/auth/tokens";
import { roomSocketUrl } from "../../src/protocol/routes";
import { freePorts, groupAlive, spawnGroup, wranglerEnv, type ProcessGroup } from "../helpers/wrangler-process";
import { findRuntime, type Child } from "./runtime";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const RESULTS_JSON = join(ROOT, "test/bench/results/finding-1.json");
const RESULTS_MD = join(ROOT, "test/bench/results/finding-1.md");

const SOCKETS = 32;
/** Sockets of a scenario: 32, except scenario 4 (the 64 subscriptions one user may hold after the fix). */
const socketsOf = (scenario: number) => (scenario === 4 ? 4 : scenario === 5 ? 64 : SOCKETS);
/** Users of a scenario: one reader token in 1 and 4, one user per socket otherwise. */
const oneUser = (scenario: number) => scenario === 1 || scenario === 4;
const SUBS_PER_SOCKET = 16;
const TASKS = 500;
const TITLE_CHARS = 100;
const DESCRIPTION_CHARS = 2_300;
const CREATES_PER_FRAME = 25;

// ---------------------------------------------------------------- arguments

const argv = process.argv.slice(2);
function option(name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}` && argv[i + 1] !== undefined) values.push(argv[++i]!);
    else if (argv[i]!.startsWith(`--${name}=`)) values.push(argv[i]!.slice(name.length + 3));
  }
  return values;
}
const SCENARIOS = (option("scenarios")[0] ?? "1,2,3,4").split(",").map(Number);
const WRITES = Number(option("writes")[0] ?? 5);
const TIMEOUT_MS = Number(option("timeout")[0] ?? 120) * 1000;
const RENDER_ONLY = argv.includes("--render");

function git(dir: string, args: string[]): string {
  return spawnSync("git", args, { cwd: dir, encoding: "utf8" }).stdout?.trim() ?? "";
}

interface Side {
  label: string;
  dir: string;
}
function sides(): Side[] {
  const listed = option("side").map((spec) => {
    const at = spec.indexOf("=");
    if (at < 1) throw new Error(`--side wants label=DIR, got ${spec}`);
    return { label: spec.slice(0, at), dir: resolve(spec.slice(at + 1)) };
  });
  for (const repo of option("repo")) listed.push({ label: git(resolve(repo), ["rev-parse", "--short", "HEAD"]), dir: resolve(repo) });
  return listed.length > 0 ? listed : [{ label: "after", dir: ROOT }];
}

// ---------------------------------------------------------------- results

interface WriteResult {
  /** ms from sending the update to the writer's answer (null: no answer). */
  answerMs: number | null;
  answer: string;
  /** ms until the last accepted subscription received the new title (null: not all did). */
  lastPushMs: number | null;
  /** ms until the first subscription received the new title. */
  firstPushMs: number | null;
  /** Subscriptions that had received the new title when the writer's answer arrived. */
  pushedBeforeAnswer: number;
  pushed: number;
}

interface ScenarioResult {
  scenario: number;
  description: string;
  users: number;
  requested: number;
  accepted: number;
  refused: number;
  refusal: string | null;
  socketsClosed: string[];
  firstResultsMs: number;
  rssIdleMiB: number;
  rssSeededMiB: number;
  /** Highest VmRSS sampled while the subscriptions were opened (their first results made and sent). */
  rssPeakSubscribingMiB: number;
  rssBeforeWriteMiB: number;
  hwmBeforeWriteMiB: number;
  rssPeakDuringWritesMiB: number;
  hwmAfterMiB: number | null;
  rssAfterMiB: number | null;
  /** V8 heap used (MiB) of the runtime isolate: before the writes, highest sample during them, after; null when unreadable. */
  heapBeforeWriteMiB: number | null;
  heapPeakDuringWritesMiB: number | null;
  heapAfterMiB: number | null;
  heapSamples: number;
  /** Whether the runtime workerd process that held the subscriptions is still the same, alive process. */
  processSurvived: boolean;
  writes: WriteResult[];
  survived: boolean;
  health: string;
  crashLines: string[];
  error: string | null;
  seconds: number;
  /** 1-minute load average of the machine when the scenario started and ended (the machine is shared). */
  load: [number, number];
}

interface SideResult {
  label: string;
  commit: string;
  subject: string;
  ranAt: string;
  scenarios: ScenarioResult[];
}

// ---------------------------------------------------------------- the runtime

/** Copies what the Worker is built from, so edits to the checkout during a run cannot reload it. */
function snapshot(repo: string, into: string): string {
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
    if (existsSync(join(repo, entry))) cpSync(join(repo, entry), join(dir, entry), { recursive: true, dereference: false });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  mkdirSync(join(dir, "public"), { recursive: true });
  return dir;
}

function wrangler(cwd: string, args: string[], logFile: string, output: string[]): ProcessGroup {
  return spawnGroup({
    args: [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), ...args],
    cwd,
    env: wranglerEnv(ROOT, join(dirname(logFile), "wrangler-logs")),
    onOutput: (text) => {
      writeFileSync(logFile, text, { flag: "a" });
      output.push(
        ...text.split("\n").filter((line) => /heap out of memory|fatal|allocation failed|crashed|segmentation fault/i.test(line)),
      );
    },
  });
}

async function waitExit(group: ProcessGroup, timeoutMs: number): Promise<void> {
  for (const until = Date.now() + timeoutMs; !group.exited && Date.now() < until;) await sleep(100);
  if (!group.exited) {
    await group.stop();
    throw new Error(`wrangler did not finish within ${timeoutMs} ms\n${group.logTail()}`);
  }
  if (group.exitCode !== 0) throw new Error(`wrangler exited with ${group.exitCode}\n${group.logTail()}`);
}

function status(pid: number): { rss: number; hwm: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(text)![1]) / 1024, hwm: Number(/VmHWM:\s+(\d+)/.exec(text)![1]) / 1024 };
  } catch {
    return null;
  }
}

async function health(url: string): Promise<string> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
    return `${response.status} ${(await response.text()).split("\n")[0]!.slice(0, 80)}`;
  } catch (error) {
    return `no answer (${(error as Error).message.split("\n")[0]})`;
  }
}

// ---------------------------------------------------------------- sockets

/** The part of the `ws` package's WebSocket used here (`ws` comes with wrangler, without type declarations). */
interface WS {
  readonly readyState: number;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "close", listener: (code: number, reason: Buffer) => void): void;
  once(event: "open", listener: () => void): void;
  once(event: "error", listener: (error: Error) => void): void;
  off(event: "message", listener: (data: Buffer) => void): void;
  send(data: string): void;
  terminate(): void;
}
type WSClass = new (url: string, options: { maxPayload: number; perMessageDeflate: boolean }) => WS;
let WebSocketImpl: WSClass;

function open(url: string, timeoutMs = 15_000): Promise<WS> {
  return new Promise((done, fail) => {
    const ws = new WebSocketImpl(url, { maxPayload: 64 * 1024 * 1024, perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      fail(new Error("timeout opening a socket"));
    }, timeoutMs);
    ws.once("open", () => {
      clearTimeout(timer);
      done(ws);
    });
    ws.once("error", (error) => {
      clearTimeout(timer);
      fail(error);
    });
  });
}

/** One subscription's state as the client sees it. */
interface Sub {
  id: number;
  first: boolean;
  error: string | null;
  /** The marker it is waiting for, and whether it arrived. */
  got: boolean;
}

/** A socket of subscriptions: classifies each frame by its head, never parsing a big result. */
class SubSocket {
  readonly subs = new Map<number, Sub>();
  closed: string | null = null;
  marker: Buffer | null = null;
  onProgress: () => void = () => {};

  constructor(readonly ws: WS) {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const head = data.subarray(0, 80).toString("latin1");
      const match = /^\{"id":(\d+),(?:"jsonrpc":"2.0",)?"(result|error)"/.exec(head);
      if (!match) return;
      const sub = this.subs.get(Number(match[1]));
      if (!sub) return;
      if (match[2] === "error") {
        const parsed = JSON.parse(data.toString()) as { error: { json?: { message?: string; data?: { code?: string } } } };
        const shape = parsed.error.json ?? (parsed.error as { message?: string; data?: { code?: string } });
        sub.error = `${shape.data?.code ?? "?"}: ${shape.message ?? ""}`;
      } else if (head.includes('"type":"data"')) {
        sub.first = true;
        if (this.marker && data.indexOf(this.marker) >= 0) sub.got = true;
      }
      this.onProgress();
    });
    ws.on("close", (code, reason) => {
      this.closed = `${code} ${reason.toString()}`;
      this.onProgress();
    });
  }
}

async function until(check: () => boolean, timeoutMs: number, sockets: SubSocket[]): Promise<boolean> {
  if (check()) return true;
  return new Promise((done) => {
    const timer = setTimeout(() => finish(false), timeoutMs);
    const poll = setInterval(() => check() && finish(true), 50);
    const finish = (value: boolean) => {
      clearTimeout(timer);
      clearInterval(poll);
      for (const socket of sockets) socket.onProgress = () => {};
      done(value);
    };
    for (const socket of sockets) socket.onProgress = () => check() && finish(true);
  });
}

/** A writer socket: requests answered by id. */
class Caller {
  private readonly waiting = new Map<number, (data: string) => void>();
  private next = 1_000_000;
  constructor(private readonly ws: WS) {
    ws.on("message", (data: Buffer) => {
      const match = /^\{"id":(\d+),/.exec(data.subarray(0, 40).toString("latin1"));
      const waiter = match ? this.waiting.get(Number(match[1])) : undefined;
      if (waiter) {
        this.waiting.delete(Number(match![1]));
        waiter(data.toString());
      }
    });
    ws.on("close", (code, reason) => {
      for (const waiter of this.waiting.values()) waiter(`closed ${code} ${reason.toString()}`);
      this.waiting.clear();
    });
  }

  /** Sends `calls` in one frame; resolves with the answers (or "timeout"). */
  call(calls: Array<{ method: string; path: string; input: unknown }>, timeoutMs: number): Promise<string[]> {
    const requests = calls.map((call) => ({
      id: this.next++,
      method: call.method,
      params: { path: call.path, input: { json: call.input } },
    }));
    const answers = requests.map(
      (request) =>
        new Promise<string>((done) => {
          const timer = setTimeout(() => {
            this.waiting.delete(request.id);
            done("timeout");
          }, timeoutMs);
          this.waiting.set(request.id, (data) => {
            clearTimeout(timer);
            done(data);
          });
        }),
    );
    this.ws.send(JSON.stringify(requests.length === 1 ? requests[0] : requests));
    return Promise.all(answers);
  }
}

/**
 * The runtime isolate's V8 heap through wrangler dev's inspector port (CDP
 * `Runtime.getHeapUsage`, one request in flight). The Worker and its Durable
 * Objects share one isolate locally, so this is the heap the finding exhausted.
 * A busy isolate answers late: samples are as frequent as it allows.
 */
class HeapSampler {
  used = 0;
  peak = 0;
  samples = 0;
  private nextId = 1;
  private stopped = false;

  private constructor(private readonly ws: WS) {}

  static async open(inspectorPort: number): Promise<HeapSampler | null> {
    try {
      const targets = (await (
        await fetch(`http://127.0.0.1:${inspectorPort}/json`, { signal: AbortSignal.timeout(5_000) })
      ).json()) as Array<{
        webSocketDebuggerUrl?: string;
      }>;
      const url = targets.find((target) => target.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
      if (!url) return null;
      return new HeapSampler(await open(url));
    } catch {
      return null;
    }
  }

  /** Full garbage collection (HeapProfiler.collectGarbage), so the next sample is the live heap. */
  async collect(timeoutMs = 10_000): Promise<void> {
    await this.command("HeapProfiler.collectGarbage", timeoutMs);
  }

  /** One sample (MiB of used heap, garbage included), or null when the isolate did not answer in time. */
  async sample(timeoutMs = 10_000): Promise<number | null> {
    const result = (await this.command("Runtime.getHeapUsage", timeoutMs)) as { usedSize: number } | null;
    if (!result) return null;
    this.used = result.usedSize / 2 ** 20;
    this.peak = Math.max(this.peak, this.used);
    this.samples++;
    return this.used;
  }

  private command(method: string, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.ws.off("message", onMessage);
        done(null);
      }, timeoutMs);
      const onMessage = (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { id?: number; result?: unknown };
        if (message.id !== id) return;
        clearTimeout(timer);
        this.ws.off("message", onMessage);
        done(message.result ?? null);
      };
      this.ws.on("message", onMessage);
      try {
        this.ws.send(JSON.stringify({ id, method }));
      } catch {
        clearTimeout(timer);
        done(null);
      }
    });
  }

  /** Samples continuously (one in flight, `gapMs` apart) until stop(). */
  run(gapMs = 50): void {
    this.stopped = false;
    void (async () => {
      while (!this.stopped && this.ws.readyState === 1) {
        await this.sample();
        await sleep(gapMs);
      }
    })();
  }

  stop(): void {
    this.stopped = true;
  }

  close(): void {
    this.stopped = true;
    this.ws.terminate();
  }
}

// ---------------------------------------------------------------- one scenario

const DESCRIPTIONS: Record<number, string> = {
  1: "the finding: 1 reader token, 32 sockets × 16 `tasks.live {limit: 500}`",
  2: "32 reader users × 16 `tasks.live {limit: 500}` (identical inputs)",
  3: "32 reader users × 16 `tasks.live` with 512 different inputs (limit 500…245, with and without status)",
  4: "1 reader token, 4 sockets × 16 `tasks.live {limit: 500}` (the 64 one user may hold after the fix; same load on both sides)",
  5: "64 reader users × 16 `tasks.live {limit: 500}` (1,024 identical subscriptions, within the room's 4,096)",
};

/** The input of subscription `index` (0…511) in `scenario`. */
function inputOf(scenario: number, index: number): Record<string, unknown> {
  if (scenario !== 3) return { limit: 500 };
  const limit = 500 - Math.floor(index / 2);
  return index % 2 === 0 ? { limit } : { limit, status: "pending" };
}

async function runScenario(side: Side, scenario: number, work: string, stateDir: string, secret: string): Promise<ScenarioResult> {
  const started = performance.now();
  const [port, inspector] = (await freePorts(2)) as [number, number];
  const crashLines: string[] = [];
  const logFile = join(work, `wrangler-${scenario}.log`);
  const group = wrangler(
    join(work, "worker"),
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspector),
      "--persist-to",
      stateDir,
      "--var",
      `AUTH_SECRET:${secret}`,
      "--show-interactive-dev-session=false",
    ],
    logFile,
    crashLines,
  );
  const child: Child = { name: `${side.label} scenario ${scenario}`, group };
  const result: ScenarioResult = {
    scenario,
    description: DESCRIPTIONS[scenario]!,
    users: oneUser(scenario) ? 1 : socketsOf(scenario),
    requested: socketsOf(scenario) * SUBS_PER_SOCKET,
    accepted: 0,
    refused: 0,
    refusal: null,
    socketsClosed: [],
    firstResultsMs: 0,
    rssIdleMiB: 0,
    rssSeededMiB: 0,
    rssPeakSubscribingMiB: 0,
    rssBeforeWriteMiB: 0,
    hwmBeforeWriteMiB: 0,
    rssPeakDuringWritesMiB: 0,
    hwmAfterMiB: null,
    rssAfterMiB: null,
    heapBeforeWriteMiB: null,
    heapPeakDuringWritesMiB: null,
    heapAfterMiB: null,
    heapSamples: 0,
    processSurvived: false,
    writes: [],
    survived: false,
    health: "",
    crashLines,
    error: null,
    seconds: 0,
    load: [loadavg()[0]!, 0],
  };
  const sockets: SubSocket[] = [];
  let writer: WS | null = null;
  let sampler: NodeJS.Timeout | null = null;
  let heap: HeapSampler | null = null;
  /** Counts the subscriptions' outcomes so far (also after a crash while subscribing). */
  let tally = () => {};
  const deadline = Date.now() + TIMEOUT_MS;
  const left = () => Math.max(1_000, deadline - Date.now());
  try {
    // Ready: the proxy answers /health, then the runtime's own port.
    for (;;) {
      if (Date.now() > deadline) throw new Error("wrangler dev not ready in time");
      if (group.exited) throw new Error(`wrangler exited before it was ready\n${group.logTail()}`);
      if ((await health(`http://127.0.0.1:${port}`)).startsWith("200")) break;
      await sleep(250);
    }
    const runtime = await findRuntime(child, port);
    const room = `finding-1-s${scenario}-${randomBytes(3).toString("hex")}`;
    const token = (sub: string, role: "reader" | "writer") => signRoomToken({ sub, room, role, ttlSeconds: 3_600 }, secret);
    const socketUrl = async (sub: string, role: "reader" | "writer") =>
      `${roomSocketUrl(runtime.url, room)}?token=${encodeURIComponent(await token(sub, role))}`;
    const now = () => status(runtime.pid);
    result.rssIdleMiB = now()?.rss ?? 0;
    heap = await HeapSampler.open(inspector);
    if (!heap) console.error(`  ${side.label} s${scenario}: no inspector target: V8 heap not measured`);

    // Seed 500 tasks of ~2.4 KB (title 100 chars, description 2,300).
    writer = await open(await socketUrl("writer", "writer"));
    const caller = new Caller(writer);
    for (let start = 0; start < TASKS; start += CREATES_PER_FRAME) {
      const calls = Array.from({ length: Math.min(CREATES_PER_FRAME, TASKS - start) }, (_, offset) => {
        const n = start + offset;
        return {
          method: "mutation",
          path: "tasks.create",
          input: { title: `task ${n} `.padEnd(TITLE_CHARS, "t"), description: `description of task ${n} `.padEnd(DESCRIPTION_CHARS, "d") },
        };
      });
      const answers = await caller.call(calls, left());
      const bad = answers.find((answer) => !answer.includes('"result"'));
      if (bad) throw new Error(`seeding failed: ${bad.slice(0, 300)}`);
    }
    const firstTask = await caller.call([{ method: "query", path: "tasks.list", input: { limit: 1 } }], left());
    const taskId = Number(/"id":(\d+)/.exec(firstTask[0]!.replace(/^\{"id":\d+,/, ""))?.[1]);
    if (!Number.isInteger(taskId)) throw new Error(`no task id in ${firstTask[0]!.slice(0, 200)}`);
    await sleep(1_000);
    result.rssSeededMiB = now()?.rss ?? 0;

    // Subscribers: one socket at a time, each sending its 16 subscriptions in one frame and waiting for their first results.
    const subscribeStart = performance.now();
    let lastHwm = 0;
    sampler = setInterval(() => {
      const sample = now();
      if (sample) {
        result.rssPeakSubscribingMiB = Math.max(result.rssPeakSubscribingMiB, sample.rss);
        lastHwm = sample.hwm;
      }
    }, 25);
    tally = () => {
      const all = sockets.flatMap((socket) => [...socket.subs.values()]);
      result.accepted = all.filter((sub) => sub.first && !sub.error).length;
      result.refused = all.filter((sub) => sub.error).length;
      result.refusal = all.find((sub) => sub.error)?.error ?? null;
      result.socketsClosed = sockets.filter((socket) => socket.closed).map((socket) => socket.closed!);
      result.hwmAfterMiB = now()?.hwm ?? lastHwm;
    };
    for (let s = 0; s < socketsOf(scenario); s++) {
      const user = oneUser(scenario) ? "reader" : `reader-${s}`;
      const socket = new SubSocket(await open(await socketUrl(user, "reader")));
      sockets.push(socket);
      const requests = Array.from({ length: SUBS_PER_SOCKET }, (_, k) => {
        const id = k + 1;
        socket.subs.set(id, { id, first: false, error: null, got: false });
        return { id, method: "subscription", params: { path: "tasks.live", input: { json: inputOf(scenario, s * SUBS_PER_SOCKET + k) } } };
      });
      socket.ws.send(JSON.stringify(requests));
      const answered = await until(
        () => socket.closed !== null || [...socket.subs.values()].every((sub) => sub.first || sub.error),
        left(),
        [socket],
      );
      if (!answered) throw new Error(`socket ${s}: first results missing after the scenario's timeout`);
      if (group.exited || !groupAlive(group.pgid) || !status(runtime.pid)) throw new Error(`runtime died while subscribing (socket ${s})`);
    }
    result.firstResultsMs = performance.now() - subscribeStart;
    clearInterval(sampler);
    sampler = null;
    tally();
    const accepted = sockets.flatMap((socket) => (socket.closed ? [] : [...socket.subs.values()].filter((sub) => sub.first && !sub.error)));
    console.error(
      `  ${side.label} s${scenario}: ${result.accepted} accepted, ${result.refused} refused${result.refusal ? ` (${result.refusal})` : ""}`,
    );

    await sleep(1_500);
    const before = now();
    result.rssBeforeWriteMiB = before?.rss ?? 0;
    result.hwmBeforeWriteMiB = before?.hwm ?? 0;
    if (heap) {
      await heap.collect();
      result.heapBeforeWriteMiB = await heap.sample();
      heap.peak = result.heapBeforeWriteMiB ?? 0;
      heap.samples = 0;
      heap.run();
    }
    let peak = result.rssBeforeWriteMiB;
    lastHwm = result.hwmBeforeWriteMiB;
    sampler = setInterval(() => {
      const sample = now();
      if (sample) {
        peak = Math.max(peak, sample.rss);
        lastHwm = sample.hwm;
      }
    }, 25);

    // Writes, one at a time: the answer, then every accepted subscription's push.
    for (let w = 0; w < WRITES; w++) {
      const marker = `UPDATED-${w}-${randomBytes(4).toString("hex")}`;
      for (const socket of sockets) socket.marker = Buffer.from(marker);
      for (const sub of accepted) sub.got = false;
      const t0 = performance.now();
      let lastPushMs: number | null = null;
      let firstPushMs: number | null = null;
      const allPushed = () => {
        let got = 0;
        for (const sub of accepted) if (sub.got) got++;
        if (got > 0 && firstPushMs === null) firstPushMs = performance.now() - t0;
        return got === accepted.length;
      };
      const pushes = until(allPushed, Math.min(60_000, left()), sockets).then((ok) => {
        if (ok) lastPushMs = performance.now() - t0;
        return ok;
      });
      const [answer] = await caller.call(
        [{ method: "mutation", path: "tasks.update", input: { id: taskId, title: marker } }],
        Math.min(60_000, left()),
      );
      const answerMs = answer!.startsWith('{"id"') ? performance.now() - t0 : null;
      const pushedBeforeAnswer = accepted.filter((sub) => sub.got).length;
      await pushes;
      const write: WriteResult = {
        answerMs,
        answer: answerMs === null ? answer!.slice(0, 200) : answer!.includes('"error"') ? answer!.slice(0, 200) : "ok",
        lastPushMs,
        firstPushMs,
        pushedBeforeAnswer,
        pushed: accepted.filter((sub) => sub.got).length,
      };
      result.writes.push(write);
      console.error(
        `  ${side.label} s${scenario} write ${w + 1}: answer ${answerMs?.toFixed(1) ?? write.answer} ms, ` +
          `pushed ${write.pushed}/${accepted.length}${lastPushMs === null ? "" : ` (last after ${(lastPushMs as number).toFixed(0)} ms)`}, ` +
          `peak RSS ${peak.toFixed(0)} MiB`,
      );
      if (answerMs === null || group.exited || !status(runtime.pid)) break;
    }
    await sleep(1_000);
    clearInterval(sampler);
    sampler = null;
    result.rssPeakDuringWritesMiB = peak;
    if (heap) {
      heap.stop();
      result.heapPeakDuringWritesMiB = heap.samples > 0 ? heap.peak : null;
      result.heapSamples = heap.samples;
      await heap.collect(3_000);
      result.heapAfterMiB = await heap.sample(3_000);
    }
    const after = now();
    // A crashed runtime's last VmHWM seen by the sampler stands for its peak.
    result.hwmAfterMiB = after?.hwm ?? lastHwm;
    result.rssAfterMiB = after?.rss ?? null;
    result.processSurvived = after !== null && !group.exited;
    result.health = await health(`http://127.0.0.1:${port}`);
    result.survived = result.processSurvived && result.health.startsWith("200");
  } catch (error) {
    result.error = (error as Error).message.split("\n")[0]!;
    tally();
    console.error(`  ${side.label} s${scenario}: ${result.error}`);
    result.health = (await health(`http://127.0.0.1:${port}`)).split("\n")[0]!;
  } finally {
    if (sampler) clearInterval(sampler);
    heap?.close();
    for (const socket of sockets) socket.ws.terminate();
    writer?.terminate();
    await sleep(500);
    await group.stop();
    result.seconds = (performance.now() - started) / 1000;
    result.load[1] = loadavg()[0]!;
  }
  return result;
}

// ---------------------------------------------------------------- report

const esc = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const f = (value: number | null | undefined, digits = 0) => (value === null || value === undefined ? "—" : value.toFixed(digits));

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function render(all: Record<string, SideResult>, machine: string): string {
  const lines = [
    "# Finding 1 (issue 15): live queries under many subscribers, before and after the fix, and since",
    "",
    'Generated by `test/bench/finding-1.ts` (`npx tsx test/bench/finding-1.ts --render` re-renders it from finding-1.json); only the "Reading" section is written by hand.',
    "",
    `Machine: ${machine}. Local \`wrangler dev\` (workerd), one fresh process per scenario, sockets connected to the runtime's own port (behind wrangler's proxy). ` +
      `Room: ${TASKS} tasks of ~2.4 KB (title ${TITLE_CHARS} + description ${DESCRIPTION_CHARS} characters), so one \`limit: 500\` result is ~1.2 MB. ` +
      `Subscribers: ${SOCKETS} sockets × ${SUBS_PER_SOCKET} subscriptions (scenario 4: 4 × 16; scenario 5: 64 × 16), opened one socket at a time, each waiting for its first results. ` +
      `Then up to ${WRITES} \`tasks.update\` calls in sequence by a writer (each changes task 1's title, which every subscription's result contains); ` +
      "a write is done when its answer arrived and every accepted subscription received a result with the new title. " +
      "Memory: the runtime workerd's VmRSS / VmHWM (/proc/<pid>/status), peak = highest VmRSS sampled every 25 ms during the writes; " +
      "and the runtime isolate's V8 heap (the Worker and its Durable Objects share one isolate locally) through wrangler's inspector port " +
      '(CDP `Runtime.getHeapUsage`, one request in flight; "before" after a full GC, the peak is the highest sample during the writes, garbage included: ' +
      "a busy isolate answers late, so a short spike can be missed).",
    "",
  ];
  for (const side of Object.values(all)) {
    lines.push(`- **${side.label}**: \`${side.commit}\` ${side.subject} (run ${side.ranAt})`);
  }
  lines.push(
    "",
    "| side | scenario | subscriptions accepted / refused | V8 heap before writes → peak during (MiB) | RSS before writes → peak during (MiB) | write answer, median (ms) | all subscribers got the write, median (ms) | writes completed | runtime process survived |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  const scenarioNumbers = [...new Set(Object.values(all).flatMap((side) => side.scenarios.map((s) => s.scenario)))].sort();
  for (const n of scenarioNumbers) {
    for (const side of Object.values(all)) {
      const s = side.scenarios.find((entry) => entry.scenario === n);
      if (!s) continue;
      const answers = s.writes.map((w) => w.answerMs).filter((v): v is number => v !== null);
      const pushes = s.writes.map((w) => w.lastPushMs).filter((v): v is number => v !== null);
      const done = s.writes.filter((w) => w.answerMs !== null && w.lastPushMs !== null).length;
      const lost = s.writes.find((w) => w.answerMs === null);
      const oom = s.crashLines.some((line) => /heap out of memory/i.test(line));
      const heapPeak = s.heapPeakDuringWritesMiB === null ? (s.processSurvived ? "—" : "crashed") : f(s.heapPeakDuringWritesMiB);
      lines.push(
        `| ${side.label} (\`${side.commit}\`) | ${n}: ${s.description} | ${s.accepted} / ${s.refused} | ${f(s.heapBeforeWriteMiB)} → ${heapPeak} | ` +
          `${s.writes.length === 0 && s.error ? `crashed while subscribing (peak ${f(s.rssPeakSubscribingMiB)})` : `${f(s.rssBeforeWriteMiB)} → ${f(s.rssPeakDuringWritesMiB)}`} | ${answers.length ? f(median(answers), 1) : s.writes.length ? "none (answer lost)" : "not reached"} | ` +
          `${pushes.length ? f(median(pushes)) : "—"} | ${done} of ${s.writes.length || WRITES}${lost ? ` (${esc(lost.answer).slice(0, 40)})` : ""} | ` +
          `${s.survived ? "yes" : `**no**${oom ? ": JavaScript heap out of memory" : ""}${s.error ? ` (${esc(s.error).slice(0, 80)})` : ""}`} |`,
      );
    }
  }
  // A hand-written "## Reading" section of the previous file is kept.
  const previous = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, "utf8") : "";
  const reading = /\n(## Reading\n[\s\S]*?)(?=\n## Details\n|$)/.exec(previous)?.[1];
  if (reading) lines.push("", reading.trimEnd());
  lines.push("", "## Details", "");
  for (const side of Object.values(all)) {
    for (const s of side.scenarios) {
      lines.push(`### ${side.label}, scenario ${s.scenario}: ${s.description}`, "");
      lines.push(
        `- subscriptions: ${s.requested} requested by ${s.users} user(s), ${s.accepted} accepted, ${s.refused} refused` +
          (s.refusal ? ` — first refusal: \`${s.refusal}\`` : ""),
      );
      if (s.socketsClosed.length)
        lines.push(`- sockets closed by the room: ${s.socketsClosed.length} (${[...new Set(s.socketsClosed)].join("; ")})`);
      lines.push(
        `- first results of all subscriptions: ${s.firstResultsMs ? `${f(s.firstResultsMs / 1000, 1)} s` : "never (see error)"}; ` +
          `peak RSS while subscribing ${f(s.rssPeakSubscribingMiB)} MiB`,
        `- runtime RSS: idle ${f(s.rssIdleMiB)} MiB, seeded ${f(s.rssSeededMiB)} MiB, subscribed (before writes) ${f(s.rssBeforeWriteMiB)} MiB, ` +
          `peak during writes ${f(s.rssPeakDuringWritesMiB)} MiB, after ${f(s.rssAfterMiB)} MiB; VmHWM ${f(s.hwmBeforeWriteMiB)} → ${f(s.hwmAfterMiB)} MiB`,
        `- runtime V8 heap used (inspector): before writes ${f(s.heapBeforeWriteMiB)} MiB (after a full GC), highest sample during writes ` +
          `${f(s.heapPeakDuringWritesMiB)} MiB (${s.heapSamples} samples, garbage included), after ${f(s.heapAfterMiB)} MiB (after a full GC)`,
      );
      s.writes.forEach((w, i) =>
        lines.push(
          `- write ${i + 1}: answer ${w.answerMs === null ? `none (${w.answer})` : `${f(w.answerMs, 1)} ms${w.answer === "ok" ? "" : ` (${w.answer})`}`}; ` +
            `pushed to ${w.pushed}/${s.accepted}${w.firstPushMs === null || w.firstPushMs === undefined ? "" : `, first after ${f(w.firstPushMs)} ms`}` +
            `${w.lastPushMs === null ? "" : `, last after ${f(w.lastPushMs)} ms`}` +
            `${w.pushedBeforeAnswer === undefined || w.answerMs === null ? "" : `; ${w.pushedBeforeAnswer} had it before the writer's answer arrived`}`,
        ),
      );
      if (s.load)
        lines.push(
          `- machine load (1-min average) at start → end: ${f(s.load[0], 1)} → ${f(s.load[1], 1)}; scenario took ${f(s.seconds)} s`,
        );
      lines.push(
        `- runtime process survived: ${s.processSurvived ? "yes" : "no"}; GET /health through wrangler's proxy afterwards: ${s.health}`,
      );
      if (s.error) lines.push(`- error: ${s.error}`);
      if (s.crashLines.length) lines.push("- runtime output:", "", "```", ...[...new Set(s.crashLines)].slice(0, 8), "```");
      lines.push("");
    }
  }
  return lines.join("\n");
}

function machineNote(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.versions.node}, shared machine`;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const all: Record<string, SideResult> = existsSync(RESULTS_JSON)
    ? (JSON.parse(readFileSync(RESULTS_JSON, "utf8")) as { sides: Record<string, SideResult> }).sides
    : {};
  if (!RENDER_ONLY) {
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    if (major < 22 || (major === 22 && minor < 12))
      throw new Error(`wrangler needs Node ≥ 22.12; this is ${process.versions.node} (export PATH=$PWD/node_modules/.bin:$PATH)`);
    const specifier = "ws";
    WebSocketImpl = ((await import(specifier)) as { WebSocket: WSClass }).WebSocket;
    for (const side of sides()) {
      const work = mkdtempSync(join(tmpdir(), `finding-1-${side.label}-`));
      console.error(`finding-1: ${side.label} = ${side.dir}; work dir ${work}`);
      snapshot(side.dir, work);
      const stateDir = join(work, "state");
      const secret = randomBytes(24).toString("hex");
      await waitExit(
        wrangler(
          join(work, "worker"),
          ["d1", "migrations", "apply", "nanotype-read-replica", "--local", "--persist-to", stateDir],
          join(work, "d1.log"),
          [],
        ),
        90_000,
      );
      const sideResult: SideResult = {
        label: side.label,
        commit: git(side.dir, ["rev-parse", "--short", "HEAD"]),
        subject: git(side.dir, ["log", "-1", "--format=%s"]).slice(0, 100),
        ranAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        scenarios: [],
      };
      const dirty = git(side.dir, ["status", "--porcelain", "--", "src", "schema", "drizzle", "migrations", "wrangler.toml"]);
      if (dirty) sideResult.commit += " (+ uncommitted changes)";
      for (const scenario of SCENARIOS) {
        console.error(`finding-1: ${side.label} scenario ${scenario}`);
        sideResult.scenarios.push(await runScenario(side, scenario, work, stateDir, secret));
        const previous = all[side.label];
        all[side.label] = {
          ...sideResult,
          scenarios: [
            ...(previous?.scenarios ?? []).filter((s) => !sideResult.scenarios.some((mine) => mine.scenario === s.scenario)),
            ...sideResult.scenarios,
          ].sort((a, b) => a.scenario - b.scenario),
        };
        writeFileSync(RESULTS_JSON, `${JSON.stringify({ machine: machineNote(), sides: all }, null, 2)}\n`);
      }
      // Keep the wrangler logs of a side that crashed or failed; drop the rest.
      if (sideResult.scenarios.every((s) => s.survived && !s.error)) rmSync(work, { recursive: true, force: true });
      else console.error(`finding-1: kept ${work} (wrangler logs)`);
    }
  }
  writeFileSync(RESULTS_MD, render(all, machineNote()) + "\n");
  console.error(`finding-1: wrote ${RESULTS_JSON} and ${RESULTS_MD}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));
main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
