/**
 * The Room Durable Object of an app: one room, one SQLite database. A thin
 * shell made by `createRoomClass(app)`: it applies the app's migrations and
 * checks the schema, installs the change-log triggers, accepts hibernatable
 * WebSockets and hands their frames to the WebSocket adapter, runs calls that
 * arrive without a socket (`call`: service bindings and HTTP), and announces
 * each commit to live subscriptions. On wake it rebuilds cursors and presence
 * and resumes the subscriptions stored in attachments. One storage alarm runs
 * background duties, among them closing sockets at their token's expiry. A room whose schema cannot be made current answers every
 * caller with an error naming what is wrong.
 */
import { TRPCError, type AnyRouter } from "@trpc/server";
import { DurableObject } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/durable-sqlite";
import * as engineTables from "../../schema/engine";
import { DebouncedWriter } from "../debounce/debounced-writer";
import { jsonError } from "../lib/json-response";
import { DEBOUNCE_ALARM_GRACE_MS } from "../lib/limits";
import type { RoomName } from "../lib/room-name";
import { ChangeLog } from "../live/change-log";
import { CommitHub } from "../live/commit-hub";
import { MutationLedger } from "../live/mutation-ledger";
import { TableQuotas } from "../live/table-quotas";
import { memoryLimitsFrom } from "../presence/memory-config";
import { MemoryStore } from "../presence/memory-store";
import type { DirectCall } from "../protocol/direct-call";
import type { Identity } from "../protocol/identity";
import { CLOSE_CODES } from "../protocol/close-codes";
import { PING, PONG } from "../protocol/routes";
import { DEFAULT_ROOM_LIMITS, resolveRoomLimits, tableQuota, type RoomLimits } from "../protocol/room-limits";
import type { AppDefinition } from "../rpc/app-api";
import type { RoomContext, RoomDatabase } from "../rpc/context";
import { rootConfig } from "../rpc/init";
import { proceduresOf } from "../rpc/procedures";
import { ReadOnlySql } from "../sql/read-only-sql";
import { SyncEngine } from "../sync/sync-engine";
import { errorResult, parseDirectCall, runDirectCall } from "../transport/direct-call";
import { seedConfig } from "../transport/seed-protocol";
import type { StoredSubscription } from "../transport/subscriptions";
import { rateLimited, RequestBuckets } from "../transport/request-budget";
import { createWsAdapter, type WsAdapter } from "../transport/ws-adapter";
import { AlarmScheduler } from "./alarms";
import { RoomMeter } from "./room-meter";
import { estimateCost, resolvePrices, type Prices } from "../lib/pricing";
import type { RoomInspection } from "../protocol/inspection";
import { USAGE_TABLE } from "../live/table-quotas";
import { ATTACHMENT_VERSION, readAttachment, updateAttachment, writeAttachment } from "./attachment";
import { parseConnectRequest } from "./connect-request";
import { ConnectTickets, ticketRefusal, type TicketIssue, type TicketRequest } from "./connect-tickets";
import { applyRoomMigrations, expectedColumns, verifyRoomSchema } from "./room-migrations";
import { SOCKET_COMPRESSION } from "./socket-compression";

/**
 * The token-expiry alarm is set at most this far ahead (ms; 24 h): a token may
 * expire far beyond what a storage alarm can hold, and the duty simply re-arms.
 */
const TOKEN_EXPIRY_HORIZON_MS = 24 * 3600 * 1000;

/** Why a socket is closed at its token's expiry (with CLOSE_CODES.tokenExpired). */
const TOKEN_EXPIRED_REASON = "token expired; reconnect with a fresh token";

/** A room: a Durable Object that also answers direct calls (Workers RPC). */
export interface RoomObject extends DurableObject<Env> {
  call(request: DirectCall): Promise<string>;
  issueTicket(request: TicketRequest): Promise<TicketIssue>;
  fetch(request: Request): Promise<Response>;
  webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void>;
  webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void>;
  webSocketError(ws: WebSocket): Promise<void>;
  alarm(): Promise<void>;
}

/** The Room class `createRoomClass` makes. */
export type RoomClass = new (ctx: DurableObjectState, env: Env) => RoomObject;

