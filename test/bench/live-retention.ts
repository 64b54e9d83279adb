/**
 * What a live query keeps between commits, measured in workerd's own heap.
 * Starts `wrangler dev` (from a copy of a checkout, in its own process group,
 * killed at the end) with an inspector port, seeds 500 tasks of ~2.4 KB, then
 * opens N sockets (one reader user each) with one `tasks.live` subscription
 * each (limit 500, 499, … — N different results of ~1.2 MB; `--same`: all
 * `limit: 500`). Clients read every frame promptly, or with `--no-read` pause
 * their sockets (the runtime's send queue backs up). Then, over CDP:
 * `HeapProfiler.collectGarbage` + `Runtime.getHeapUsage` before any
 * subscription (after seeding) and with them, optionally a heap snapshot
 * (`--snapshot FILE`, analysed by test/bench/heap-retainers.ts), then `--writes`
 * writes (each followed by every subscriber's push) and the heap again; with
 * `--no-read` the writes are not waited for (the pushes pile up unread), the
 * snapshot is taken after them, then the sockets are resumed and the heap
 * measured again.
 *
 *   npx tsx test/bench/live-retention.ts --subs 20 --snapshot /tmp/live.heapsnapshot
 *   npx tsx test/bench/heap-retainers.ts /tmp/live.heapsnapshot
 *
 * Options: --repo DIR (default: this checkout), --subs 20, --same, --no-read,
 * --snapshot FILE, --writes 1, --settle 5 (s to wait with --no-read).
 * Load goes to 127.0.0.1 only.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { signRoomToken } from "../../src/auth/tokens";
import { roomSocketUrl } from "../../src/protocol/routes";
import { openSocket, sleep, startDevSession, waitFor, type WS } from "./inspector";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TASKS = 500;
const TITLE_CHARS = 100;
const DESCRIPTION_CHARS = 2_300;
const CREATES_PER_FRAME = 25;

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
};
const REPO = resolve(option("repo") ?? ROOT);
const SUBS = Number(option("subs") ?? 20);
const SAME = argv.includes("--same");
const NO_READ = argv.includes("--no-read");
const SNAPSHOT = option("snapshot");
const WRITES = Number(option("writes") ?? 1);
const SETTLE_MS = Number(option("settle") ?? 5) * 1000;

/** One subscriber socket: counts the data frames it got; `marker` tells a push of a given write. */
class Subscriber {
  frames = 0;
  bytes = 0;
  error: string | null = null;
  marker: string | null = null;
  gotMarker = false;

  constructor(readonly ws: WS) {
    ws.on("message", (data: Buffer) => {
      const head = data.subarray(0, 80).toString("latin1");
      if (head.includes('"error"')) this.error = data.subarray(0, 300).toString();
      else if (head.includes('"type":"data"')) {
        this.frames++;
        this.bytes += data.length;
        if (this.marker && data.includes(this.marker)) this.gotMarker = true;
      }
    });
  }
}

