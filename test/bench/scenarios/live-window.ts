/**
 * Live windows (`tasks.live`, docs/live-data.md) in the benchmark suite: a
 * `tasks.update` inside the window → N subscribers, each receiving one diff
 * frame, timed to the last of N receives against the floor's raw broadcast of a
 * payload as long as the diff frame (and PartyServer's); and the bytes one
 * update sends a subscriber against the changed row's JSON, for a board task
 * and for a ≈ 2.4 KB row. Used by run.ts; judged in targets.ts.
 */
import type { BenchContext } from "../context";
import { Fleet, FrameSocket, nextFrame, openSocket, TrpcSocket, closeQuietly } from "../sockets";
import { handFrame } from "./round-trips";
import { runFanOut, subscribedFleet, type FanOutVariant } from "./fan-out";

/** Tasks seeded in each room: more than the window, so the window is full and its tracked id names its last row. */
const SEEDED_TASKS = 150;

/** The window every subscriber watches: the first 100 tasks by id. */
const WINDOW_LIMIT = 100;
const WINDOW_INPUT = `{"limit":${WINDOW_LIMIT}}`;

/** The large row's `JSON.stringify` length: a task with a long description. */
const LARGE_ROW_BYTES = 2_400;

/** The superjson payload of a tRPC reply or a subscription's data frame. */
interface Superjson {
  json: unknown;
  meta?: unknown;
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** Bytes of a server → client WebSocket frame header (unmasked) for a payload of `length` bytes. */
function wsHeaderBytes(length: number): number {
  return length <= 125 ? 2 : length <= 65_535 ? 4 : 10;
}

/** Bytes the `ws` client's TCP socket has read so far (null with a client that does not expose it). */
function bytesRead(ws: WebSocket): number | null {
  const socket = (ws as unknown as { _socket?: { bytesRead?: unknown } })._socket;
  return typeof socket?.bytesRead === "number" ? socket.bytesRead : null;
}

/** Sends one hand-written mutation and returns its result's `json` (throws on an error reply). */
async function mutate(writer: TrpcSocket, path: string, json: string): Promise<Record<string, unknown>> {
  const { id, frame } = handFrame("mutation", path, json);
  const reply = JSON.parse((await writer.call(frame, [id]))[0]!) as { result?: { data?: Superjson }; error?: unknown };
  if (!reply.result?.data) throw new Error(`${path} failed: ${JSON.stringify(reply.error ?? reply).slice(0, 300)}`);
  return reply.result.data.json as Record<string, unknown>;
}

/** Seeds `count` board tasks (pipelined) and returns their ids, ascending. */
async function seedTasks(writer: TrpcSocket, count: number, tag: string): Promise<number[]> {
  const ids: number[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, (_, offset) =>
      mutate(writer, "tasks.create", JSON.stringify(boardTask(`${tag} ${start + offset}`))),
    );
    for (const task of await Promise.all(batch)) ids.push(Number(task["id"]));
  }
  return ids.sort((a, b) => a - b);
}

/** A task as the board creates one: a short title and description, a priority, an assignee. */
function boardTask(title: string): Record<string, unknown> {
  return { title, description: "Check the figures against last quarter's and flag anything off.", priority: 2, assignee: "user-17" };
}

/** `length` characters of word-like text (a fixed pseudo-random sequence): compresses like prose, not like one repeated letter. */
function prose(length: number): string {
  const words = ["the", "figures", "quarter", "review", "budget", "owner", "deadline", "check", "draft", "team", "notes", "plan"];
  let seed = 17;
  let text = "";
  while (text.length < length) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    text += `${words[(seed >>> 16) % words.length]!} `;
  }
  return text.slice(0, length);
}

/** One diff frame as a subscriber receives it, taken apart. */
interface DiffFrame {
  frameBytes: number;
  rowBytes: number;
  metaBytes: number;
  wireBytes: number | null;
}

/** Waits for the next diff frame on `ws` while `update()` runs, and measures it against the changed row's JSON. */
async function captureDiff(ws: WebSocket, update: () => Promise<unknown>): Promise<DiffFrame> {
  const before = bytesRead(ws);
  const frame = nextFrame(ws, (data) => data.includes('"type":"diff"'));
  await update();
  const text = await frame;
  const after = bytesRead(ws);
  const data = (JSON.parse(text) as { result: { data: Superjson } }).result.data;
  const event = (data.json as { data: { upserts: unknown[]; removes: unknown[] } }).data;
  if (event.upserts.length !== 1 || event.removes.length !== 0) throw new Error(`expected a diff of one row: ${text.slice(0, 300)}`);
  const payload = utf8Bytes(text);
  return {
    frameBytes: payload + wsHeaderBytes(payload),
    // What `JSON.stringify(row)` gives for the row (superjson's json carries Dates as the same ISO strings).
    rowBytes: utf8Bytes(JSON.stringify(event.upserts[0])),
    metaBytes: data.meta === undefined ? 0 : utf8Bytes(`,"meta":${JSON.stringify(data.meta)}`),
    wireBytes: before === null || after === null ? null : after - before,
  };
}

