/**
 * What an idle socket costs in workerd's V8 heap (not RSS), with and without
 * one live subscription. Starts `wrangler dev` (test/bench/inspector.ts), seeds
 * a few tasks, then opens N sockets per phase, one reader user each: plain
 * (no frame sent), with one query answered (`session.whoami`), with one `tasks.changes` subscription, with one `tasks.live`
 * subscription (all the same window). After each phase: V8 heap in use after a
 * full GC (CDP) and the runtime's RSS, as growth per socket; optionally a heap
 * snapshot per phase (`--snapshots DIR`: 0-base, 1-plain, 2-query, 3-changes, 4-live),
 * to compare with test/bench/heap-diff.ts.
 *
 *   npx tsx test/bench/socket-heap.ts --sockets 200 [--deflate] [--rss-only] [--phases plain,query,changes,live] [--snapshots /tmp/sh] [--repo DIR]
 *
 * Load goes to 127.0.0.1 only.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { signRoomToken } from "../../src/auth/tokens";
import { roomSocketUrl } from "../../src/protocol/routes";
import { openSocket, sleep, startDevSession, waitFor, type WS } from "./inspector";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
};
const REPO = resolve(option("repo") ?? ROOT);
const SOCKETS = Number(option("sockets") ?? 200);
const SNAPSHOTS = option("snapshots");
/** Offer permessage-deflate, as `ws` and browsers do by default (the bench's memory scenario does). */
const DEFLATE = argv.includes("--deflate");
/** RSS only: no GC, no heap snapshot (workerd's snapshot buffers would land in the RSS of the phases after it). */
const RSS_ONLY = argv.includes("--rss-only");
/** `--phases plain,changes`: only these phases. */
const ONLY = option("phases")?.split(",") ?? null;
const TASKS = 20;

/** Phases after the base: what each of its sockets sends once open (null: nothing). */
const PHASES: { name: string; subscribe: string | null }[] = [
  { name: "plain", subscribe: null },
  { name: "query", subscribe: `{"id":1,"method":"query","params":{"path":"session.whoami"}}` },
  { name: "changes", subscribe: `{"id":1,"method":"subscription","params":{"path":"tasks.changes"}}` },
  { name: "live", subscribe: `{"id":1,"method":"subscription","params":{"path":"tasks.live","input":{"json":{"limit":10}}}}` },
];

/** The extension the server accepted, with its parameters (read from `ws`'s internals: `extensions` names it only). */
function negotiated(ws: WS): string {
  const params = (ws as unknown as { _extensions?: Record<string, { params?: Record<string, unknown> }> })._extensions?.[
    "permessage-deflate"
  ]?.params;
  return params ? `permessage-deflate ${JSON.stringify(params)}` : ws.extensions || "none";
}

async function main(): Promise<void> {
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).stdout.trim();
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src"], { cwd: REPO, encoding: "utf8" }).stdout.trim() ? "+dirty" : "";
  console.log(
    `socket-heap: ${REPO} (${commit}${dirty}), ${SOCKETS} sockets per phase, permessage-deflate ${DEFLATE ? "offered" : "not offered"}`,
  );
  if (SNAPSHOTS) mkdirSync(SNAPSHOTS, { recursive: true });
  const secret = randomBytes(24).toString("hex");
  const session = await startDevSession(REPO, secret);
  const { runtime, inspector } = session;
  const sockets: WS[] = [];
  try {
    const room = `socket-heap-${randomBytes(3).toString("hex")}`;
    const url = async (sub: string, role: "reader" | "writer") =>
      `${roomSocketUrl(runtime.url, room)}?token=${encodeURIComponent(await signRoomToken({ sub, room, role, ttlSeconds: 3_600 }, secret))}`;

    // Wake the room and give the feeds something to read.
    const writer = await openSocket(await url("writer", "writer"));
    sockets.push(writer);
    let answered = 0;
    writer.on("message", () => answered++);
    for (let i = 0; i < TASKS; i++) {
      writer.send(
        JSON.stringify({ id: i + 1, method: "mutation", params: { path: "tasks.create", input: { json: { title: `task ${i}` } } } }),
      );
    }
    await waitFor(() => answered >= TASKS, 30_000, "seeding");
    await sleep(1_000);

    // As the bench's memory scenario: RSS settled, before any forced GC; then the heap after a full GC.
    const measure = async (phase: string) => {
      await sleep(2_000);
      const rss = session.rssMiB();
      const reserved = (await inspector.heapUsage()).totalMiB;
      if (RSS_ONLY) return { heap: Number.NaN, reserved, rss, rssAfterGc: rss };
      const heap = await inspector.liveHeapMiB();
      const rssAfterGc = session.rssMiB();
      if (SNAPSHOTS) await inspector.snapshot(join(SNAPSHOTS, `${phase}.heapsnapshot`));
      return { heap, reserved, rss, rssAfterGc };
    };
    let before = await measure("0-base");
    console.log(`base: heap ${before.heap.toFixed(2)} MiB (reserved ${before.reserved.toFixed(1)}), RSS ${before.rss.toFixed(0)} MiB`);
    for (const [index, phase] of PHASES.entries()) {
      if (ONLY && !ONLY.includes(phase.name)) continue;
      let ready = 0;
      for (let i = 0; i < SOCKETS; i++) {
        const ws = await openSocket(await url(`${phase.name}-${i}`, "reader"), { deflate: DEFLATE });
        sockets.push(ws);
        if (i === 0) console.log(`${phase.name}: extensions accepted: ${negotiated(ws)}`);
        if (phase.subscribe === null) {
          ready++;
          continue;
        }
        ws.on("message", (data: Buffer) => {
          const text = data.toString();
          if (text.includes('"result"') && !text.includes('"type":"started"')) ready++;
          else if (text.includes('"error"')) throw new Error(`subscription failed: ${text.slice(0, 300)}`);
        });
        ws.send(phase.subscribe);
      }
      await waitFor(() => ready >= SOCKETS, 60_000, `${phase.name}: first events`);
      const after = await measure(`${index + 1}-${phase.name}`);
      const perSocket = (mib: number) => ((mib * 1024) / SOCKETS).toFixed(1);
      console.log(
        `${phase.name.padEnd(8)} heap after GC +${perSocket(after.heap - before.heap)} KiB/socket; ` +
          `heap reserved +${perSocket(after.reserved - before.reserved)}; ` +
          `RSS +${perSocket(after.rss - before.rss)} KiB/socket (after GC: +${perSocket(after.rssAfterGc - before.rssAfterGc)})`,
      );
      before = after;
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
