/**
 * The Room Durable Object: one room, one SQLite database. A thin shell: it
 * migrates the schema and installs the change-log triggers, accepts
 * hibernatable WebSockets, hands their frames to the WebSocket adapter with a
 * context built from the socket attachment, runs calls that arrive without a
 * socket (`call`: service bindings and HTTP), and announces each commit to live
 * subscriptions. On wake it rebuilds cursors and presence and resumes the
 * subscriptions stored in attachments. One storage alarm runs background duties.
 */
import { TRPCError } from "@trpc/server";
import { DurableObject } from "cloudflare:workers";
import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import migrations from "../../drizzle/migrations.js";
import { REPLICATED_TABLES } from "../../schema/replicated";
import type { Identity } from "../auth/identity";
import { DebouncedWriter } from "../debounce/debounced-writer";
import { jsonError } from "../lib/json-response";
import { DEBOUNCE_ALARM_GRACE_MS } from "../lib/limits";
import type { RoomName } from "../lib/room-name";
import { ChangeLog } from "../live/change-log";
import { CommitHub } from "../live/commit-hub";
import { memoryLimitsFrom } from "../presence/memory-config";
import { MemoryStore } from "../presence/memory-store";
import type { RoomContext } from "../rpc/context";
import { errorResult, parseDirectCall, runDirectCall, type DirectCall } from "../rpc/direct-call";
import { appRouter } from "../rpc/router";
import { createWsAdapter, type WsAdapter } from "../rpc/ws-adapter";
import { ReadOnlySql } from "../sql/read-only-sql";
import { READABLE_TABLES } from "../sql/readable-tables";
import { SyncEngine } from "../sync/sync-engine";
import { TaskStore } from "../tasks/task-store";
import { AlarmScheduler } from "./alarms";
import { ATTACHMENT_VERSION, readAttachment, writeAttachment, type Attachment } from "./attachment";
import { parseConnectRequest } from "./connect-request";

export class Room extends DurableObject<Env> {
  readonly #db: DrizzleSqliteDODatabase<Record<string, never>>;
  readonly #log: ChangeLog;
  readonly #tasks: TaskStore;
  readonly #sql: ReadOnlySql;
  readonly #rpc: WsAdapter;
  readonly #memory: MemoryStore;
  readonly #debounced: DebouncedWriter;
  readonly #alarms: AlarmScheduler;
  #hub!: CommitHub;
  #sync!: SyncEngine;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#db = drizzle(ctx.storage);
    this.#log = new ChangeLog(ctx.storage.sql);
    this.#tasks = new TaskStore(this.#db);
    this.#memory = new MemoryStore(memoryLimitsFrom(env as unknown as Record<string, unknown>));
    this.#debounced = new DebouncedWriter(this.#db, () => {
      // A timer's flush is its own event: announce it like any other commit.
      this.#settle().catch((error: unknown) => console.error("announcing a debounced flush failed", error));
    });
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
      { name: "sync push", nextDue: () => this.#sync.nextDue(), run: () => this.#sync.run() },
    ]);
    this.#sql = new ReadOnlySql(ctx.storage, { readableTables: READABLE_TABLES });
    // tRPC keep-alive pings are answered by the runtime without waking the room.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("PING", "PONG"));
    this.#rpc = createWsAdapter({
      router: appRouter,
      session: (ws) => {
        const attachment = readAttachment(ws);
        if (!attachment) return null;
        return {
          context: this.#socketContext(ws, attachment),
          awaitingConnectionParams: attachment.awaitingConnectionParams,
          expiresAt: attachment.identity.expiresAt,
          subscriptions: attachment.subs,
        };
      },
      saveConnectionParams: (ws, connectionParams) => this.#update(ws, { connectionParams, awaitingConnectionParams: false }),
      saveSubscriptions: (ws, subs) => this.#update(ws, { subs }),
      resumeEventId: () => String(this.#hub.published),
      onInternalError: (error, path) => console.error(`room procedure ${path ?? "?"} failed`, error.cause ?? error),
    });
    void ctx.blockConcurrencyWhile(async () => {
      await migrate(this.#db, migrations);
      this.#log.installTriggers(REPLICATED_TABLES.map((table) => table.name));
      this.#sync = new SyncEngine(ctx.storage.sql, this.#log, env.DB);
      this.#hub = new CommitHub(this.#log, () => this.#sync.retentionFloor());
      // After hibernation the sockets are still open: their users are still here
      // and their clients still subscribed.
      const sockets = ctx.getWebSockets();
      for (const ws of sockets) this.#restoreMemory(ws);
      await Promise.all(sockets.map((ws) => this.#rpc.resume(ws)));
      await this.#alarms.load();
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
      room,
      identity,
      connectionParams,
      tasks: this.#tasks,
      live: { log: this.#log, hub: this.#hub },
      memory: this.#memory,
      debounced: this.#debounced,
      sync: this.#sync,
      replicaAccess: null,
      socket,
      sql: this.#sql,
    };
  }

  #socketContext(ws: WebSocket, attachment: Attachment): RoomContext {
    return this.#context(attachment.room as RoomName, attachment.identity, attachment.connectionParams, {
      remember: (state) => this.#update(ws, state),
    });
  }

  #restoreMemory(ws: WebSocket): void {
    const attachment = readAttachment(ws);
    if (!attachment) return;
    const user = attachment.identity.sub;
    if (attachment.cursor) this.#memory.restore("cursor", user, attachment.cursor.value, attachment.cursor.updatedAt);
    if (attachment.presence) this.#memory.restore("presence", user, attachment.presence.value, attachment.presence.updatedAt);
  }

  /** After any event: announce what it committed and keep the alarm in step. */
  async #settle(): Promise<void> {
    if (this.#hub.publish()) this.#sync.noteCommit();
    await this.#alarms.schedule();
  }

  #update(ws: WebSocket, fields: Partial<Attachment>): void {
    const attachment = readAttachment(ws);
    if (attachment) writeAttachment(ws, { ...attachment, ...fields });
  }

  /** Accepts a WebSocket the Worker has already authenticated (see connect-request.ts). */
  override async fetch(request: Request): Promise<Response> {
    const connect = parseConnectRequest(request);
    if (!connect) return jsonError(400, "BAD_REQUEST", "rooms accept only WebSocket upgrades from the Worker");
    this.#sync.setRoom(connect.room);
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
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
    return new Response(null, { status: 101, webSocket: client });
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
    const { room, identity } = parsed.call;
    try {
      this.#sync.setRoom(room);
    } catch (error) {
      return errorResult(new TRPCError({ code: "BAD_REQUEST", message: (error as Error).message }));
    }
    const answer = await runDirectCall(this.#context(room, identity, null, null), parsed.call, (error, path) =>
      console.error(`room procedure ${path} failed`, error.cause ?? error),
    );
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
    await this.#rpc.message(ws, message);
    // One announcement per event: everything this frame wrote is one commit.
    await this.#settle();
  }

  override async alarm(): Promise<void> {
    await this.#alarms.fire();
    await this.#settle();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.#release(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.#release(ws);
  }

  /**
   * Ends a socket's subscriptions. When it was its user's last socket, the user
   * leaves; when it was the room's last socket, pending debounced values are written.
   */
  async #release(ws: WebSocket): Promise<void> {
    this.#rpc.close(ws);
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
}