/** Bytes one `tasks.update {id, title}` sends a `tasks.live` subscriber, for a board task and for a ≈ 2.4 KB row. */
async function updateBytes(context: BenchContext): Promise<void> {
  const { WebSocket: WS, results, suffix } = context;
  const room = `lw-bytes-${suffix}`;
  const writer = await TrpcSocket.open(WS, await context.productSocketUrl(room, "direct", "writer", "writer"));
  const [small, large] = await seedTasks(writer, 2, "bytes");
  const ws = await openSocket(WS, await context.productSocketUrl(room, "direct", "reader", "watcher"));
  const snapshot = nextFrame(ws, (data) => data.includes('"type":"snapshot"'));
  ws.send(handFrame("subscription", "tasks.live", WINDOW_INPUT).frame);
  await snapshot;
  const extensions = (ws as unknown as { extensions?: unknown }).extensions;

  const board = await captureDiff(ws, () =>
    mutate(writer, "tasks.update", JSON.stringify({ id: small, title: "Review the quarterly figures" })),
  );
  // Grow the second task's description until its row's JSON is ≈ LARGE_ROW_BYTES, then time one title update of it.
  const emptied = await captureDiff(ws, () =>
    mutate(writer, "tasks.update", JSON.stringify({ id: large, title: "Review the quarterly figures", description: "" })),
  );
  const description = prose(LARGE_ROW_BYTES - emptied.rowBytes);
  await captureDiff(ws, () => mutate(writer, "tasks.update", JSON.stringify({ id: large, description })));
  // A title of the same length: the row stays at LARGE_ROW_BYTES.
  const big = await captureDiff(ws, () =>
    mutate(writer, "tasks.update", JSON.stringify({ id: large, title: "Revise the quarterly figures" })),
  );

  for (const [key, label, frame] of [
    ["liveUpdateBytes", "bytes of one live-window update (board task)", board],
    ["liveUpdateBytesLarge", `bytes of one live-window update (≈ ${LARGE_ROW_BYTES.toLocaleString("en")} B row)`, big],
  ] as const) {
    results.value(key, label, "direct", "B", frame.frameBytes, {
      rowJsonBytes: frame.rowBytes,
      envelopeBytes: frame.frameBytes - frame.rowBytes,
      superjsonMetaBytes: frame.metaBytes,
      wireBytes: frame.wireBytes ?? "not exposed by this client",
      compression: typeof extensions === "string" && extensions ? extensions : "none",
    });
    context.log(
      `live-window bytes ${label}: frame ${frame.frameBytes} B (wire ${frame.wireBytes ?? "?"} B) for a ${frame.rowBytes} B row, superjson meta ${frame.metaBytes} B`,
    );
  }
  writer.close();
  closeQuietly(ws);
}

/** A `tasks.update` inside the window → N `tasks.live` subscribers, against raw broadcasts of the diff frame's size. */
async function windowFanOut(context: BenchContext, n: number, warmup: number, rounds: number): Promise<void> {
  const { WebSocket: WS, results, suffix } = context;
  const started = performance.now();
  const room = (kind: string) => `lw-${kind}-${n}-${suffix}`;
  const writer = await TrpcSocket.open(WS, await context.productSocketUrl(room("live"), "direct", "writer", "writer"));
  const inWindow = (await seedTasks(writer, SEEDED_TASKS, "live")).slice(0, WINDOW_LIMIT);
  const live = await subscribedFleet(context, room("live"), n, "tasks.live", WINDOW_INPUT);

  let counter = 0;
  // A title change of one task inside the window: every subscriber gets one diff with that row.
  const update = () => {
    const { id, frame } = handFrame(
      "mutation",
      "tasks.update",
      JSON.stringify({ id: inWindow[counter % inWindow.length], title: `live ${counter++}` }),
    );
    void writer.call(frame, [id]).catch(() => undefined);
  };
  const sample = nextFrame(live.sockets[0]!, (data) => data.includes('"type":"diff"'));
  await live.round(update);
  // The floor and the peer broadcast the diff frame's own text: the same length and the same compressibility (permessage-deflate).
  const payload = await sample;

  const floor = await Fleet.open(WS, () => context.floorSocketUrl(room("floor"), "direct"), n);
  const floorSender = await FrameSocket.open(WS, context.floorSocketUrl(room("floor"), "direct"));
  const peer = await Fleet.open(WS, () => context.peerSocketUrl(room("peer"), "direct"), n);
  const peerSender = await FrameSocket.open(WS, context.peerSocketUrl(room("peer"), "direct"));
  context.log(`live-window N=${n}: ${3 * n} sockets open in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const variants: FanOutVariant[] = [
    {
      key: `broadcastFloorWindow:${n}`,
      label: `floor: raw broadcast to ${n} (${payload.length} B: the diff frame's text)`,
      fleet: floor,
      send: () => floorSender.send(`broadcast:${payload}`),
    },
    {
      key: `broadcastPeerWindow:${n}`,
      label: `peer: PartyServer broadcast to ${n} (${payload.length} B: the diff frame's text)`,
      fleet: peer,
      send: () => peerSender.send(`broadcast:${payload}`),
    },
    { key: `liveWindow:${n}`, label: `tasks.update → ${n} tasks.live subscribers (one diff each)`, fleet: live, send: update },
  ];
  const runs = await runFanOut(context, variants, warmup, rounds, `live-window N=${n}`);
  for (const variant of variants) results.latency(variant.key, variant.label, "direct", runs.get(variant.key)!);

  for (const socket of [floorSender, peerSender, writer]) socket.close();
  await Promise.all([floor, peer, live].map((fleet) => fleet.close()));
}

export async function liveWindow(context: BenchContext): Promise<void> {
  await updateBytes(context);
  for (const { n, warmup, rounds } of context.settings.fanOut) await windowFanOut(context, n, warmup, rounds);
}
