/**
 * A TanStack DB collection over one live window of a room (`client.tasks.live`
 * and the like): the window's rows synced in (a snapshot, then diffs), and
 * writes sent through the room's procedures with optimistic state. A separate
 * client entry point, so the main one (src/client/index.ts) never loads
 * @tanstack/db. Written against @tanstack/db 0.15 (pre-1.0).
 */
import type { CollectionConfig, PendingMutation, SyncConfig, TransactionWithMutations } from "@tanstack/db";
import {
  subscribeWindow,
  temporaryId,
  UNSEEN_COMMIT_GRACE_MS,
  type WindowEvent,
  type WindowRowOf,
  type WindowSubscribable,
} from "./live-window";

export { temporaryId, UNSEEN_COMMIT_GRACE_MS };

/** What a mutation procedure answers: at least the change-log seq of its commit (`committed()` on the server). */
export interface CommittedWrite {
  seq: number;
}

/** An update as TanStack DB records it: the row's id, the changed fields, the row before and after. */
export interface RowUpdate<Row> {
  id: number;
  changes: Partial<Row>;
  original: Row;
  modified: Row;
}

/** How the collection's writes reach the room: one procedure call per changed row, each answering its seq. */
export interface RoomCollectionMutations<Row> {
  /** The row as inserted (its `id` is a placeholder such as `temporaryId()`: the room assigns the real one). */
  insert?: (row: Row) => Promise<CommittedWrite>;
  update?: (update: RowUpdate<Row>) => Promise<CommittedWrite>;
  delete?: (row: Row) => Promise<CommittedWrite>;
}

export interface RoomCollectionOptions<P extends WindowSubscribable> {
  /** The collection's id in TanStack DB (its default is random). */
  id?: string;
  /** The live window procedure, e.g. `client.tasks.live`. */
  live: P;
  /** Its input, e.g. `{ status: "pending", limit: 500 }`. */
  input: Parameters<P["subscribe"]>[0];
  mutations?: RoomCollectionMutations<WindowRowOf<P>>;
  /** Errors of the subscription. Before the first result they also fail the collection (`markError`). */
  onError?: (error: unknown) => void;
  /** Overrides UNSEEN_COMMIT_GRACE_MS. */
  unseenCommitGraceMs?: number;
}

export interface RoomCollectionUtils {
  /** Resolves once the window has shown commit `seq` (or after the grace): await it in your own `mutationFn`s. */
  awaitSeq(seq: number): Promise<void>;
  [key: string]: unknown;
}

/** Options for `createCollection`, typed by the window's rows and keyed by their numeric id. */
export type RoomCollectionConfig<Row extends object> = CollectionConfig<Row, number, never, RoomCollectionUtils> & {
  utils: RoomCollectionUtils;
};

/** The seq the running window has reached, and the writes waiting for it. */
class SeqWaiters {
  seq = 0;
  #waiting = new Set<{ seq: number; done: () => void }>();

  constructor(readonly graceMs: number) {}

