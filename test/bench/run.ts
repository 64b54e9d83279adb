/**
 * nanotypeDB's benchmark suite: nanotypeDB against its floor (a minimal room
 * doing the same work with raw frames) and a peer (PartyServer), all measured
 * in one run on local workerd, on 127.0.0.1 only.
 *
 *   npm run bench                 full run (≈ 10 min, hard limit 14 min): writes
 *                                 test/bench/results/latest.json, docs/benchmarks.md
 *                                 and docs/benchmarks.svg
 *   npm run bench -- --quick      two-minute subset: test/bench/results/quick.json only
 *
 * Options: --only=a,b        run only these scenarios (round-trips, proxy, throughput,
 *                            fan-out, live-window, debounced, replication, acks, replica-reads, memory,
 *                            hibernation); results go to quick.json
 *          --render           only re-render docs/benchmarks.md and the chart from latest.json
 *          --global-websocket use Node's built-in WebSocket instead of `ws`
 *          --verbose          stream the wrangler logs to stderr
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { measureBundles } from "./bundle-size";
import { BenchContext, type Endpoint, type Settings } from "./context";
import { chart, markdown, type RunInfo } from "./report";
import { freePorts } from "../helpers/wrangler-process";
import { Results, type Measurement } from "./results";
import {
  childTails,
  findRuntime,
  killChildren,
  killChildrenNow,
  runWrangler,
  snapshot,
  startWrangler,
  waitReady,
  type RuntimeOptions,
} from "./runtime";
import { acks } from "./scenarios/acks";
import { cost } from "./scenarios/cost";
import { debounced } from "./scenarios/debounced";
import { fanOut } from "./scenarios/fan-out";
import { hibernation } from "./scenarios/hibernation";
import { liveWindow } from "./scenarios/live-window";
import { memory } from "./scenarios/memory";
import { replicaReads } from "./scenarios/replica-reads";
import { replication } from "./scenarios/replication";
import { roundTrips } from "./scenarios/round-trips";
import { throughput } from "./scenarios/throughput";
import { counters, countingWebSocket, loadWebSocket } from "./sockets";
import { judge } from "./targets";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const ONLY =
  argv
    .find((arg) => arg.startsWith("--only="))
    ?.slice("--only=".length)
    .split(",") ?? null;
const PARTIAL = QUICK || ONLY !== null;
/** Re-renders docs/benchmarks.md and the chart from test/bench/results/latest.json, without running anything. */
const RENDER = argv.includes("--render");
const RESULTS_FILE = join(ROOT, PARTIAL ? "test/bench/results/quick.json" : "test/bench/results/latest.json");
const DOC_FILE = join(ROOT, "docs/benchmarks.md");
const CHART_FILE = join(ROOT, "docs/benchmarks.svg");

const FULL: Settings = {
  quick: false,
  warmup: 200,
  iterations: 1_500,
  repeats: 3,
  throughputMs: 2_000,
  throughputRepeats: 5,
  throughputClients: 8,
  throughputPerClient: 8,
  batchSize: 20,
  fanOut: [
    { n: 100, warmup: 10, rounds: 100 },
    { n: 1_000, warmup: 3, rounds: 20 },
  ],
  debouncedSeconds: 10,
  replicationSeconds: 20,
  replicationRate: 200,
  memorySockets: 500,
  hibernationClients: 100,
  hibernationIdleMs: 20_000,
  budgetMs: 14 * 60_000,
};

const QUICK_SETTINGS: Settings = {
  ...FULL,
  quick: true,
  warmup: 50,
  iterations: 300,
  repeats: 1,
  throughputMs: 1_000,
  throughputRepeats: 1,
  fanOut: [{ n: 100, warmup: 3, rounds: 20 }],
  debouncedSeconds: 3,
  replicationSeconds: 4,
  memorySockets: 200,
  hibernationClients: 20,
  // The cost scenario adds ≈ 25 s (each task mutation waits for its own D1 push).
  budgetMs: 150_000,
};

const SETTINGS = QUICK ? QUICK_SETTINGS : FULL;

/** Scenarios in run order; `quick` ones make up the two-minute subset. */
const SCENARIOS: Array<{ name: string; quick: boolean; run(context: BenchContext): Promise<void> }> = [
  // First, while both runtimes are fresh: RSS growth is only readable before other scenarios allocate and free.
  { name: "memory", quick: false, run: memory },
  { name: "round-trips", quick: true, run: (context) => roundTrips(context, "direct") },
  { name: "proxy", quick: true, run: (context) => roundTrips(context, "proxy") },
  { name: "throughput", quick: true, run: throughput },
  { name: "fan-out", quick: true, run: fanOut },
  { name: "live-window", quick: true, run: liveWindow },
  { name: "debounced", quick: true, run: debounced },
  { name: "replication", quick: true, run: replication },
  { name: "acks", quick: true, run: acks },
  { name: "replica-reads", quick: true, run: replicaReads },
  { name: "cost", quick: true, run: cost },
  { name: "hibernation", quick: false, run: hibernation },
];

