/**
 * Exactly-once across a crash (issue 16), end to end: the task board under real
 * `wrangler dev` with persisted state (--persist-to a temp dir), a pipelined
 * stream of `tasks.create` from room clients (every mutation carries a mutation
 * id; answers lost with the socket are re-sent with the same id after
 * reconnect) and from HTTP callers (each mutation sent with an
 * `Idempotency-Key`, retried with the same key until answered). Mid-stream the
 * runtime is SIGKILLed — the whole process group, workerd included — and
 * restarted on the same port and state; the clients reconnect and retry by
 * themselves. Then, row by row: every intended mutation is in the room exactly
 * once, every answer is its own row, and the D1 replica (its SQLite file,
 * read with node:sqlite) converges to the same rows. One summary line gives
 * the counts (sent, acknowledged before the kill, retried, applied, replica).
 *
 * Clients reach the Worker through a TCP relay (test/helpers/tcp-relay.ts).
 * Just before the kill it holds back every answer for ANSWER_HOLD_MS while
 * requests keep flowing: the room applies mutations whose answers no client
 * gets — the case mutation ids exist for. A bare kill loses answers only in
 * the instant between commit and send, and would rarely produce one.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import superjson, { type SuperJSONResult } from "superjson";
import { afterAll, describe, expect, it } from "vitest";
import type { AppRouter } from "../../src/app";
import { signRoomToken } from "../../src/auth/tokens";
import { closeRoomClient, createRoomClient, type RoomClient } from "../../src/client";
import type { Role } from "../../src/protocol/identity";
import { roomHttpUrl } from "../../src/protocol/routes";
import type { SyncStatus } from "../../src/sync/sync-engine";
import type { Task } from "../../schema";
import { startCrashableDev, type CrashableDev } from "../helpers/crashable-dev";
import { startTcpRelay } from "../helpers/tcp-relay";
import { applyLocalD1Migrations } from "../helpers/wrangler-dev";
import { freePorts } from "../helpers/wrangler-process";

/** `database_name` of the D1 replica in wrangler.toml. */
const DATABASE = "nanotype-read-replica";
const SECRET = "exactly-once-kill-test-secret-0123456789abcdef";
const ROOM = `exactly-once-${crypto.randomUUID().slice(0, 8)}`;

/** Room clients (one socket each) and the mutations each sends. */
const WS_CLIENTS = 3;
const WS_MUTATIONS = 60;
/** HTTP callers and the mutations each sends (each with its own Idempotency-Key). */
const HTTP_CALLERS = 2;
const HTTP_MUTATIONS = 40;
const INTENDED = WS_CLIENTS * WS_MUTATIONS + HTTP_CALLERS * HTTP_MUTATIONS;
/** Most calls one sender has awaiting an answer (its pipelining depth). */
const IN_FLIGHT_PER_SENDER = 12;
/** Pause between two calls of one sender: spreads the stream over about a second, so the kill lands mid-stream. */
const PACE_MS = 10;
/** The crash begins once this many mutations were answered (a third of the stream). */
const KILL_AFTER_ACKS = Math.floor(INTENDED / 3);
/** How long answers are held back before the kill: the room applies what reaches it, and its answers are lost. */
const ANSWER_HOLD_MS = 300;
/** A room client's retry window: covers a restart of wrangler dev (5–15 s seen here) plus the client's reconnect backoff (≤ 10 s). */
const RETRY_WINDOW_MS = 90_000;
/** An HTTP caller gives up on a mutation after this long (it retries with the same key until then). */
const HTTP_GIVE_UP_MS = 90_000;
/** One HTTP attempt's timeout: an attempt stuck on a dead connection is retried with the same key. */
const HTTP_ATTEMPT_TIMEOUT_MS = 10_000;
/** Pause between two HTTP attempts of one mutation. */
const HTTP_RETRY_DELAY_MS = 200;
/** `wrangler dev` answering /health: it bundles the Worker first (slower on a busy machine). */
const STARTUP_TIMEOUT_MS = 60_000;
/** Replication after the stream: a 100 ms window plus a few D1 batches. */
const REPLICATION_TIMEOUT_MS = 20_000;
/** The whole test: ≈ 20–40 s here (two wrangler starts, a D1 apply, the stream and the checks). */
const TEST_TIMEOUT_MS = 150_000;

const stateDir = mkdtempSync(join(tmpdir(), "nanotype-exactly-once-"));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
});

type Answer = Task & { seq: number };

/** One logical mutation of the stream, from its call to its answer. */
interface Intent {
  /** `<sender>-m<seq>`, e.g. "c2-m017" (room client 2) or "h1-m005" (HTTP caller 1): unique, so its rows can be counted. */
  title: string;
  answer?: Answer;
  error?: string;
  /** HTTP only: requests sent for it (1 = never retried). */
  attempts: number;
}