  wait(seq: number): Promise<void> {
    if (this.seq >= seq) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        seq,
        done: () => {
          clearTimeout(timer);
          this.#waiting.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.done, this.graceMs);
      this.#waiting.add(waiter);
    });
  }

  reached(seq: number): void {
    this.seq = Math.max(this.seq, seq);
    for (const waiter of [...this.#waiting]) if (waiter.seq <= this.seq) waiter.done();
  }

  close(): void {
    for (const waiter of [...this.#waiting]) waiter.done();
  }
}

/**
 * Options for TanStack DB's `createCollection` over one live window of a room:
 * the collection holds exactly the window's rows (at most its `limit`),
 * keyed by `id`. Writes are optimistic; each handler resolves once the
 * window shows the write's commit (seq ≥ the answer's seq, or after
 * UNSEEN_COMMIT_GRACE_MS), so the optimistic row gives way to the room's row
 * in one step. A refused write rejects its transaction and rolls it back.
 * One collection per call (the options hold the running window's seq).
 *
 * @example
 * const tasks = createCollection(roomCollectionOptions({
 *   id: "tasks",
 *   live: client.tasks.live,
 *   input: { limit: 500 },
 *   mutations: {
 *     insert: (row) => client.tasks.create.mutate({ title: row.title, status: row.status }),
 *     update: ({ id, changes }) => client.tasks.update.mutate({ id, title: changes.title, status: changes.status }),
 *     delete: (row) => client.tasks.delete.mutate({ id: row.id }),
 *   },
 * }));
 * tasks.insert({ ...draft, id: temporaryId() });
 */
export function roomCollectionOptions<P extends WindowSubscribable>(
  options: RoomCollectionOptions<P>,
): RoomCollectionConfig<WindowRowOf<P>> {
  type Row = WindowRowOf<P>;
  // WindowRowOf only ever yields rows with a numeric id; TypeScript cannot see that through the conditional type.
  const idOf = (row: Row) => (row as { id: number }).id;
  const graceMs = options.unseenCommitGraceMs ?? UNSEEN_COMMIT_GRACE_MS;
  let running: SeqWaiters | null = null;
  const awaitSeq = (seq: number) => running?.wait(seq) ?? Promise.resolve();

  const sync: SyncConfig<Row, number>["sync"] = ({ begin, write, commit, markReady, markError, truncate }) => {
    const waiters = new SeqWaiters(graceMs);
    running = waiters;
    /** The ids of the rows this run has written (the window as last synced). */
    const held = new Set<number>();
    let ready = false;
    const upsert = (row: Row) => {
      write({ type: held.has(idOf(row)) ? "update" : "insert", value: row });
      held.add(idOf(row));
    };
    const remove = (id: number) => {
      if (held.delete(id)) write({ type: "delete", key: id });
    };

    const apply = (event: WindowEvent<Row>) => {
      begin();
      if (event.type === "snapshot") {
        // A later snapshot (the room could not send a diff) replaces every row.
        if (ready) truncate();
        held.clear();
        for (const row of event.rows) upsert(row);
      } else {
        for (const id of event.removes) remove(id);
        for (const row of event.upserts) upsert(row);
        if (event.ids) {
          // A resumed window: keep exactly these rows.
          const keep = new Set(event.ids);
          for (const id of [...held]) if (!keep.has(id)) remove(id);
        }
      }
      // A receipt: the rows show later while one of our writes is persisting; a cleanup may abandon them (harmless).
      const visible = commit();
      if (visible !== true) visible.catch(() => undefined);
      if (!ready) {
        ready = true;
        markReady();
      }
      waiters.reached(event.seq);
      if (event.type === "diff" && event.ids?.some((id) => !held.has(id))) {
        options.onError?.(new Error("live window: the resumed window names a row this collection does not hold; recreate the collection"));
      }
    };

    const subscription = subscribeWindow<Row>(options.live, options.input, {
      onData: apply,
      onError: (error) => {
        if (!ready) markError(error);
        options.onError?.(error);
      },
    });
    return () => {
      subscription.unsubscribe();
      waiters.close();
      if (running === waiters) running = null;
    };
  };

  /** Sends each mutation of the transaction in order, then waits until the window shows the last commit. */
  const persist =
    <Op extends "insert" | "update" | "delete">(send: (mutation: PendingMutation<Row, Op>) => Promise<CommittedWrite>) =>
    async ({ transaction }: { transaction: TransactionWithMutations<Row, Op> }): Promise<void> => {
      let seq = 0;
      for (const mutation of transaction.mutations) seq = Math.max(seq, (await send(mutation)).seq);
      await awaitSeq(seq);
    };

  const { insert, update, delete: remove } = options.mutations ?? {};
  return {
    ...(options.id === undefined ? {} : { id: options.id }),
    getKey: idOf,
    sync: { sync, rowUpdateMode: "full" },
    ...(insert ? { onInsert: persist<"insert">((mutation) => insert(mutation.modified)) } : {}),
    ...(update
      ? {
          onUpdate: persist<"update">((mutation) =>
            update({ id: mutation.key as number, changes: mutation.changes, original: mutation.original, modified: mutation.modified }),
          ),
        }
      : {}),
    ...(remove ? { onDelete: persist<"delete">((mutation) => remove(mutation.original)) } : {}),
    utils: { awaitSeq },
  };
}
