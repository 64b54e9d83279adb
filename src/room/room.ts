/**
 * The Room Durable Object: one room, one SQLite database. A thin shell: it
 * migrates the schema, accepts hibernatable WebSockets and hands their frames
 * to the tRPC adapter with a context built from the socket attachment.
 */
import { DurableObject } from "cloudflare:workers";
import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import migrations from "../../drizzle/migrations.js";
import type { RoomName } from "../lib/room-name";
import { jsonError } from "../lib/json-response";
import type { RoomContext } from "../rpc/context";
import { appRouter } from "../rpc/router";
import { createWsAdapter, type WsAdapter } from "../rpc/ws-adapter";
import { TaskStore } from "../tasks/task-store";
import { ATTACHMENT_VERSION, readAttachment, writeAttachment, type Attachment } from "./attachment";
import { parseConnectRequest } from "./connect-request";

export class Room extends DurableObject<Env> {
  readonly #db: DrizzleSqliteDODatabase<Record<string, never>>;
  readonly #tasks: TaskStore;
  readonly #rpc: WsAdapter;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#db = drizzle(ctx.storage);
    void ctx.blockConcurrencyWhile(async () => {
      await migrate(this.#db, migrations);
    });
    // tRPC keep-alive pings are answered by the runtime without waking the room.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("PING", "PONG"));
    this.#tasks = new TaskStore(this.#db);
    this.#rpc = createWsAdapter({
      router: appRouter,
      session: (ws) => {
        const attachment = readAttachment(ws);
        if (!attachment) return null;
        return {
          context: this.#context(attachment),
          awaitingConnectionParams: attachment.awaitingConnectionParams,
          expiresAt: attachment.identity.expiresAt,
        };
      },
      saveConnectionParams: (ws, connectionParams) => {
        const attachment = readAttachment(ws);
        if (attachment) writeAttachment(ws, { ...attachment, connectionParams, awaitingConnectionParams: false });
      },
      onInternalError: (error, path) => console.error(`room procedure ${path ?? "?"} failed`, error.cause ?? error),
    });
  }

  #context(attachment: Attachment): RoomContext {
    return {
      room: attachment.room as RoomName,
      identity: attachment.identity,
      connectionParams: attachment.connectionParams,
      tasks: this.#tasks,
    };
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
    });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.#rpc.message(ws, message);
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
