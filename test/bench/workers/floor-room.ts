/**
 * The benchmark floor: the least a room can do for a frame. A SQLite Durable
 * Object on the Hibernation API, one text frame in, one text frame out
 * (broadcast: out to every other socket):
 *
 *   echo:<n>        → the same text (transport only)
 *   insert:<n>      → INSERT one task row, reply with its id (what tasks.create stores)
 *   insert-row:<n>  → INSERT … RETURNING *, reply with the row as JSON (the product's
 *                     reply shape without tRPC, zod, superjson or Drizzle)
 *   get:<id>        → SELECT the row by id, reply with it as JSON (or "null")
 *   insert-batch:<k> → K inserts in one event (one storage commit), reply with the last id
 *   broadcast:<text> → <text> to every other socket of the room (nothing back to the sender)
 *   insert-logged:<n> → insert-row, plus the SQLite work the product's live data
 *                     adds to a write (src/live): an AFTER INSERT trigger logging
 *                     the row to `_changes`, the seq read that stamps the result,
 *                     and the head + tables-changed reads of the commit announcement
 *
 * Served by baseline-worker.ts; local benchmarking only (test/bench/run.ts), never deployed.
 */
import { DurableObject } from "cloudflare:workers";
import type { BaselineEnv } from "./baseline-worker";

/** At most this many rows per insert-batch frame (one event, one commit). */
const MAX_BATCH_ROWS = 1_000;

/** The `tasks` table and indexes of drizzle/0000_init.sql, idempotent. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  title text NOT NULL,
  description text DEFAULT '' NOT NULL,
  status text DEFAULT 'pending' NOT NULL,
  priority integer DEFAULT 0 NOT NULL,
  assignee text,
  position integer DEFAULT 0 NOT NULL,
  created_by text NOT NULL,
  created_at integer NOT NULL,
  updated_at integer NOT NULL,
  completed_at integer
);
CREATE INDEX IF NOT EXISTS tasks_status_idx ON tasks (status, id);
CREATE INDEX IF NOT EXISTS tasks_updated_idx ON tasks (updated_at, id);
`;

/**
 * A copy of `tasks` with the product's change log (drizzle/0001_change_log.sql
 * and the trigger src/live/change-log.ts installs), kept apart so `insert:`
 * stays the plain floor.
 */
const LOGGED_SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks_logged (
  id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  title text NOT NULL,
  description text DEFAULT '' NOT NULL,
  status text DEFAULT 'pending' NOT NULL,
  priority integer DEFAULT 0 NOT NULL,
  assignee text,
  position integer DEFAULT 0 NOT NULL,
  created_by text NOT NULL,
  created_at integer NOT NULL,
  updated_at integer NOT NULL,
  completed_at integer
);
CREATE INDEX IF NOT EXISTS tasks_logged_status_idx ON tasks_logged (status, id);
CREATE INDEX IF NOT EXISTS tasks_logged_updated_idx ON tasks_logged (updated_at, id);
CREATE TABLE IF NOT EXISTS _changes (
  seq integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  tbl text NOT NULL,
  op text NOT NULL,
  pk integer NOT NULL,
  at integer NOT NULL
);
CREATE TRIGGER IF NOT EXISTS _changes_tasks_logged_insert AFTER INSERT ON tasks_logged BEGIN
  INSERT INTO _changes (tbl, op, pk, at) VALUES ('tasks', 'insert', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
`;

const HEAD = "SELECT seq FROM sqlite_sequence WHERE name = '_changes'";

const INSERT =
  "INSERT INTO tasks (title, description, status, priority, position, created_by, created_at, updated_at) VALUES (?, '', 'pending', 0, 0, ?, ?, ?)";

export class FloorRoom extends DurableObject<BaselineEnv> {
  /** The last change-log seq announced (the product's CommitHub.published). */
  #published = 0;

  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    // Synchronous: no other event can run before the constructor returns.
    ctx.storage.sql.exec(SCHEMA);
    ctx.storage.sql.exec(LOGGED_SCHEMA);
    this.#published = this.#head();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("PING", "PONG"));
  }

  #head(): number {
    return this.ctx.storage.sql.exec<{ seq: number }>(HEAD).toArray()[0]?.seq ?? 0;
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("WebSocket upgrade required", { status: 426 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") {
      ws.send("error:binary frames are not supported");
      return;
    }
    const colon = message.indexOf(":");
    const op = colon < 0 ? message : message.slice(0, colon);
    const arg = colon < 0 ? "" : message.slice(colon + 1);
    const sql = this.ctx.storage.sql;
    switch (op) {
      case "echo":
        ws.send(message);
        return;
      case "insert": {
        const now = Date.now();
        const row = sql.exec<{ id: number }>(`${INSERT} RETURNING id`, `task ${arg}`, "bench", now, now).one();
        ws.send(String(row.id));
        return;
      }
      case "insert-row": {
        const now = Date.now();
        const row = sql.exec(`${INSERT} RETURNING *`, `task ${arg}`, "bench", now, now).one();
        ws.send(JSON.stringify(row));
        return;
      }
      case "insert-logged": {
        const now = Date.now();
        const row = sql.exec(`${INSERT.replace("INTO tasks ", "INTO tasks_logged ")} RETURNING *`, `task ${arg}`, "bench", now, now).one();
        ws.send(JSON.stringify({ ...row, seq: this.#head() }));
        // What the product's room does after every event (CommitHub.publish).
        const head = this.#head();
        if (head !== this.#published) {
          sql.exec("SELECT DISTINCT tbl FROM _changes WHERE seq > ? AND seq <= ?", this.#published, head).toArray();
          this.#published = head;
        }
        return;
      }
      case "insert-batch": {
        const count = Math.min(MAX_BATCH_ROWS, Math.max(1, Number(arg) || 1));
        const now = Date.now();
        let id = 0;
        for (let i = 0; i < count; i++) id = sql.exec<{ id: number }>(`${INSERT} RETURNING id`, `task ${i}`, "bench", now, now).one().id;
        ws.send(String(id));
        return;
      }
      case "broadcast":
        for (const other of this.ctx.getWebSockets()) {
          if (other !== ws) other.send(arg);
        }
        return;
      case "get": {
        const rows = sql.exec("SELECT * FROM tasks WHERE id = ?", Number(arg)).toArray();
        ws.send(JSON.stringify(rows[0] ?? null));
        return;
      }
      default:
        ws.send(`error:unknown op "${op}"`);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }
}