function token(sub: string, role: Role): Promise<string> {
  return signRoomToken({ sub, room: ROOM, role, ttlSeconds: 600 }, SECRET);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** A counting semaphore: at most `size` holders at once. */
function slots(size: number) {
  let free = size;
  const waiting: Array<() => void> = [];
  return {
    async acquire() {
      if (free > 0) free -= 1;
      else await new Promise<void>((granted) => waiting.push(granted));
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else free += 1;
    },
  };
}

/** The global WebSocket, counting how often each mutation (by title) goes out in tRPC frames (one request or an array). */
function countingWebSocket(sends: Map<string, number>): typeof WebSocket {
  return class CountingWebSocket extends WebSocket {
    override send(data: Parameters<WebSocket["send"]>[0]): void {
      if (typeof data === "string" && (data.startsWith("{") || data.startsWith("["))) {
        const parsed = JSON.parse(data) as unknown;
        for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
          const request = message as { method?: string; params?: { input?: SuperJSONResult } };
          if (request.method !== "mutation" || !request.params?.input) continue;
          const { title } = superjson.deserialize<{ title: string }>(request.params.input);
          sends.set(title, (sends.get(title) ?? 0) + 1);
        }
      }
      super.send(data);
    }
  };
}

/**
 * `tasks.create` over HTTP with an `Idempotency-Key`, retried with the same key
 * on a network failure, a 5xx or a 429 until answered (a 200) or HTTP_GIVE_UP_MS
 * passes. Resolves with the answer; rejects on any other status.
 */
async function createOverHttp(baseUrl: string, accessToken: string, key: string, intent: Intent): Promise<Answer> {
  const giveUpAt = Date.now() + HTTP_GIVE_UP_MS;
  let last = "";
  for (;;) {
    intent.attempts += 1;
    let status = 0;
    try {
      const response = await fetch(`${roomHttpUrl(baseUrl, ROOM)}/tasks.create`, {
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({ json: { title: intent.title } }),
        signal: AbortSignal.timeout(HTTP_ATTEMPT_TIMEOUT_MS),
      });
      const text = await response.text();
      if (response.status === 200)
        return superjson.deserialize<Answer>((JSON.parse(text) as { result: { data: SuperJSONResult } }).result.data);
      status = response.status;
      last = `HTTP ${status}: ${text.slice(0, 300)}`;
    } catch (error) {
      last = error instanceof Error ? `${error.message}${error.cause ? ` (${String(error.cause)})` : ""}` : String(error);
    }
    // No answer, a server-side failure or a rate limit may hide an applied mutation: only those are retried.
    if (status !== 0 && status < 500 && status !== 429) throw new Error(last);
    if (Date.now() > giveUpAt) throw new Error(`gave up after ${intent.attempts} attempts; last: ${last}`);
    await sleep(HTTP_RETRY_DELAY_MS);
  }
}

/** Every task of the room, through the room (tasks.list pages). */
async function roomTasks(client: RoomClient<AppRouter>): Promise<Task[]> {
  const rows: Task[] = [];
  for (let cursor: number | null = null; ;) {
    const page: { items: Task[]; nextCursor: number | null } = await client.tasks.list.query({ limit: 200, cursor });
    rows.push(...page.items);
    if (page.nextCursor === null) return rows;
    cursor = page.nextCursor;
  }
}

/** The room's task rows as SQLite holds them (the read-only SQL procedure), in id order. */
async function roomRawRows(client: RoomClient<AppRouter>): Promise<Record<string, unknown>[]> {
  const result = await client.sql.query.query({ sql: "SELECT * FROM tasks ORDER BY id" });
  expect(result.truncated, "the room's rows fit one SQL result").toBe(false);
  return result.rows.map((values) => Object.fromEntries(result.columns.map((column, i) => [column, values[i]])));
}

/** Waits until the replica has confirmed everything the room committed (sync.status). */
async function untilReplicated(client: RoomClient<AppRouter>): Promise<SyncStatus> {
  const deadline = Date.now() + REPLICATION_TIMEOUT_MS;
  for (;;) {
    const status = await client.sync.status.query();
    if (status.replicatedSeq === status.roomSeq && !status.fullResyncPending) return status;
    if (Date.now() > deadline)
      throw new Error(`the replica did not catch up within ${REPLICATION_TIMEOUT_MS} ms: ${JSON.stringify(status)}`);
    await sleep(100);
  }
}