async function main(): Promise<void> {
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).stdout.trim();
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src"], { cwd: REPO, encoding: "utf8" }).stdout.trim() ? "+dirty" : "";
  console.log(
    `live-retention: ${REPO} (${commit}${dirty}), ${SUBS} subscriptions, ${SAME ? "identical" : "different"} inputs, clients ${NO_READ ? "NOT reading (paused)" : "reading"}`,
  );
  const secret = randomBytes(24).toString("hex");
  const session = await startDevSession(REPO, secret);
  const { runtime, inspector } = session;
  const sockets: WS[] = [];
  try {
    const room = `live-retention-${randomBytes(3).toString("hex")}`;
    const url = async (sub: string, role: "reader" | "writer") =>
      `${roomSocketUrl(runtime.url, room)}?token=${encodeURIComponent(await signRoomToken({ sub, room, role, ttlSeconds: 3_600 }, secret))}`;
    const rss = () => session.rssMiB().toFixed(0);

    // Seed.
    const writer = await openSocket(await url("writer", "writer"));
    sockets.push(writer);
    const answers = new Map<number, string>();
    writer.on("message", (data: Buffer) => {
      const id = /^\{"id":(\d+)/.exec(data.subarray(0, 30).toString("latin1"))?.[1];
      if (id) answers.set(Number(id), data.toString());
    });
    let nextId = 1_000_000;
    const call = async (path: string, method: string, input: unknown): Promise<string> => {
      const id = nextId++;
      writer.send(JSON.stringify({ id, method, params: { path, input: { json: input } } }));
      await waitFor(() => answers.has(id), 60_000, `answer to ${path}`);
      return answers.get(id)!;
    };
    for (let start = 0; start < TASKS; start += CREATES_PER_FRAME) {
      await Promise.all(
        Array.from({ length: CREATES_PER_FRAME }, (_, offset) =>
          call("tasks.create", "mutation", {
            title: `task ${start + offset} `.padEnd(TITLE_CHARS, "t"),
            description: `description of task ${start + offset} `.padEnd(DESCRIPTION_CHARS, "d"),
          }),
        ),
      );
    }
    const taskId = Number(/"id":(\d+)/.exec((await call("tasks.list", "query", { limit: 1 })).replace(/^\{"id":\d+,/, ""))?.[1]);
    answers.clear();
    await sleep(500);
    const baseline = await inspector.liveHeapMiB();
    console.log(`heap after seeding, no subscriptions (after GC): ${baseline.toFixed(1)} MiB; runtime RSS ${rss()} MiB`);

    // Subscribers: one socket (and user) each, one subscription each.
    const subscribers: Subscriber[] = [];
    for (let i = 0; i < SUBS; i++) {
      const ws = await openSocket(await url(`reader-${i}`, "reader"));
      sockets.push(ws);
      const subscriber = new Subscriber(ws);
      subscribers.push(subscriber);
      if (NO_READ) ws.pause();
      ws.send(
        JSON.stringify({ id: 1, method: "subscription", params: { path: "tasks.live", input: { json: { limit: SAME ? 500 : 500 - i } } } }),
      );
    }
    if (NO_READ) await sleep(SETTLE_MS);
    else await waitFor(() => subscribers.every((s) => s.frames >= 1 || s.error), 120_000, "first results");
    const failed = subscribers.find((s) => s.error);
    if (failed) console.log(`a subscription failed: ${failed.error}`);
    if (!NO_READ)
      console.log(
        `every subscriber read its first result (${(subscribers.reduce((n, s) => n + s.bytes, 0) / 2 ** 20).toFixed(1)} MiB in all)`,
      );
    await sleep(1_000);
    const held = await inspector.liveHeapMiB();
    const perSub = (mib: number) =>
      `${mib.toFixed(1)} MiB → +${(mib - baseline).toFixed(1)} MiB, ${(((mib - baseline) / SUBS) * 1024).toFixed(0)} KiB per subscription; runtime RSS ${rss()} MiB`;
    console.log(`heap with ${SUBS} subscriptions, before any write (after GC): ${perSub(held)}`);
    if (SNAPSHOT && !NO_READ) {
      await inspector.snapshot(SNAPSHOT);
      console.log(`heap snapshot: ${SNAPSHOT}`);
    }

    // Writes: each changes task 1's title, which every subscription's result holds.
    for (let w = 0; w < WRITES; w++) {
      const marker = `UPDATED-${w}-${randomBytes(4).toString("hex")}`;
      for (const s of subscribers) {
        s.marker = marker;
        s.gotMarker = false;
      }
      await call("tasks.update", "mutation", { id: taskId, title: marker });
      if (NO_READ) {
        // Nobody reads: the pushes pile up in the runtime's send queues.
        await sleep(SETTLE_MS);
        continue;
      }
      await waitFor(() => subscribers.every((s) => s.gotMarker || s.error), 120_000, `pushes of write ${w + 1}`);
      await sleep(1_000);
      console.log(`heap after write ${w + 1}, every subscriber read its push (after GC): ${perSub(await inspector.liveHeapMiB())}`);
    }
    if (NO_READ) {
      console.log(`heap after ${WRITES} write(s), clients still not reading (after GC): ${perSub(await inspector.liveHeapMiB())}`);
      if (SNAPSHOT) {
        await inspector.snapshot(SNAPSHOT);
        console.log(`heap snapshot: ${SNAPSHOT}`);
      }
      for (const ws of sockets) ws.resume();
      const done = () => subscribers.every((s) => (WRITES > 0 ? s.gotMarker : s.frames >= 1) || s.error);
      await waitFor(done, 120_000, "the last pushes after resuming");
      await sleep(1_000);
      console.log(`heap after the clients resumed and read everything (after GC): ${perSub(await inspector.liveHeapMiB())}`);
    }
  } finally {
    for (const ws of sockets) ws.terminate();
    await sleep(300);
    await session.stop();
  }
}

process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));
main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