/** A scenario with no progress for this long fails the run. */
const STALL_MS = 60_000;
const STARTUP_TIMEOUT_MS = 90_000;

/** ROOM_LIMITS of the measured runtime: rate and storage out of the way (sockets and subscriptions keep their defaults). */
const BENCH_ROOM_LIMITS = {
  requestsPerSecond: 1_000_000,
  requestBurst: 1_000_000,
  table: { rows: 100_000_000, bytes: 2 ** 40 },
};

let tempDir = "";

function git(args: string[]): string {
  return spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
}

function versionOf(path: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, path), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

async function formatMarkdown(text: string): Promise<string> {
  const prettier = await import("prettier");
  const config = (await prettier.resolveConfig(DOC_FILE)) ?? {};
  return prettier.format(text, { ...config, parser: "markdown" });
}

async function main(): Promise<void> {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    throw new Error(
      `wrangler needs Node ≥ 22.12; this is ${process.versions.node}. Run via npm run bench (node_modules/.bin/node is Node 22).`,
    );
  }
  const started = performance.now();
  const loadStart = loadavg();
  tempDir = mkdtempSync(join(tmpdir(), "nanotype-bench-"));
  const options: RuntimeOptions = {
    root: ROOT,
    tempDir,
    log: createWriteStream(join(tempDir, "wrangler.log")),
    verbose: argv.includes("--verbose"),
  };
  const secret = randomBytes(24).toString("hex");
  const [productPort, baselinePort, productInspector, baselineInspector] = (await freePorts(4)) as [number, number, number, number];
  const { productDir, baselineDir } = snapshot(ROOT, tempDir);
  const common = ["--ip", "127.0.0.1", "--show-interactive-dev-session=false"];
  console.error(`bench: ${PARTIAL ? "partial" : "full"} run; temp dir ${tempDir}`);

  const baselineChild = startWrangler(options, "baseline", baselineDir, [
    "dev",
    "-c",
    "wrangler.baseline.toml",
    "--port",
    String(baselinePort),
    "--inspector-port",
    String(baselineInspector),
    "--persist-to",
    join(tempDir, "baseline-state"),
    ...common,
  ]);
  const productState = join(tempDir, "product-state");
  await runWrangler(
    options,
    "d1-migrate",
    productDir,
    ["d1", "migrations", "apply", "nanotype-read-replica", "--local", "--persist-to", productState],
    90_000,
  );
  const productChild = startWrangler(options, "product", productDir, [
    "dev",
    "--port",
    String(productPort),
    "--inspector-port",
    String(productInspector),
    "--persist-to",
    productState,
    "--var",
    `AUTH_SECRET:${secret}`,
    // The benchmarks measure the engine, not its limiter: one socket pipelines thousands
    // of calls a second and a run writes far more rows than a room's default quota.
    "--var",
    `ROOM_LIMITS:${JSON.stringify(BENCH_ROOM_LIMITS)}`,
    ...common,
  ]);
  const productProxy = `http://127.0.0.1:${productPort}`;
  const baselineProxy = `http://127.0.0.1:${baselinePort}`;
  await Promise.all([
    waitReady(productChild, `${productProxy}/health`, STARTUP_TIMEOUT_MS),
    waitReady(baselineChild, `${baselineProxy}/health`, STARTUP_TIMEOUT_MS),
  ]);
  const productRuntime = await findRuntime(productChild, productPort);
  const baselineRuntime = await findRuntime(baselineChild, baselinePort);
  const product: Endpoint = { proxy: productProxy, direct: productRuntime.url, pid: productRuntime.pid, inspector: productInspector };
  const baseline: Endpoint = { proxy: baselineProxy, direct: baselineRuntime.url, pid: baselineRuntime.pid, inspector: baselineInspector };
  console.error(
    `bench: ready after ${((performance.now() - started) / 1000).toFixed(1)} s (product runtime :${productRuntime.port}, baseline runtime :${baselineRuntime.port})`,
  );

  const { impl, name: websocketClient } = await loadWebSocket(ROOT, argv.includes("--global-websocket"));
  const commit = git(["rev-parse", "HEAD"]) || "?";
  const dirtyFiles = git(["status", "--porcelain"]).split("\n").filter(Boolean).length;
  const workerd = versionOf("node_modules/wrangler/node_modules/workerd/package.json");
  const date = new Date().toISOString();
  const machine = `${cpus().length} cores, Node ${process.versions.node}, workerd ${workerd}, ${date.slice(0, 10)}, commit ${commit.slice(0, 12)}`;
  const results = new Results(machine);
  const context = new BenchContext(SETTINGS, results, product, baseline, countingWebSocket(impl), secret, randomBytes(4).toString("hex"));

  const watchdog = setInterval(() => {
    if (performance.now() - counters.lastProgress > STALL_MS) fail(new Error(`no progress for ${STALL_MS / 1000} s`));
  }, 1_000);
  watchdog.unref();
  const ran: string[] = [];
  for (const scenario of SCENARIOS) {
    if (ONLY ? !ONLY.includes(scenario.name) : QUICK && !scenario.quick) continue;
    const scenarioStart = performance.now();
    counters.lastProgress = performance.now();
    console.error(`bench: ${scenario.name}`);
    await scenario.run(context);
    await context.closeClients();
    ran.push(scenario.name);
    console.error(`bench: ${scenario.name} done in ${((performance.now() - scenarioStart) / 1000).toFixed(1)} s`);
  }
  clearInterval(watchdog);

  judge(
    results,
    SETTINGS.fanOut.map((size) => size.n),
  );
  const info: RunInfo = {
    mode: PARTIAL ? "quick" : "full",
    date,
    commit,
    dirtyFiles,
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? "?",
    node: process.versions.node,
    workerd,
    wrangler: versionOf("node_modules/wrangler/package.json"),
    websocketClient,
    loadAverage: { start: loadStart, end: loadavg() },
    totalSeconds: (performance.now() - started) / 1000,
    settings: { ...SETTINGS },
    chartFile: relative(ROOT, CHART_FILE),
    resultsFile: relative(ROOT, RESULTS_FILE),
    bundles: await measureBundles(),
  };
  const json = {
    version: 2,
    machine: { cores: info.cores, cpuModel: info.cpuModel, node: info.node, workerd, wrangler: info.wrangler, websocketClient },
    date,
    commit,
    dirtyFiles,
    mode: info.mode,
    scenarios: ran,
    settings: SETTINGS,
    loadAverage: info.loadAverage,
    totalSeconds: info.totalSeconds,
    targets: results.lines,
    measurements: [...results.measurements.values()].map((measurement) => ({ ...measurement, run: machine })),
  };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(json, null, 2)}\n`);
  const doc = await formatMarkdown(markdown(results, info));
  if (!PARTIAL) {
    writeFileSync(DOC_FILE, doc);
    writeFileSync(CHART_FILE, chart(results, info));
  }
  console.log(doc);
  console.error(
    `bench: wrote ${relative(ROOT, RESULTS_FILE)}${PARTIAL ? "" : `, ${relative(ROOT, DOC_FILE)}, ${relative(ROOT, CHART_FILE)}`} in ${info.totalSeconds.toFixed(0)} s`,
  );
}

/** Rebuilds the report of the last full run from its JSON (after a change to the report's wording). */
async function render(): Promise<void> {
  const saved = JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as {
    machine: { cores: number; cpuModel: string; node: string; workerd: string; wrangler: string; websocketClient: string };
    date: string;
    commit: string;
    dirtyFiles: number;
    mode: "full" | "quick";
    settings: Settings;
    loadAverage: { start: number[]; end: number[] };
    totalSeconds: number;
    measurements: Array<Measurement & { run: string }>;
  };
  const { machine } = saved;
  const results = new Results(saved.measurements[0]?.run ?? "?");
  for (const { run: _run, ...measurement } of saved.measurements)
    results.measurements.set(`${measurement.key}@${measurement.path}`, measurement);
  judge(
    results,
    saved.settings.fanOut.map((size) => size.n),
  );
  const info: RunInfo = {
    ...machine,
    mode: saved.mode,
    date: saved.date,
    commit: saved.commit,
    dirtyFiles: saved.dirtyFiles,
    loadAverage: saved.loadAverage,
    totalSeconds: saved.totalSeconds,
    settings: { ...saved.settings },
    chartFile: relative(ROOT, CHART_FILE),
    resultsFile: relative(ROOT, RESULTS_FILE),
    bundles: await measureBundles(),
  };
  writeFileSync(DOC_FILE, await formatMarkdown(markdown(results, info)));
  writeFileSync(CHART_FILE, chart(results, info));
  console.error(`bench: re-rendered ${relative(ROOT, DOC_FILE)} and ${relative(ROOT, CHART_FILE)} from ${relative(ROOT, RESULTS_FILE)}`);
}

// ---------------------------------------------------------------- lifecycle

let finishing: Promise<void> | null = null;

/** Kills the children and removes the temp dir once, however many times it is called. */
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
  const tails = childTails();
  if (tails) console.error(tails);
  void finish(1);
}

process.on("exit", killChildrenNow);
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

(RENDER ? render() : main()).then(
  () => finish(0),
  (error: unknown) => fail(error),
);
