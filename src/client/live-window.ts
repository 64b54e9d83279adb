/**
 * The client side of incremental live queries: applies a live window's events
 * (a snapshot, then diffs; src/protocol/live-events.ts) to a materialized,
 * typed array ordered by id, and says when it had to reload. `watchWindow`
 * subscribes through any typed tRPC client (createRoomClient or the stock
 * one); resuming after a reconnect or the room's hibernation is the link's
 * `lastEventId`, and the room answers it with a diff when its log allows.
 */
import type { WindowEvent } from "../protocol/live-events";

export type { WindowEvent };

/**
 * How long a client waits for a live window to show a commit it knows of (ms)
 * before giving up on seeing it: a commit that changes nothing inside the
 * window (a row that does not match its filters, or lands past its `limit`)
 * is never pushed, since the room pushes only windows that changed. Optimistic
 * changes (src/client/live-query.ts, src/client/tanstack-db.ts) are dropped
 * this long after their mutation's answer when no push reflects it; a push
 * normally follows the answer within milliseconds, on the same socket.
 */
export const UNSEEN_COMMIT_GRACE_MS = 2_000;

let lastTemporaryId = 0;

/**
 * A placeholder id for a row inserted optimistically: negative and unique in
 * this page, so it never equals an id the room assigns. The room's row (with
 * its real id) replaces it when the push carrying the insert arrives.
 */
export function temporaryId(): number {
  lastTemporaryId -= 1;
  return lastTemporaryId;
}

/** Why the rows changed: a diff applied, or a full result that replaced them (`reloaded` names why). */
export interface WindowChange {
  seq: number;
  kind: "snapshot" | "diff";
  /** Set when a full result replaced rows the client already had (the room could not send a diff). */
  reloaded?: string;
}

/** A materialized live window: apply each event, read `rows`. */
export class LiveWindowRows<Row extends { id: number }> {
  #rows: Row[] = [];
  #seq: number | null = null;

  /** The window now, ordered by ascending id. */
  get rows(): readonly Row[] {
    return this.#rows;
  }

  /** The seq of the last event applied (null before the first). */
  get seq(): number | null {
    return this.#seq;
  }

  /**
   * Applies one event. Throws when a resume diff names a row this client does
   * not hold (it cannot happen with a room's own events; resubscribe without
   * `lastEventId` to reload).
   */
  apply(event: WindowEvent<Row>): WindowChange {
    const first = this.#seq === null;
    this.#seq = event.seq;
    if (event.type === "snapshot") {
      this.#rows = [...event.rows];
      return {
        seq: event.seq,
        kind: "snapshot",
        ...(first ? {} : { reloaded: event.reason ?? "the room sent the whole window again" }),
      };
    }
    const byId = new Map(this.#rows.map((row) => [row.id, row]));
    for (const id of event.removes) byId.delete(id);
    for (const row of event.upserts) byId.set(row.id, row);
    if (event.ids) {
      this.#rows = event.ids.map((id) => {
        const row = byId.get(id);
        if (!row) throw new Error(`live window: row ${id} of the resumed window is not held here; resubscribe without lastEventId`);
        return row;
      });
    } else {
      this.#rows = [...byId.values()].sort((a, b) => a.id - b.id);
    }
    return { seq: event.seq, kind: "diff" };
  }
}

/** The subscribe call of a live window procedure, e.g. `client.tasks.live` of any typed tRPC client. */
export interface WindowSubscribable {
  subscribe(
    input: never,
    options: Partial<{
      onData(event: never): void;
      onError(error: never): void;
    }>,
  ): { unsubscribe(): void };
}

/**
 * The row type of a live window procedure, from the events it yields (tRPC's
 * `subscribe` is overloaded; its last form, without callbacks, returns them as
 * an async iterable).
 */
export type WindowRowOf<P> = P extends { subscribe(...args: never[]): AsyncIterable<infer E> }
  ? E extends { data: WindowEvent<infer Row> }
    ? Row extends { id: number }
      ? Row
      : never
    : never
  : never;

export interface WatchWindowOptions<Row> {
  /** Called after every event that changed the rows (a snapshot, or a diff). */
  onRows(rows: readonly Row[], change: WindowChange): void;
  onError?(error: unknown): void;
  /** Called when the status changes (e.g. "live" → "reconnecting" while the socket is down, and back). */
  onStatus?(status: WindowStatus): void;
}

/**
 * "loading" until the first result, then "live"; "reconnecting" while the
 * socket is down after a result (the rows are kept and the window resumes from
 * its last event). With the stock wsLink or createRoomClient.
 */
export type WindowStatus = "loading" | "live" | "reconnecting";

/** A live window being watched: its rows and state now, and how to stop. */
export interface WatchedWindow<Row> {
  readonly rows: readonly Row[];
  readonly status: WindowStatus;
  unsubscribe(): void;
}

/** What `subscribeWindow` calls: each event, the error that ended it, the connection's state. */
export interface WindowHandlers<Row> {
  onData(event: WindowEvent<Row>): void;
  onError(error: unknown): void;
  /** "connecting": the socket dropped; "pending": it is back (the resume diff follows). */
  onConnectionStateChange?(state: { state: string }): void;
}

/**
 * Subscribes to a live window procedure of any typed tRPC client with its
 * events typed as `WindowEvent<Row>` (tRPC's `subscribe` is overloaded, so the
 * procedure's own signature cannot be called generically).
 */
export function subscribeWindow<Row>(
  procedure: WindowSubscribable,
  input: unknown,
  handlers: WindowHandlers<Row>,
): { unsubscribe(): void } {
  // Called as a method: a tRPC client's procedures are proxies that read the call's path from it.
  const typed = procedure as unknown as {
    subscribe(
      input: unknown,
      options: {
        onData(event: { data: WindowEvent<Row> }): void;
        onError(error: unknown): void;
        onConnectionStateChange(state: { state: string }): void;
      },
    ): { unsubscribe(): void };
  };
  return typed.subscribe(input, {
    onData: ({ data }) => handlers.onData(data),
    onError: (error) => handlers.onError(error),
    onConnectionStateChange: (state) => handlers.onConnectionStateChange?.(state),
  });
}

/**
 * Keeps a materialized array of a live window current.
 *
 * @example
 * const board = watchWindow(client.tasks.live, { status: "pending" }, { onRows: (rows) => render(rows) });
 * board.unsubscribe();
 */
export function watchWindow<P extends WindowSubscribable>(
  procedure: P,
  input: Parameters<P["subscribe"]>[0],
  options: WatchWindowOptions<WindowRowOf<P>>,
): WatchedWindow<WindowRowOf<P>> {
  type Row = WindowRowOf<P>;
  const window = new LiveWindowRows<Row>();
  let status: WindowStatus = "loading";
  const setStatus = (next: WindowStatus) => {
    if (next === status) return;
    status = next;
    options.onStatus?.(next);
  };
  const subscription = subscribeWindow<Row>(procedure, input, {
    onData: (data) => {
      let change: WindowChange;
      try {
        change = window.apply(data);
      } catch (error) {
        options.onError?.(error);
        return;
      }
      setStatus("live");
      options.onRows(window.rows, change);
    },
    onError: (error) => options.onError?.(error),
    // "connecting": the socket dropped; "pending": it is back (the resume diff follows).
    onConnectionStateChange: ({ state }) => {
      if (state === "connecting" && status === "live") setStatus("reconnecting");
      else if (state === "pending" && status === "reconnecting") setStatus("live");
    },
  });
  return {
    get rows() {
      return window.rows;
    },
    get status() {
      return status;
    },
    unsubscribe: () => subscription.unsubscribe(),
  };
}
