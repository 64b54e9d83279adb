/**
 * The local runtimes the benchmark suite measures: `wrangler dev` processes for
 * the product (./wrangler.toml) and the baseline worker (floor + PartyServer
 * peer, test/bench/workers/), each started from a copy of the repo taken at
 * start (so edits during a run cannot reload them) with its own --persist-to
 * directory. Finds each runtime's own listening socket (behind wrangler's
 * proxy) and its RSS through /proc. Every child runs in its own process group,
 * which is killed at the end, on errors and on signals. Used by run.ts only.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { groupAlive, signalGroup, spawnGroup, wranglerEnv, type ProcessGroup } from "../helpers/wrangler-process";

export interface Child {
  name: string;
  /** wrangler in its own process group (spawned detached); its workerd processes inherit it. */
  group: ProcessGroup;
}

export interface RuntimeOptions {
  root: string;
  tempDir: string;
  log: WriteStream;
  verbose: boolean;
}

const children: Child[] = [];

/** Copies what the workers are built from into `tempDir`: product/ and baseline/. */
export function snapshot(root: string, tempDir: string): { productDir: string; baselineDir: string } {
  const productDir = join(tempDir, "product");
  for (const entry of ["wrangler.toml", "package.json", "tsconfig.json", "src", "schema", "drizzle", "migrations"]) {
    if (existsSync(join(root, entry))) cpSync(join(root, entry), join(productDir, entry), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(productDir, "node_modules"), "dir");
  // wrangler.toml serves the demo page from public/ ([assets]); the benchmarks need only the directory to exist.
  mkdirSync(join(productDir, "public"), { recursive: true });
  const baselineDir = join(tempDir, "baseline");
  mkdirSync(baselineDir);
  cpSync(join(root, "test/bench/workers"), baselineDir, { recursive: true });
  symlinkSync(join(root, "node_modules"), join(baselineDir, "node_modules"), "dir");
  return { productDir, baselineDir };
}

/** Starts `wrangler <args>` in `cwd` in its own process group. */
export function startWrangler(options: RuntimeOptions, name: string, cwd: string, args: string[]): Child {
  const group = spawnGroup({
    args: [join(options.root, "node_modules/wrangler/bin/wrangler.js"), ...args],
    cwd,
    env: wranglerEnv(options.root, join(options.tempDir, "wrangler-logs")),
    onOutput: (text) => {
      options.log.write(text.replace(/^/gm, `[${name}] `));
      if (options.verbose) process.stderr.write(text.replace(/^/gm, `[${name}] `));
    },
  });
  const child: Child = { name, group };
  children.push(child);
  return child;
}

/** Runs a wrangler command to completion (e.g. D1 migrations). */
export async function runWrangler(options: RuntimeOptions, name: string, cwd: string, args: string[], timeoutMs: number): Promise<void> {
  const child = startWrangler(options, name, cwd, args);
  const until = Date.now() + timeoutMs;
  while (!child.group.exited) {
    if (Date.now() > until) throw new Error(`${name} did not finish within ${timeoutMs} ms\n${child.group.logTail()}`);
    await sleep(100);
  }
  if (child.group.exitCode !== 0) throw new Error(`${name} exited with ${child.group.exitCode}\n${child.group.logTail()}`);
}

/** Waits until `url` answers 2xx. */
export async function waitReady(child: Child, url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.group.exited)
      throw new Error(`${child.name} exited with ${child.group.exitCode} before it was ready\n${child.group.logTail()}`);
    if (await healthy(url)) return;
    await sleep(200);
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms\n${child.group.logTail()}`);
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    const body = await response.text();
    return response.ok && body.includes('"ok":true');
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- /proc

interface ProcessInfo {
  pid: number;
  pgid: number;
  cmdline: string[];
}

function processesInGroup(pgid: number): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised command name: state ppid pgrp …
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      found.push({ pid: Number(entry), pgid, cmdline });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** TCP ports a process listens on (IPv4), from /proc/net/tcp and its socket fds. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) inodes.add(match[1]!);
    } catch {
      // Closed meanwhile.
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1)) {
    const columns = line.trim().split(/\s+/);
    // local_address rem_address st … inode (column 9); st 0A = LISTEN
    if (columns[3] !== "0A" || !inodes.has(columns[9] ?? "")) continue;
    ports.push(parseInt(columns[1]!.split(":")[1]!, 16));
  }
  return ports;
}

/** The user worker's workerd process of a `wrangler dev` child, and its own HTTP port (behind wrangler's proxy). */
export interface RuntimeEntry {
  pid: number;
  port: number;
  url: string;
}

/**
 * wrangler dev runs two workerd processes: a proxy listening on the port we
 * asked for, and the runtime of the user worker on a port of its own. The
 * runtime is the workerd whose entry socket is not ours; its HTTP port is the
 * one of its listening ports that answers GET /health.
 */
export async function findRuntime(child: Child, proxyPort: number): Promise<RuntimeEntry> {
  const workerds = processesInGroup(child.group.pgid).filter((info) => info.cmdline[0]?.endsWith("/workerd"));
  const runtime = workerds.find((info) => !info.cmdline.some((arg) => arg === `--socket-addr=entry=127.0.0.1:${proxyPort}`));
  if (!runtime) throw new Error(`${child.name}: no runtime workerd among ${workerds.map((info) => info.pid).join(", ") || "none"}`);
  for (const port of listeningPorts(runtime.pid)) {
    const url = `http://127.0.0.1:${port}`;
    if (await healthy(`${url}/health`)) return { pid: runtime.pid, port, url };
  }
  throw new Error(`${child.name}: runtime workerd ${runtime.pid} answers /health on none of its ports`);
}

/** Resident set size of a process in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}

// ---------------------------------------------------------------- teardown

/** SIGTERM every child's process group, then SIGKILL whatever is left. Only our own groups. */
export async function killChildren(): Promise<void> {
  const alive = children.filter((child) => groupAlive(child.group.pgid));
  await Promise.all(alive.map((child) => child.group.stop()));
  const pgids = alive.map((child) => child.group.pgid);
  const hardUntil = Date.now() + 3_000;
  while (Date.now() < hardUntil && pgids.some(groupAlive)) await sleep(100);
  const left = pgids.filter(groupAlive);
  if (left.length) console.error(`warning: process groups still alive after SIGKILL: ${left.join(", ")}`);
}

/** Last resort on process exit (synchronous). */
export function killChildrenNow(): void {
  for (const child of children) signalGroup(child.group.pgid, "SIGKILL");
}

/** The last log lines of every child, for error reports. */
export function childTails(lines = 25): string {
  return children
    .filter((child) => child.group.logTail())
    .map((child) => `--- last lines of ${child.name} ---\n${child.group.logTail().split("\n").slice(-lines).join("\n")}`)
    .join("\n");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
