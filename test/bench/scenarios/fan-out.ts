/**
 * Fan-out to N sockets of one room, straight to the runtime, timed from the
 * send to the last of N receives: the floor's raw broadcast, PartyServer's
 * broadcast, a tasks.create → N `tasks.changes` subscribers, and a
 * presence.setCursor → N `presence.watch` watchers. The floor and the peer
 * broadcast payloads as long as the product's frames: the change frame (for
 * the change feed) and the cursor frame (for presence).
 */
import type { BenchContext } from "../context";
import { Fleet, FrameSocket, nextFrame, TrpcSocket } from "../sockets";
import { percentiles, type Percentiles } from "../stats";
import { handFrame } from "./round-trips";

/** One timed fan-out: a fleet of N receivers and the send that should reach each of them once. */
export interface FanOutVariant {
  key: string;
  label: string;
  fleet: Fleet;
  send(): void;
}

/** Rounds timed in blocks that take turns, so a burst of other load hits every variant alike. */
const BLOCK = 5;

/** Per repeat: warm-up rounds of every variant, then blocks of timed rounds taking turns. */
export async function runFanOut(
  context: BenchContext,
  variants: FanOutVariant[],
  warmup: number,
  rounds: number,
  tag: string,
): Promise<Map<string, Percentiles[]>> {
  const runs = new Map<string, Percentiles[]>();
  for (let repeat = 0; repeat < context.settings.repeats; repeat++) {
    const samples = new Map<string, number[]>(variants.map((variant) => [variant.key, []]));
    for (const variant of variants) for (let i = 0; i < warmup; i++) await variant.fleet.round(variant.send);
    for (let block = 0; block * BLOCK < rounds; block++) {
      const shift = (block + repeat) % variants.length;
      for (const variant of [...variants.slice(shift), ...variants.slice(0, shift)]) {
        for (let i = 0; i < Math.min(BLOCK, rounds - block * BLOCK); i++)
          samples.get(variant.key)!.push(await variant.fleet.round(variant.send));
      }
    }
    for (const variant of variants) {
      const result = percentiles(samples.get(variant.key)!);
      runs.set(variant.key, [...(runs.get(variant.key) ?? []), result]);
      context.log(
        `fan-out ${tag} repeat ${repeat + 1} ${variant.key.padEnd(24)} p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms`,
      );
    }
  }
  return runs;
}

/** Opens N product sockets, each with one subscription to `path` (input `json`, if given), waiting for its first data frame. */
export async function subscribedFleet(context: BenchContext, room: string, n: number, path: string, json?: string): Promise<Fleet> {
  // One user per socket: a user may hold at most MAX_SUBSCRIPTIONS_PER_USER subscriptions in a room.
  const urls = await Promise.all(Array.from({ length: n }, (_, i) => context.productSocketUrl(room, "direct", "reader", `watcher-${i}`)));
  return Fleet.open(context.WebSocket, (index) => urls[index]!, n, {
    afterOpen: async (ws) => {
      const first = nextFrame(ws, (data) => data.includes('"type":"data"'));
      ws.send(handFrame("subscription", path, json).frame);
      await first;
    },
  });
}

export async function fanOut(context: BenchContext): Promise<void> {
  const { WebSocket: WS, suffix, results, settings } = context;
  for (const { n, warmup, rounds } of settings.fanOut) {
    const started = performance.now();
    const room = (kind: string) => `fo-${kind}-${n}-${suffix}`;
    const changes = await subscribedFleet(context, room("changes"), n, "tasks.changes");
    const changesWriter = await TrpcSocket.open(WS, await context.productSocketUrl(room("changes"), "direct", "writer", "writer"));
    const presence = await subscribedFleet(context, room("presence"), n, "presence.watch");
    const presenceWriter = await TrpcSocket.open(WS, await context.productSocketUrl(room("presence"), "direct", "writer", "writer"));

    let counter = 0;
    const mutate = () => {
      const { id, frame } = handFrame("mutation", "tasks.create", `{"title":"fan-out ${counter++}"}`);
      void changesWriter.call(frame, [id]).catch(() => undefined);
    };
    const setCursor = () => {
      const { id, frame } = handFrame("mutation", "presence.setCursor", `{"position":{"line":${counter++},"column":1}}`);
      void presenceWriter.call(frame, [id]).catch(() => undefined);
    };
    // The size of one change frame and one cursor frame, for the floor's and the peer's payloads.
    const changeSample = nextFrame(changes.sockets[0]!, (data) => data.includes('"change"'));
    await changes.round(mutate);
    const cursorSample = nextFrame(presence.sockets[0]!, (data) => data.includes('"change"'));
    await presence.round(setCursor);
    const payload = "x".repeat((await changeSample).length);
    const cursorPayload = "x".repeat((await cursorSample).length);

    const floor = await Fleet.open(WS, () => context.floorSocketUrl(room("floor"), "direct"), n);
    const floorSender = await FrameSocket.open(WS, context.floorSocketUrl(room("floor"), "direct"));
    const peer = await Fleet.open(WS, () => context.peerSocketUrl(room("peer"), "direct"), n);
    const peerSender = await FrameSocket.open(WS, context.peerSocketUrl(room("peer"), "direct"));
    context.log(`fan-out N=${n}: ${4 * n} sockets open in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const variants: FanOutVariant[] = [
      {
        key: `broadcastFloor:${n}`,
        label: `floor: raw broadcast to ${n} (${payload.length} B, change-frame size)`,
        fleet: floor,
        send: () => floorSender.send(`broadcast:${payload}`),
      },
      {
        key: `broadcastPeer:${n}`,
        label: `peer: PartyServer broadcast to ${n} (${payload.length} B)`,
        fleet: peer,
        send: () => peerSender.send(`broadcast:${payload}`),
      },
      { key: `changes:${n}`, label: `tasks.create → ${n} tasks.changes subscribers`, fleet: changes, send: mutate },
      {
        key: `broadcastFloorCursor:${n}`,
        label: `floor: raw broadcast to ${n} (${cursorPayload.length} B, cursor-frame size)`,
        fleet: floor,
        send: () => floorSender.send(`broadcast:${cursorPayload}`),
      },
      {
        key: `broadcastPeerCursor:${n}`,
        label: `peer: PartyServer broadcast to ${n} (${cursorPayload.length} B)`,
        fleet: peer,
        send: () => peerSender.send(`broadcast:${cursorPayload}`),
      },
      { key: `presence:${n}`, label: `presence.setCursor → ${n} presence.watch watchers`, fleet: presence, send: setCursor },
    ];
    const runs = await runFanOut(context, variants, warmup, rounds, `N=${n}`);
    for (const variant of variants) results.latency(variant.key, variant.label, "direct", runs.get(variant.key)!);

    for (const socket of [floorSender, peerSender, changesWriter, presenceWriter]) socket.close();
    await Promise.all([floor, peer, changes, presence].map((fleet) => fleet.close()));
  }
}
