/**
 * What the tests and benchmarks that run `wrangler dev` (or scripts/dev.mjs)
 * as a child process need: its environment, free local ports, and one way to
 * run a process in its own process group — spawn it with a log tail, wait for
 * its /health, stop the whole group (SIGTERM, wait, SIGKILL; SIGKILL when this
 * process exits). test/helpers/wrangler-dev.ts builds `wrangler dev` on it.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

/**
 * The environment of a `wrangler` child process: Node 22 from node_modules/.bin,
 * no prompts, no metrics, no colours, and wrangler's local observability off —
 * it traces every frame into a local database (a raw echo measured 3.9× slower).
 */
export function wranglerEnv(root: string, logDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(root, "node_modules/.bin")}:${process.env["PATH"] ?? ""}`,
    CI: "true",
    NO_COLOR: "1",
    WRANGLER_SEND_METRICS: "false",
    X_LOCAL_OBSERVABILITY: "false",
    WRANGLER_LOG_PATH: logDir,
  };
}

/** `count` distinct free ports on 127.0.0.1 (all held open at once, so none repeats). */
export async function freePorts(count: number): Promise<number[]> {
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

/** How long a SIGTERM may take before a process group is killed. */
const STOP_GRACE_MS = 5_000;
/** Lines of a group's output kept for failure messages. */
const LOG_TAIL_LINES = 80;

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Sends `signal` to every process of the group; a group that is gone already is no error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** Stops a process group: SIGTERM, then SIGKILL after `graceMs`. Resolves true when it exited on SIGTERM. */
export async function stopGroup(pgid: number, graceMs = STOP_GRACE_MS): Promise<boolean> {
  signalGroup(pgid, "SIGTERM");
  for (const until = Date.now() + graceMs; groupAlive(pgid) && Date.now() < until;) await sleep(50);
  if (!groupAlive(pgid)) return true;
  signalGroup(pgid, "SIGKILL");
  return false;
}

/** A process spawned as the leader of its own process group (its children, e.g. workerd, inherit the group). */
export interface ProcessGroup {
  /** Process group id (= the leader's pid). */
  readonly pgid: number;
  /** Whether the leader has exited (the group may live on), and its exit code. */
  readonly exited: boolean;
  readonly exitCode: number | null;
  /** The last non-empty lines the group printed (stdout and stderr), for failure messages. */
  logTail(): string;
  /** {@link stopGroup}; resolves true when the group exited on SIGTERM. */
  stop(): Promise<boolean>;
}

/**
 * Spawns `command args` (Node by default) detached, in its own process group,
 * keeping a tail of its output; the whole group is SIGKILLed when this process
 * exits without having stopped it. `onOutput` sees every chunk it prints.
 */
export function spawnGroup(options: {
  command?: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  onOutput?: (text: string) => void;
}): ProcessGroup {
  const command = options.command ?? process.execPath;
  const child = spawn(command, options.args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`could not start ${command} ${options.args.join(" ")}`);
  const pgid = child.pid;
  const tail: string[] = [];
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    options.onOutput?.(text);
    tail.push(...text.split("\n").filter((line) => line.trim() !== ""));
    tail.splice(0, Math.max(0, tail.length - LOG_TAIL_LINES));
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const killOnExit = () => signalGroup(pgid, "SIGKILL");
  process.once("exit", killOnExit);
  const group = {
    pgid,
    exited: false,
    exitCode: null as number | null,
    logTail: () => tail.join("\n"),
    async stop() {
      process.off("exit", killOnExit);
      return stopGroup(pgid);
    },
  };
  child.on("exit", (code) => {
    group.exited = true;
    group.exitCode = code;
  });
  return group;
}

/** A server running in its own process group. */
export interface GroupServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The last lines the group printed (for failure messages). */
  logTail(): string;
  /** SIGTERM to the whole group, SIGKILL after a grace period; resolves true when it exited on SIGTERM. */
  stop(): Promise<boolean>;
}

/**
 * {@link spawnGroup}, then polls `http://127.0.0.1:<port><healthPath>` until it
 * answers 2xx. When the leader exits first or `timeoutMs` passes, stops the
 * group and rejects with `<name> did not become ready (it exited|timeout):`
 * and the log tail.
 *
 * @example
 * const server = await startProcessGroup({ name: "my server", args: ["server.mjs"], cwd, env, port, timeoutMs: 30_000 });
 * await fetch(`${server.url}/health`);
 * await server.stop();
 */
export async function startProcessGroup(options: {
  /** Names the process in the startup error. */
  name: string;
  command?: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  port: number;
  healthPath?: string;
  timeoutMs: number;
}): Promise<GroupServer> {
  const group = spawnGroup(options);
  const url = `http://127.0.0.1:${options.port}`;
  for (const until = Date.now() + options.timeoutMs; !group.exited && Date.now() < until;) {
    try {
      const response = await fetch(`${url}${options.healthPath ?? "/health"}`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return { url, logTail: group.logTail, stop: group.stop };
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  const why = group.exited ? "it exited" : "timeout";
  await group.stop();
  throw new Error(`${options.name} did not become ready (${why}):\n${group.logTail()}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
