/**
 * The Room Durable Object: one room, one SQLite database. A thin shell: it
 * migrates the schema and installs the change-log triggers, accepts
 * hibernatable WebSockets, hands their frames to the WebSocket adapter with a
 * context built from the socket attachment, and announces each commit to live
 * subscriptions. On wake it resumes the subscriptions stored in attachments.
 */
import { DurableObject } from "cloudflare:workers";
import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import migrations from "../../drizzle/migrations.js";
import { REPLICATED_TABLES } from "../../schema/replicated";
import { jsonError } from "../lib/json-response";
import type { RoomName } from "../lib/room-name";
import { ChangeLog } from "../live/change-log";
import { CommitHub } from "../live/commit-hub";
import type { RoomContext } from "../rpc/context";
import { appRouter } from "../rpc/router";
import { createWsAdapter, type WsAdapter } from "../rpc/ws-adapter";
import { ReadOnlySql } from "../sql/read-only-sql";
import { READABLE_TABLES } from "../sql/readable-tables";
import { TaskStore } from "../tasks/task-store";
import { ATTACHMENT_VERSION, readAttachment, writeAttachment, type Attachment } from "./attachment";
import { parseConnectRequest } from "./connect-request";

export class Room extends DurableObject<Env> {
  readonly #db: DrizzleSqliteDODatabase<Record<string, never>>;
  readonly #log: ChangeLog;
  readonly #tasks: TaskStore;
  readonly #sql: ReadOnlySql;
  readonly #rpc: WsAdapter;
  #hub!: CommitHub;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#db = drizzle(ctx.storage);
    this.#log = new ChangeLog(ctx.storage.sql);
    this.#tasks = new TaskStore(this.#db);
    this.#sql = new ReadOnlySql(ctx.storage, { readableTables: READABLE_TABLES });
    // tRPC keep-alive pings are answered by the runtime without waking the room.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("PING", "PONG"));
    this.#rpc = createWsAdapter({
      router: appRouter,
      session: (ws) => {
        const attachment = readAttachment(ws);
        if (!attachment) return null;
        return {
          context: this.#context(attachment),
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
      this.#hub = new CommitHub(this.#log);
      // After hibernation the sockets are still open and their clients still subscribed.
      await Promise.all(ctx.getWebSockets().map((ws) => this.#rpc.resume(ws)));
    });
  }

  #context(attachment: Attachment): RoomContext {
    return {
      room: attachment.room as RoomName,
      identity: attachment.identity,
      connectionParams: attachment.connectionParams,
      tasks: this.#tasks,
      live: { log: this.#log, hub: this.#hub },
      sql: this.#sql,
    };
  }

  #update(ws: WebSocket, fields: Partial<Attachment>): void {
    const attachment = readAttachment(ws);
    if (attachment) writeAttachment(ws, { ...attachment, ...fields });
  }

  /** Accepts a WebSocket the Worker has already authenticated (see connect-request.ts). */
  override async fetch(request: Request): Promise<Response> {
    const connect = parseConnectRequest(request);
    if (!connect) return jsonError(400, "BAD_REQUEST", "rooms accept only WebSocket upgrades from the Worker");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    writeAttachment(server, {
      v: ATTACHMENT_VERSION,
      room: connect.room,
      identity: connect.identity,
      connectionParams: null,
      awaitingConnectionParams: connect.connectionParams,
      connectedAt: Date.now(),
      subs: [],
    });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.#rpc.message(ws, message);
    // One announcement per event: everything this frame wrote is one commit.
    this.#hub.publish();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.#rpc.close(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#rpc.close(ws);
  }
}