/** The room's rows in the D1 replica's SQLite file under `dir` (without room_id and _seq), in id order. */
function replicaRawRows(dir: string): Record<string, unknown>[] {
  const d1 = join(dir, "v3/d1/miniflare-D1DatabaseObject");
  const file = readdirSync(d1).find((name) => name.endsWith(".sqlite") && name !== "metadata.sqlite");
  if (!file) throw new Error(`no D1 database in ${d1}`);
  const replica = new DatabaseSync(join(d1, file), { readOnly: true });
  try {
    return replica
      .prepare("SELECT * FROM tasks WHERE room_id = ? ORDER BY id")
      .all(ROOM)
      .map(({ room_id: _room, _seq: _rowSeq, ...row }) => row);
  } finally {
    replica.close();
  }
}

describe("exactly-once mutations across a hard kill of the runtime", () => {
  it(
    "applies every pipelined mutation exactly once, answers each with its own row, and the replica converges",
    async () => {
      const began = performance.now();
      // wrangler.toml's assets (public/, the demo page) are built and rebuilt by other runs: serve an empty directory instead.
      const assets = join(stateDir, "assets");
      mkdirSync(assets);
      await applyLocalD1Migrations({ database: DATABASE, persistTo: stateDir });
      const [port, inspectorPort, secondInspectorPort] = (await freePorts(3)) as [number, number, number];
      const start = (inspector: number) =>
        startCrashableDev({
          port,
          inspectorPort: inspector,
          persistTo: stateDir,
          assets,
          vars: { AUTH_SECRET: SECRET, DEV_TOKENS: "false" },
          timeoutMs: STARTUP_TIMEOUT_MS,
        });
      let dev: CrashableDev = await start(inspectorPort);
      cleanups.push(() => dev.kill());
      const relay = await startTcpRelay(port);
      cleanups.push(() => relay.close());

      // The stream: each sender calls every PACE_MS, with at most IN_FLIGHT_PER_SENDER calls awaiting answers.
      const intents: Intent[] = [];
      let acks = 0;
      let crashing = false;
      let reachedKillPoint!: () => void;
      const killPoint = new Promise<void>((done) => (reachedKillPoint = done));
      const pipeline = async (sender: string, create: (intent: Intent) => Promise<Answer>) => {
        const inFlight = slots(IN_FLIGHT_PER_SENDER);
        const calls: Promise<void>[] = [];
        for (let seq = 1; seq <= (sender.startsWith("c") ? WS_MUTATIONS : HTTP_MUTATIONS); seq++) {
          await inFlight.acquire();
          const intent: Intent = { title: `${sender}-m${String(seq).padStart(3, "0")}`, attempts: 0 };
          intents.push(intent);
          const call = create(intent).then(
            (answer) => {
              intent.answer = answer;
              if (!crashing && ++acks === KILL_AFTER_ACKS) reachedKillPoint();
            },
            (error: unknown) => void (intent.error = error instanceof Error ? error.message : String(error)),
          );
          calls.push(call.finally(() => inFlight.release()));
          await sleep(PACE_MS);
        }
        await Promise.all(calls);
      };

      const wireSends = new Map<string, number>();
      const senders: Promise<void>[] = [];
      for (let c = 1; c <= WS_CLIENTS; c++) {
        const accessToken = await token(`ws-${c}`, "writer");
        const client = createRoomClient<AppRouter>({
          url: relay.url,
          room: ROOM,
          token: () => accessToken,
          WebSocket: countingWebSocket(wireSends),
          retryWindowMs: RETRY_WINDOW_MS,
        });
        cleanups.push(() => closeRoomClient(client));
        senders.push(pipeline(`c${c}`, (intent) => client.tasks.create.mutate({ title: intent.title })));
      }
      const runId = crypto.randomUUID().slice(0, 8);
      for (let h = 1; h <= HTTP_CALLERS; h++) {
        const accessToken = await token(`http-${h}`, "writer");
        senders.push(pipeline(`h${h}`, (intent) => createOverHttp(relay.url, accessToken, `${runId}-${intent.title}`, intent)));
      }
      const stream = Promise.all(senders);

      // The crash: answers held back, then SIGKILL to wrangler and workerd, then the clients' connections dropped.
      await Promise.race([
        killPoint,
        stream.then(() => {
          throw new Error(`the stream ended before ${KILL_AFTER_ACKS} answers (${acks} answered)`);
        }),
      ]);
      relay.holdAnswers();
      await sleep(ANSWER_HOLD_MS);
      crashing = true;
      const calledBeforeKill = intents.length;
      const acknowledgedBeforeKill = intents.filter((intent) => intent.answer).length;
      const inFlightAtKill = intents.filter((intent) => !intent.answer && !intent.error);
      const killedAtWall = Date.now();
      const killedAt = performance.now();
      await dev.kill();
      relay.dropConnections();
      dev = await start(secondInspectorPort);
      const downtimeMs = performance.now() - killedAt;
      await stream;
      const streamDoneMs = performance.now() - killedAt;

      // Read back: the room through the room, then the replica's SQLite file once it has caught up.
      const admin = createRoomClient<AppRouter>({ url: dev.url, room: ROOM, token: await token("checker", "admin") });
      cleanups.push(() => closeRoomClient(admin));
      const rows = await roomTasks(admin);
      const roomRaw = await roomRawRows(admin);
      const status = await untilReplicated(admin);
      await closeRoomClient(admin);
      await dev.stop();
      const replicaRaw = replicaRawRows(stateDir);

      const rowsByTitle = new Map<string, Task[]>();
      for (const row of rows) rowsByTitle.set(row.title, [...(rowsByTitle.get(row.title) ?? []), row]);
      const intended = new Set(intents.map((intent) => intent.title));
      const duplicated = [...rowsByTitle].filter(([, found]) => found.length > 1).map(([title, found]) => `${title}×${found.length}`);
      const missing = intents.filter((intent) => !rowsByTitle.has(intent.title)).map((intent) => intent.title);
      const unexpected = rows.filter((row) => !intended.has(row.title)).map((row) => `#${row.id} ${row.title}`);
      const wsResent = [...wireSends.values()].filter((sends) => sends > 1).length;
      const httpRetried = intents.filter((intent) => intent.attempts > 1).length;
      // In flight at the kill, yet applied before it (created_at is the room's clock, same machine; the restart
      // separates the two sides by seconds): their answers were lost, and after the restart only a recorded
      // answer can have answered them without a second row.
      const appliedUnanswered = inFlightAtKill.filter((intent) =>
        (rowsByTitle.get(intent.title) ?? []).some((row) => row.created_at.getTime() < killedAtWall),
      ).length;
      const answered = intents.filter((intent) => intent.answer);
      const failed = intents.filter((intent) => intent.error !== undefined);
      const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      console.log(
        `[exactly-once-kill] sent ${intents.length} (${WS_CLIENTS} room clients × ${WS_MUTATIONS}, ${HTTP_CALLERS} HTTP callers × ${HTTP_MUTATIONS}; ` +
          `${calledBeforeKill} called before the kill); acknowledged before kill ${acknowledgedBeforeKill}; in flight at kill ${inFlightAtKill.length} ` +
          `(${appliedUnanswered} of them applied before it, answers lost); ` +
          `retried ${wsResent + httpRetried} (${wsResent} mutation ids re-sent on sockets: ${[...wireSends.values()].reduce((a, b) => a + b, 0)} sends; ` +
          `${httpRetried} Idempotency-Keys retried: ${intents.reduce((sum, intent) => sum + intent.attempts, 0)} HTTP requests); ` +
          `answered ${answered.length}, failed ${failed.length}; applied ${rows.length} rows ` +
          `(duplicated ${duplicated.length}, missing ${missing.length}, unexpected ${unexpected.length}); ` +
          `replica ${replicaRaw.length} rows at seq ${status.replicatedSeq}/${status.roomSeq}; ` +
          `downtime ${seconds(downtimeMs)}, stream done ${seconds(streamDoneMs)} after the kill, total ${seconds(performance.now() - began)}`,
      );

      // The crash came mid-stream and hit calls in flight, which were retried: otherwise nothing below is tested.
      expect(acknowledgedBeforeKill, "answered before the kill").toBeGreaterThan(0);
      expect(inFlightAtKill.length, "calls awaiting answers at the kill").toBeGreaterThan(0);
      expect(appliedUnanswered, "mutations applied before the kill whose answers were lost").toBeGreaterThan(0);
      expect(wsResent, "room client mutations re-sent after the restart").toBeGreaterThan(0);
      expect(httpRetried, "HTTP mutations retried after the restart").toBeGreaterThan(0);

      // Exactly once: none lost, none duplicated, nothing else written.
      expect(intents).toHaveLength(INTENDED);
      expect(duplicated, "titles applied more than once").toEqual([]);
      expect(missing, "titles never applied").toEqual([]);
      expect(unexpected, "rows no sender intended").toEqual([]);
      expect(rows).toHaveLength(INTENDED);

      // Every mutation was answered, and each answer is its own row as the room holds it.
      expect(
        failed.map((intent) => `${intent.title}: ${intent.error}`),
        "mutations that failed",
      ).toEqual([]);
      const rowById = new Map(rows.map((row) => [row.id, row]));
      for (const intent of answered) {
        const { seq, ...task } = intent.answer!;
        expect(task.title, `the answer to ${intent.title}`).toBe(intent.title);
        expect(seq, `seq in the answer to ${intent.title}`).toBeGreaterThan(0);
        expect(task, `the answer to ${intent.title} vs row #${task.id}`).toEqual(rowById.get(task.id));
      }

      // The replica converged to the room's rows, value by value.
      expect(roomRaw).toHaveLength(INTENDED);
      expect(replicaRaw).toEqual(roomRaw);
    },
    TEST_TIMEOUT_MS,
  );
});
