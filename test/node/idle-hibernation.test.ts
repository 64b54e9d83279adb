/**
 * A room whose clients stay connected but idle goes to sleep: after its last
 * debounced flush nothing is due but the alarm, so the runtime evicts it
 * within its idle window while the sockets stay open (their keep-alive PINGs
 * are answered without waking it). Real `wrangler dev`; the proof is the
 * room's own meter: its wake-up count grows, and a cache entry that lives only
 * in the instance's memory is gone, while no socket closed.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AppRouter } from "../../src/app";
import { signRoomToken } from "../../src/auth/tokens";
import { closeRoomClient, createRoomClient } from "../../src/client";
import { startCrashableDev, type CrashableDev } from "../helpers/crashable-dev";
import { applyLocalD1Migrations } from "../helpers/wrangler-dev";
import { freePorts } from "../helpers/wrangler-process";

const SECRET = "idle-hibernation-test-secret-0123456789abcdef";
const ROOM = "sleepy";
const stateDir = mkdtempSync(join(tmpdir(), "nanotype-idle-"));
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("an idle room with connected clients", () => {
  it("hibernates within its idle window after its last debounced flush, its sockets still open", { timeout: 120_000 }, async () => {
    const assets = join(stateDir, "assets");
    mkdirSync(assets);
    await applyLocalD1Migrations({ database: "nanotype-read-replica", persistTo: stateDir });
    const [port, inspectorPort] = (await freePorts(2)) as [number, number];
    const dev: CrashableDev = await startCrashableDev({
      port,
      inspectorPort,
      persistTo: stateDir,
      assets,
      vars: { AUTH_SECRET: SECRET, DEV_TOKENS: "false" },
      timeoutMs: 60_000,
    });
    cleanups.push(() => dev.kill());
    const client = (sub: string, role: "writer" | "admin") => {
      let closed = 0;
      const made = createRoomClient<AppRouter>({
        url: dev.url,
        room: ROOM,
        token: () => signRoomToken({ sub, room: ROOM, role, ttlSeconds: 600 }, SECRET),
        keepAliveMs: 1_000,
        onClose: () => void (closed += 1),
      });
      cleanups.push(() => closeRoomClient(made));
      return { made, closes: () => closed };
    };
    const writer = client("writer", "writer");
    const admin = client("operator", "admin");
    const watcher = client("watcher", "writer");
    const changes: unknown[] = [];
    watcher.made.tasks.changes.subscribe(undefined, { onData: (event) => changes.push(event) });

    await writer.made.memory.set.mutate({ key: "marker", value: "in this instance only", ttlMs: 3_600_000 });
    await writer.made.tasks.create.mutate({ title: "before the idle period" });
    // The last work: a debounced value, written by its flush about a second later.
    await writer.made.debounced.update.mutate({ key: "slider", value: 42 });
    const before = await admin.made.admin.inspect.query();
    expect(before.debounced.pendingKeys).toBe(1);

    // Idle: only keep-alive PINGs (answered by the runtime) for 40 s — the debounced flush, the meter's
    // write by the alarm and the idle window (≈ 10 s locally) all fit in it. Any call would wake the room.
    await sleep(40_000);
    // Reading the marker wakes the room if it slept; null means the instance that held it was evicted.
    const marker = (await writer.made.memory.get.query({ key: "marker" }))?.value ?? null;
    expect(marker, `the room stayed awake:\n${dev.logTail()}`).toBeNull();
    const after = await admin.made.admin.inspect.query();
    expect(after.meter.total.wakeUps).toBeGreaterThan(before.meter.total.wakeUps);
    // The debounced value was written before the room slept, and no socket closed.
    expect(after.debounced.pendingKeys).toBe(0);
    expect(await writer.made.debounced.get.query({ key: "slider" })).toMatchObject({ value: 42 });
    expect([writer.closes(), admin.closes(), watcher.closes()]).toEqual([0, 0, 0]);
    // The watcher's subscription resumed: the next change still reaches it.
    const seen = changes.length;
    await writer.made.tasks.create.mutate({ title: "after waking" });
    for (const stop = Date.now() + 5_000; changes.length === seen && Date.now() < stop;) await sleep(50);
    expect(changes.length).toBeGreaterThan(seen);
  });
});
