/**
 * Shows that an idle room with many connected clients hibernates while their
 * keep-alive PINGs go on (answered by the runtime's auto-response), without
 * changing the product: a cache entry (memory.set) lives only in the room
 * instance's memory, so reading it back after the idle period returns null
 * exactly when the instance was evicted and rebuilt — while no socket closed.
 * Then one mutation checks that every client's subscription resumed.
 */
import { performance } from "node:perf_hooks";
import type { BenchContext, StockClient } from "../context";
import { sleep } from "../runtime";
import { counters } from "../sockets";

const MARKER = "bench:instance-marker";

export async function hibernation(context: BenchContext): Promise<void> {
  const { hibernationClients: count, hibernationIdleMs: idleMs } = context.settings;
  const room = `hib-${context.suffix}`;
  let closes = 0;
  let ready = 0;
  let changes = 0;
  const clients: StockClient[] = [];
  const subscriptions: Array<{ unsubscribe(): void }> = [];
  for (let i = 0; i < count; i++) {
    // One user per client: a user may hold at most MAX_SOCKETS_PER_USER sockets in a room.
    const client = await context.stockClient(room, "direct", { keepAliveMs: 1_000, onClose: () => void closes++, sub: `sleeper-${i}` });
    clients.push(client);
    subscriptions.push(
      client.trpc.tasks.changes.subscribe(undefined, {
        onData: ({ data }) => {
          if (data.type === "ready") ready++;
          else if (data.type === "change") changes++;
        },
      }),
    );
  }
  const until = performance.now() + 30_000;
  while (ready < count && performance.now() < until) await sleep(50);
  const writer = clients[0]!;
  await writer.trpc.memory.set.mutate({ key: MARKER, value: "set before the idle period", ttlMs: 3_600_000 });
  await sleep(1_000);
  const controlSeen = (await writer.trpc.memory.get.query({ key: MARKER })) !== null;

  const pingsBefore = counters.pingsSent;
  const pongsBefore = counters.pongsReceived;
  context.log(`hibernation: ${count} clients subscribed (${ready} ready), idle for ${idleMs / 1000} s with keep-alives every 1 s`);
  await sleep(idleMs);
  const pings = counters.pingsSent - pingsBefore;
  const pongs = counters.pongsReceived - pongsBefore;

  let start = performance.now();
  const markerAfter = await writer.trpc.memory.get.query({ key: MARKER });
  const firstCallMs = performance.now() - start;
  start = performance.now();
  await writer.trpc.memory.get.query({ key: MARKER });
  const warmCallMs = performance.now() - start;

  const changesBefore = changes;
  await writer.trpc.tasks.create.mutate({ title: "after hibernation" });
  const resumeUntil = performance.now() + 10_000;
  while (changes - changesBefore < count && performance.now() < resumeUntil) await sleep(20);
  const resumed = changes - changesBefore;

  const hibernated = controlSeen && markerAfter === null && closes === 0;
  context.log(
    `hibernation: marker ${markerAfter === null ? "gone (instance rebuilt)" : "still there"}, ${pings} PINGs / ${pongs} PONGs, ${closes} closes, ${resumed}/${count} subscriptions resumed`,
  );
  context.results.value("hibernation", `idle room with ${count} clients sending keep-alives`, "direct", "hibernated", hibernated ? 1 : 0, {
    clients: count,
    idleSeconds: idleMs / 1000,
    markerSeenBeforeIdle: controlSeen,
    markerSeenAfterIdle: markerAfter !== null,
    keepAlivePingsSent: pings,
    keepAlivePongsReceived: pongs,
    socketsClosed: closes,
    subscriptionsResumed: resumed,
    firstCallAfterIdleMs: firstCallMs,
    warmCallMs,
  });
  for (const subscription of subscriptions) subscription.unsubscribe();
  await Promise.all(clients.map((client) => client.close()));
}