/** Makes the Room Durable Object class of `app`. Export it from the Worker's entry as `Room`. */
export function createRoomClass(app: AppDefinition<AnyRouter>): RoomClass {
  const replicated = [...app.tables, engineTables.debouncedState];
  const tableNames = replicated.map((table) => table.name);
  const expected = [...replicated.map((table) => table.room), engineTables.changes, engineTables.syncStatus].map(expectedColumns);
  // Seed clients subscribe to `<table>.changes`: offer the tables that have one.
  const procedures = proceduresOf(app.router);
  const seed = seedConfig(
    app.seedMethods,
    app.tables.map((table) => table.name).filter((name) => procedures.get(`${name}.changes`)?.type === "subscription"),
  );

  return class Room extends DurableObject<Env> {
    readonly #db: RoomDatabase;
    readonly #log: ChangeLog;
    readonly #sql: ReadOnlySql;
    readonly #rpc: WsAdapter;
    readonly #memory: MemoryStore;
    readonly #debounced: DebouncedWriter;
    readonly #alarms: AlarmScheduler;
    readonly #limits: RoomLimits;
    /** Mutation ids and their answers: exactly-once mutations on every transport. */
    readonly #mutations: MutationLedger;
    /** What the room does and stores, for the inspector and the cost estimate (room-meter.ts). */
    readonly #meter: RoomMeter;
    /** Frames and calls being handled now (for "why is this room awake?"). */
    #inFlight = 0;
    /** Unit prices of the cost estimate: the dated defaults, or the deployment's PRICING (parsed at the first inspection). */
    #prices: Prices | null = null;
    /** Request buckets of HTTP callers, one per user (sockets have their own, in the adapter). */
    readonly #httpBuckets: RequestBuckets;
    /** Unredeemed connect tickets: in memory only, so a restarted room refuses them (fail closed). */
    readonly #tickets = new ConnectTickets();
    #services: unknown;
    #hub!: CommitHub;
    #sync!: SyncEngine;
    /**
     * The earliest token expiry among open sockets (ms), or null: a cache rebuilt
     * from the attachments on wake, so the alarm can close sockets at expiry.
     */
    #nextExpiry: number | null = null;
    /** Why this room cannot serve calls (its schema could not be made current), or null. */
    #unavailable: TRPCError | null = null;

    constructor(ctx: DurableObjectState, env: Env) {
      super(ctx, env);
      // The app's limits, then the deployment's ROOM_LIMITS; a bad setting makes the room answer every call with it.
      let limitsError: unknown = null;
      try {
        this.#limits = resolveRoomLimits(app.limits, (env as unknown as Record<string, unknown>)["ROOM_LIMITS"]);
      } catch (error) {
        limitsError = error;
        this.#limits = DEFAULT_ROOM_LIMITS;
      }
      this.#httpBuckets = new RequestBuckets(this.#limits);
      // Every statement goes through the meter's SqlStorage, which counts rows read and written.
      this.#meter = new RoomMeter(ctx.storage.sql);
      const sql = this.#meter.metered();
      const storage = { sql, transactionSync: <T>(closure: () => T): T => ctx.storage.transactionSync(closure) };
      this.#db = drizzle(storage as unknown as DurableObjectStorage, { schema: app.roomSchema });
      this.#log = new ChangeLog(sql);
      this.#memory = new MemoryStore(memoryLimitsFrom(env as unknown as Record<string, unknown>));
      this.#debounced = new DebouncedWriter(
        this.#db,
        () => {
          // A timer's flush is its own event: announce it like any other commit.
          this.#settle().catch((error: unknown) => console.error("announcing a debounced flush failed", error));
        },
        undefined,
        undefined,
        { keys: this.#limits.debouncedKeys, bytes: this.#limits.debouncedBytes },
      );
      this.#alarms = new AlarmScheduler(ctx.storage, [
        { name: "memory expiry", nextDue: () => this.#memory.nextSweep(), run: () => void this.#memory.sweep() },
        {
          name: "debounced flush",
          nextDue: () => {
            const due = this.#debounced.nextDue();
            return due === null ? null : due + DEBOUNCE_ALARM_GRACE_MS;
          },
          run: () => void this.#debounced.flush({ dueOnly: true }),
        },
        { name: "sync push", nextDue: () => this.#sync?.nextDue() ?? null, run: () => this.#sync.run() },
        // Writes the meter's waiting counts, so a quiet room lands them before it hibernates. Last: the duties
        // before it add counts; it runs before the scheduler looks again, so it does not re-arm itself.
        { name: "meter write", nextDue: () => this.#meter.nextFlush(), run: () => this.#meter.write() },
        {
          name: "token expiry",
          nextDue: () => (this.#nextExpiry === null ? null : Math.min(this.#nextExpiry, Date.now() + TOKEN_EXPIRY_HORIZON_MS)),
          run: (now) => this.#closeExpired(now),
        },
      ]);
      this.#sql = new ReadOnlySql(storage, { readableTables: tableNames });
      this.#mutations = new MutationLedger(sql, () => this.#log.head(), rootConfig.transformer.output, this.#limits);
      // tRPC keep-alive pings are answered by the runtime without waking the room.
      ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
      this.#rpc = createWsAdapter({
        router: app.router,
        state: (ws) => {
          const attachment = readAttachment(ws);
          if (!attachment) return null;
          const { awaitingConnectionParams, identity, subs } = attachment;
          return {
            awaitingConnectionParams,
            expiresAt: identity.expiresAt,
            subscriptions: subs as StoredSubscription[],
            owner: identity.sub,
          };
        },
        context: (ws) => {
          const attachment = readAttachment(ws)!;
          return this.#context(attachment.room as RoomName, attachment.identity, attachment.connectionParams, {
            remember: (state) => updateAttachment(ws, state),
          });
        },
        expire: (ws) => this.#expire(ws),
        saveConnectionParams: (ws, connectionParams) => updateAttachment(ws, { connectionParams, awaitingConnectionParams: false }),
        saveSubscriptions: (ws, subs) => updateAttachment(ws, { subs }),
        resumeEventId: () => String(this.#hub.published),
        seed,
        limits: this.#limits,
        mutations: this.#mutations,
        unavailable: () => this.#unavailable,
        onInternalError: (error, path) => console.error(`room procedure ${path ?? "?"} failed`, error.cause ?? error),
      });
      void ctx.blockConcurrencyWhile(async () => {
        try {
          if (limitsError) throw limitsError;
          const quotas = new TableQuotas(sql);
          // Quota triggers name columns: a migration may drop one. They are reinstalled (and recounted) below.
          const report = applyRoomMigrations(ctx.storage, app.migrations, () => quotas.dropTriggers());
          if (report.unknown.length > 0) {
            console.warn(`this room's schema is newer than the code: ${report.unknown.length} applied migration(s) unknown to it`);
          }
          verifyRoomSchema(ctx.storage.sql, expected);
          this.#log.installTriggers(tableNames);
          this.#mutations.install();
          quotas.install(app.tables.map((table) => ({ ...expectedColumns(table.room), quota: tableQuota(this.#limits, table.name) })));
          this.#sync = new SyncEngine(sql, this.#log, env.DB, tableNames);
          this.#sync.onPushed((outcome) => {
            // Rows of the batch: upserts, deletes and the watermark (D1 counts index entries too; not included).
            this.#meter.add("d1RowsWritten", outcome.upserted + outcome.deleted + 1);
            this.#meter.add("d1Batches", 1);
          });
          // `sync.replicated` waits inside an event: the engine moves the alarm itself for retries and deadlines.
          this.#sync.onAlarmNeeded(() => this.#alarms.schedule());
          // A migration may rebuild a table without logging its rows: rewrite the replica once.
          if (report.applied.length > 0 && report.applied.length < report.total) this.#sync.requireFullResync();
          this.#services = app.services(this.#db);
        } catch (error) {
          console.error("room unavailable: its schema could not be made current", error);
          this.#unavailable = new TRPCError({
            code: "INTERNAL_SERVER_ERROR",
            message: `this room is unavailable: ${error instanceof Error ? error.message : String(error)}`,
            cause: error,
          });
          return;
        }
        this.#hub = new CommitHub(this.#log, () => this.#sync.retentionFloor());
        // After hibernation the sockets are still open: their users are still here
        // and their clients still subscribed.
        const sockets = ctx.getWebSockets();
        for (const ws of sockets) {
          this.#meterSends(ws);
          this.#restoreMemory(ws);
        }
        await Promise.all(sockets.map((ws) => this.#rpc.resume(ws)));
        this.#nextExpiry = this.#earliestExpiry();
        await this.#alarms.load();
        await this.#alarms.schedule();
      });
    }

    /** The procedure context of a call: one builder for every transport. */
    #context(
      room: RoomName,
      identity: Identity,
      connectionParams: RoomContext["connectionParams"],
      socket: RoomContext["socket"],
    ): RoomContext {
      return {
        kind: "room",
        room,
        identity,
        connectionParams,
        db: this.#db,
        services: this.#services,
        live: { log: this.#log, hub: this.#hub },
        memory: this.#memory,
        debounced: this.#debounced,
        sync: this.#sync,
        socket,
        sql: this.#sql,
        meter: this.#meter,
        inspect: () => this.#inspect(room),
      };
    }

    #restoreMemory(ws: WebSocket): void {
      const attachment = readAttachment(ws);
      if (!attachment) return;
      const user = attachment.identity.sub;
      if (attachment.cursor) this.#memory.restore("cursor", user, attachment.cursor.value, attachment.cursor.updatedAt);
      if (attachment.presence) this.#memory.restore("presence", user, attachment.presence.value, attachment.presence.updatedAt);
    }

    /** The earliest token expiry among the room's open sockets, or null when none. */
    #earliestExpiry(): number | null {
      let earliest: number | null = null;
      for (const ws of this.ctx.getWebSockets()) {
        if (ws.readyState !== WebSocket.OPEN) continue;
        const expiresAt = readAttachment(ws)?.identity.expiresAt;
        if (expiresAt !== undefined && (earliest === null || expiresAt < earliest)) earliest = expiresAt;
      }
      return earliest;
    }

    /** The alarm's token-expiry duty: closes every socket whose token has expired. */
    async #closeExpired(now: number): Promise<void> {
      for (const ws of this.ctx.getWebSockets()) {
        const expiresAt = readAttachment(ws)?.identity.expiresAt;
        if (ws.readyState === WebSocket.OPEN && expiresAt !== undefined && expiresAt <= now) await this.#expire(ws);
      }
      this.#nextExpiry = this.#earliestExpiry();
    }

    /** Closes a socket whose token has expired (code 4001, see README) and releases it. */
    async #expire(ws: WebSocket): Promise<void> {
      try {
        ws.close(CLOSE_CODES.tokenExpired, TOKEN_EXPIRED_REASON);
      } catch {
        // Already closed.
      }
      await this.#release(ws);
    }

    /** After any event: count it, announce what it committed and keep the alarm in step. */
    async #settle(meterWrite = false): Promise<void> {
      this.#meter.eventEnded(meterWrite);
      if (this.#unavailable) return;
      if (this.#hub.publish()) this.#sync.noteCommit();
      await this.#alarms.schedule();
    }

    /** Accepts a WebSocket the Worker has already authenticated (see connect-request.ts). */
    override async fetch(request: Request): Promise<Response> {
      const parsed = parseConnectRequest(request);
      if (!parsed) return jsonError(400, "BAD_REQUEST", "rooms accept only WebSocket upgrades from the Worker");
      const connect = this.#tickets.verified(parsed);
      if (!connect) return ticketRefusal();
      const { 0: client, 1: server } = new WebSocketPair();
      const refusal = this.#socketRefusal(connect.identity.sub);
      if (refusal) {
        // Accepted outside hibernation only to be closed with a code that says why.
        server.accept();
        server.close(CLOSE_CODES.tooManySockets, refusal);
        return new Response(null, { status: 101, webSocket: client });
      }
      // An unavailable room still accepts the socket, so that every call on it is answered with the reason.
      this.#meter.eventStarted();
      if (!this.#unavailable) this.#sync.setRoom(connect.room);
      this.ctx.acceptWebSocket(server);
      this.#meterSends(server);
      writeAttachment(server, {
        v: ATTACHMENT_VERSION,
        room: connect.room,
        identity: connect.identity,
        connectionParams: null,
        awaitingConnectionParams: connect.connectionParams,
        connectedAt: Date.now(),
        cursor: null,
        presence: null,
        subs: [],
      });
      // The alarm closes the socket when its token expires.
      const expiresAt = connect.identity.expiresAt;
      if (this.#nextExpiry === null || expiresAt < this.#nextExpiry) this.#nextExpiry = expiresAt;
      this.#meter.eventEnded();
      if (!this.#unavailable) await this.#alarms.schedule();
      // A smaller compression window: each socket's zlib compressor lives as long as the socket.
      return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Extensions": SOCKET_COMPRESSION } });
    }

    /** What the room holds, who is in it, what it does and why it is awake (admin.inspect). */
    #inspect(room: RoomName): RoomInspection {
      const sql = this.ctx.storage.sql;
      const usage = new Map(
        sql
          .exec<{ tbl: string; row_count: number; byte_count: number }>(`SELECT tbl, row_count, byte_count FROM ${USAGE_TABLE}`)
          .toArray()
          .map((row) => [row.tbl, row]),
      );
      const log = sql.exec<{ n: number; oldest: number | null }>("SELECT count(*) AS n, min(seq) AS oldest FROM _changes").one();
      const users = new Map<string, { sub: string; role: string; sockets: number; subscriptions: number }>();
      const byProcedure: Record<string, number> = {};
      const sockets = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
      for (const ws of sockets) {
        const attachment = readAttachment(ws);
        if (!attachment) continue;
        const { sub, role } = attachment.identity;
        const user = users.get(sub) ?? { sub, role, sockets: 0, subscriptions: 0 };
        user.sockets += 1;
        user.subscriptions += attachment.subs.length;
        users.set(sub, user);
        for (const subscription of attachment.subs) {
          const path = (subscription as { path: string }).path;
          byProcedure[path] = (byProcedure[path] ?? 0) + 1;
        }
      }
      const memory = this.#memory.stats();
      const debounced = this.#debounced.stats();
      const status = this.#sync.status();
      const nextAlarm = this.#alarms.next();
      const now = Date.now();
      const meter = this.#meter.snapshot(sql.databaseSize);
      const reasons: string[] = [];
      if (this.#inFlight > 0) reasons.push(`${this.#inFlight} call(s) or frame(s) being handled`);
      if (debounced.pendingKeys > 0)
        reasons.push(`${debounced.pendingKeys} debounced value(s) waiting to be written (a flush timer is pending)`);
      if (nextAlarm && nextAlarm.at - now < 10_000) {
        reasons.push(`the alarm is due in ${Math.max(0, nextAlarm.at - now)} ms for ${nextAlarm.duties.join(", ")}`);
      }
      if (status.pendingChanges > 0) reasons.push(`${status.pendingChanges} change(s) not yet replicated to D1`);
      return {
        room,
        at: now,
        tables: app.tables.map((table) => ({
          name: table.name,
          rows: usage.get(table.name)?.row_count ?? 0,
          bytes: usage.get(table.name)?.byte_count ?? 0,
        })),
        changeLog: { head: this.#log.head(), oldest: log.oldest, entries: log.n },
        connections: { sockets: sockets.length, users: [...users.values()], subscriptionsByProcedure: byProcedure },
        memory: {
          entries: memory.total.entries,
          bytes: memory.total.bytes,
          cursors: memory.kinds.cursor.entries,
          presence: memory.kinds.presence.entries,
          cache: memory.kinds.cache.entries,
        },
        debounced: {
          pendingKeys: debounced.pendingKeys,
          pendingBytes: debounced.pendingBytes,
          nextFlushAt: this.#debounced.nextDue(),
          sqliteWrites: debounced.sqliteWrites,
          updatesReceived: debounced.updatesReceived,
        },
        sync: {
          roomSeq: status.roomSeq,
          replicatedSeq: status.replicatedSeq,
          pendingChanges: status.pendingChanges,
          isHealthy: status.isHealthy,
          lastError: status.lastError,
        },
        mutationIds: this.#mutations.kept(),
        meter,
        cost: estimateCost(meter, (this.#prices ??= resolvePrices((this.env as unknown as Record<string, unknown>)["PRICING"])), now),
        awake: { inFlight: this.#inFlight, nextAlarm, reasons },
      };
    }

    /** Counts what the room sends down `ws` (every path sends through `ws.send`). */
    #meterSends(ws: WebSocket): void {
      if (Object.hasOwn(ws, "send")) return;
      try {
        ws.send = (data: string | ArrayBuffer | ArrayBufferView) => {
          this.#meter.add("wsMessagesOut", 1);
          // The class's send, looked up at each call (so anything that wraps it later still sees every send).
          (Object.getPrototypeOf(ws) as WebSocket).send.call(ws, data);
        };
      } catch {
        // A socket object that cannot be wrapped: its sends go uncounted.
      }
    }

    /** Why one more socket of `user` does not fit (the room's `socketsPerRoom` and `socketsPerUser`), or null. */
    #socketRefusal(user: string): string | null {
      const { socketsPerRoom, socketsPerUser } = this.#limits;
      const open = this.ctx.getWebSockets();
      if (open.length >= socketsPerRoom) return `this room holds its maximum of ${socketsPerRoom} sockets; retry later`;
      const mine = open.filter((ws) => readAttachment(ws)?.identity.sub === user).length;
      if (mine >= socketsPerUser) return `a user may hold at most ${socketsPerUser} sockets in a room; close one first`;
      return null;
    }

    /** Workers RPC from the Worker's ticket route: a single-use connect ticket for an identity it verified (connect-tickets.ts). */
    async issueTicket(request: TicketRequest): Promise<TicketIssue> {
      const issued = this.#tickets.issue(request);
      // A ticket request is an HTTP call: it takes a token of the user's HTTP bucket.
      if (issued.ok && this.#httpBuckets.take(request.identity.sub, 1) === 0) {
        this.#tickets.redeem(issued.id);
        return { ok: false, status: 429, message: rateLimited(this.#limits, "a user's HTTP calls to a room").message };
      }
      return issued;
    }

    /**
     * Workers RPC: runs one query or mutation of the router for an identity the
     * caller vouches for — the Worker's HTTP endpoint (from a verified token) or
     * the RoomService entrypoint (from a service binding). Same validation, roles
     * and errors as a WebSocket frame; no socket, so `ctx.socket` is null. Answers
     * a JSON string of `DirectCallResult` and never rejects (errors are values).
     */
    async call(request: DirectCall): Promise<string> {
      const parsed = parseDirectCall(request);
      if (!parsed.ok) return errorResult(parsed.error);
      const { room, identity, path, type, via } = parsed.call;
      if (this.#unavailable) return errorResult(this.#unavailable, { path, type });
      this.#meter.eventStarted();
      // HTTP callers share one bucket per user; bound Workers are trusted like the token issuer.
      if (via === "http" && this.#httpBuckets.take(identity.sub, 1) === 0) {
        return errorResult(rateLimited(this.#limits, "a user's HTTP calls to a room"), { path, type });
      }
      try {
        this.#sync.setRoom(room);
      } catch (error) {
        return errorResult(new TRPCError({ code: "BAD_REQUEST", message: (error as Error).message }));
      }
      this.#inFlight += 1;
      const answer = await runDirectCall(
        app.router,
        this.#context(room, identity, null, null),
        parsed.call,
        this.#mutations,
        (error, failed) => console.error(`room procedure ${failed} failed`, error.cause ?? error),
      ).finally(() => (this.#inFlight -= 1));
      // Like a frame: announce what the call committed, so live subscribers see it.
      // The call's own answer stands even if this fails (its write is already durable).
      try {
        await this.#settle();
      } catch (error) {
        console.error("publishing or scheduling after a call failed", error);
      }
      return answer;
    }

    override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
      this.#meter.eventStarted();
      this.#meter.add("wsMessagesIn", 1);
      this.#inFlight += 1;
      const handled = this.#rpc.message(ws, message).finally(() => (this.#inFlight -= 1));
      // One announcement per frame: everything a frame wrote is one commit. A
      // frame whose calls all run on the room's synchronous SQLite ends within
      // this turn, before the timer; one that waits on I/O (a sync.replicated
      // wait, a fetch) has what it wrote so far announced at the next turn,
      // instead of when its slowest call ends.
      const early = setTimeout(() => {
        this.#settle().catch((error: unknown) => console.error("announcing a frame's commits failed", error));
      }, 0);
      try {
        await handled;
      } finally {
        clearTimeout(early);
      }
      await this.#settle();
    }

    override async alarm(): Promise<void> {
      if (this.#unavailable) return;
      this.#meter.eventStarted();
      this.#meter.add("alarms", 1);
      // Any alarm lands the meter's waiting counts first (its own duty covers counts the duties add).
      this.#meter.write();
      await this.#alarms.fire();
      await this.#settle();
    }

    override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
      this.#meter.eventStarted();
      await this.#release(ws);
      try {
        ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
      } catch {
        // Already closed.
      }
    }

    override async webSocketError(ws: WebSocket): Promise<void> {
      this.#meter.eventStarted();
      await this.#release(ws);
    }

    /**
     * Ends a socket's subscriptions. When it was its user's last socket, the user
     * leaves; when it was the room's last socket, pending debounced values are written.
     */
    async #release(ws: WebSocket): Promise<void> {
      this.#rpc.close(ws);
      if (this.#unavailable) return;
      const others = this.ctx.getWebSockets().filter((other) => other !== ws && other.readyState === WebSocket.OPEN);
      const user = readAttachment(ws)?.identity.sub;
      if (user !== undefined && !others.some((other) => readAttachment(other)?.identity.sub === user)) this.#memory.removeUser(user);
      if (others.length === 0) {
        try {
          this.#debounced.flush();
        } catch (error) {
          console.error("flush on last disconnect failed; values stay pending", error);
        }
      }
      await this.#settle();
    }
  };
}
