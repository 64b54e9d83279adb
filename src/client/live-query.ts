/**
 * Live windows in a TanStack Query cache, without React: one subscription per
 * (QueryClient, procedure, input) however many readers hold it, the window's
 * rows kept in the cache entry under tRPC's key for that subscription, and
 * optimistic changes laid over them until the room's push carrying their
 * mutation's `seq` arrives. src/client/react.ts builds the hooks on it; any
 * framework with a QueryClient can use it directly.
 */
import { hashKey, type MutationFunctionContext, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { LiveWindowRows, temporaryId, UNSEEN_COMMIT_GRACE_MS, type WindowEvent, type WindowRowOf } from "./live-window";

export { temporaryId, UNSEEN_COMMIT_GRACE_MS };

/**
 * "loading" until the first result; "live"; "reconnecting" while the socket is
 * down after a result (rows kept, the window resumes from its last event);
 * "error" when the room ended the subscription (e.g. FORBIDDEN, TOO_MANY_REQUESTS).
 */
export type LiveQueryStatus = "loading" | "live" | "reconnecting" | "error";

/** A live query's state apart from its rows (which are in the query cache). */
export interface LiveQueryState {
  status: LiveQueryStatus;
  /** Why the subscription ended (status "error"), or why the socket dropped (status "reconnecting"); else null. */
  error: unknown;
  /** The seq of the last event from the room (null before the first). */
  seq: number | null;
}

/** The callbacks tRPC's `subscriptionOptions(…).subscribe` takes (the ones used here). */
interface SubscribeCallbacks<Row> {
  onData(event: { data: WindowEvent<Row> } | WindowEvent<Row>): void;
  onError(error: unknown): void;
  onConnectionStateChange(state: { state: "idle" | "connecting" | "pending"; error: unknown }): void;
}

/**
 * What `trpc.tasks.live.subscriptionOptions(input)` returns (tRPC's TanStack
 * Query integration), narrowed to what a live query needs.
 */
export interface LiveSubscriptionOptions {
  queryKey: QueryKey;
  enabled: boolean;
  subscribe(callbacks: never): { unsubscribe(): void };
}

/** A live window procedure of a tRPC options proxy, e.g. `trpc.tasks.live` from `useTRPC()` or `createTRPCOptionsProxy`. */
export interface LiveWindowProcedure {
  subscriptionOptions(input: never, options?: never): LiveSubscriptionOptions;
}

/** The input type of a live window procedure of an options proxy. */
export type LiveInputOf<P extends LiveWindowProcedure> = Parameters<P["subscriptionOptions"]>[0];

/**
 * The row type of a live window procedure of an options proxy: tRPC types its
 * subscription options' `onData` with the events the procedure yields.
 */
export type LiveRowOf<P extends LiveWindowProcedure> =
  ReturnType<P["subscriptionOptions"]> extends { onData?: (event: infer E) => void }
    ? E extends { data: WindowEvent<infer Row> }
      ? Row extends { id: number }
        ? Row
        : never
      : E extends WindowEvent<infer Row>
        ? Row extends { id: number }
          ? Row
          : never
        : never
    : never;

export type { WindowRowOf };

/**
 * How long a live query keeps its subscription after its last reader let go
 * (ms): a component that unmounts and mounts again (React's StrictMode, a
 * route change back) keeps the same subscription instead of a new snapshot.
 */
export const LIVE_QUERY_LINGER_MS = 1_000;

/** One optimistic change over a live query's rows. */
interface Overlay<Row> {
  apply(rows: readonly Row[]): readonly Row[];
  /** The mutation's seq, once its answer arrived. */
  seq: number | null;
  timer?: ReturnType<typeof setTimeout>;
}

/** An optimistic change in place: settle it with the mutation's seq, or drop it when the mutation failed. */
export interface OptimisticChange {
  settle(seq: number): void;
  drop(): void;
}

/** One live query of one QueryClient: its subscription, server rows, optimistic changes and readers. */
export class LiveQuery<Row extends { id: number }> {
  readonly queryKey: QueryKey;
  #options: LiveSubscriptionOptions;
  #readers = 0;
  #subscription: { unsubscribe(): void } | null = null;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #window = new LiveWindowRows<Row>();
  #overlays: Overlay<Row>[] = [];
  #state: LiveQueryState = { status: "loading", error: null, seq: null };
  #listeners = new Set<() => void>();

  constructor(
    private readonly queryClient: QueryClient,
    options: LiveSubscriptionOptions,
    private readonly forget: (query: LiveQuery<Row>) => void,
  ) {
    this.queryKey = options.queryKey;
    this.#options = options;
  }

  /** The state now (a new object after every change, for `useSyncExternalStore`). */
  readonly getState = (): LiveQueryState => this.#state;

  /** Calls `listener` after every state change; returns the function that stops it. */
  readonly listen = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** The rows as readers see them: the room's, with every optimistic change still pending laid over them. */
  get rows(): readonly Row[] {
    return this.#overlays.reduce((rows, overlay) => overlay.apply(rows), this.#window.rows);
  }

  /** Adds a reader; the first starts the subscription. Returns the function that lets go. */
  hold(): () => void {
    this.#readers += 1;
    clearTimeout(this.#linger);
    this.#linger = undefined;
    if (!this.#subscription) this.#start();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#readers -= 1;
      if (this.#readers === 0) this.#linger = setTimeout(() => this.#stop(), LIVE_QUERY_LINGER_MS);
    };
  }

  /** Lays `apply` over the rows now; the change stays until its mutation settles it or drops it. */
  change(apply: (rows: readonly Row[]) => readonly Row[]): OptimisticChange {
    const overlay: Overlay<Row> = { apply, seq: null };
    this.#overlays.push(overlay);
    this.#publish();
    const remove = () => {
      clearTimeout(overlay.timer);
      const index = this.#overlays.indexOf(overlay);
      if (index === -1) return;
      this.#overlays.splice(index, 1);
      this.#publish();
    };
    return {
      settle: (seq) => {
        const seen = this.#window.seq;
        if (seen !== null && seen >= seq) return remove();
        overlay.seq = seq;
        overlay.timer = setTimeout(remove, UNSEEN_COMMIT_GRACE_MS);
      },
      drop: remove,
    };
  }

  #start(): void {
    this.#setState({ status: this.#window.seq === null ? "loading" : "reconnecting", error: null });
    const callbacks: SubscribeCallbacks<Row> = {
      onData: (event) => this.#receive("data" in event ? event.data : event),
      onError: (error) => {
        this.#subscription = null;
        this.#setState({ status: "error", error });
      },
      onConnectionStateChange: ({ state, error }) => {
        if (state === "connecting" && this.#state.status === "live") this.#setState({ status: "reconnecting", error });
        else if (state === "pending" && this.#state.status === "reconnecting") this.#setState({ status: "live", error: null });
      },
    };
    this.#subscription = this.#options.subscribe(callbacks as never);
  }

  #stop(): void {
    this.#linger = undefined;
    this.#subscription?.unsubscribe();
    this.#subscription = null;
    // Optimistic changes still pending settle by their timers; the cache entry stays for its gcTime.
    this.forget(this);
  }

  #receive(event: WindowEvent<Row>): void {
    try {
      this.#window.apply(event);
    } catch (error) {
      // A resume the client cannot follow: start again from a snapshot.
      this.#subscription?.unsubscribe();
      this.#window = new LiveWindowRows<Row>();
      this.#setState({ status: "loading", error });
      this.#start();
      return;
    }
    // Changes whose mutation this event already reflects leave in the same update: no flicker.
    this.#overlays = this.#overlays.filter((overlay) => {
      if (overlay.seq === null || overlay.seq > event.seq) return true;
      clearTimeout(overlay.timer);
      return false;
    });
    this.#setState({ status: "live", error: null, seq: event.seq });
    this.#publish();
  }

  #publish(): void {
    this.queryClient.setQueryData(this.queryKey, this.rows);
  }

  #setState(change: Partial<LiveQueryState>): void {
    const next = { ...this.#state, ...change };
    if (next.status === this.#state.status && next.error === this.#state.error && next.seq === this.#state.seq) return;
    this.#state = next;
    for (const listener of this.#listeners) listener();
  }
}

/** The live queries of each QueryClient, by hashed query key. */
const registries = new WeakMap<QueryClient, Map<string, LiveQuery<{ id: number }>>>();

/**
 * The live query of `options` (from `trpc.x.live.subscriptionOptions(input)`)
 * in `queryClient`: the one already there for the same key, or a new one (not
 * yet subscribed: call `hold()`).
 */
export function liveQuery<Row extends { id: number }>(queryClient: QueryClient, options: LiveSubscriptionOptions): LiveQuery<Row> {
  let registry = registries.get(queryClient);
  if (!registry) registries.set(queryClient, (registry = new Map()));
  const hash = hashKey(options.queryKey);
  let query = registry.get(hash) as LiveQuery<Row> | undefined;
  if (!query) {
    query = new LiveQuery<Row>(queryClient, options, (done) => {
      if ((registry.get(hash) as unknown) === done) registry.delete(hash);
    });
    registry.set(hash, query as unknown as LiveQuery<{ id: number }>);
  }
  return query;
}

/** The live query of `options` in `queryClient` if one exists (nobody reads a window that has none). */
function existingLiveQuery<Row extends { id: number }>(queryClient: QueryClient, queryKey: QueryKey): LiveQuery<Row> | undefined {
  return registries.get(queryClient)?.get(hashKey(queryKey)) as LiveQuery<Row> | undefined;
}

/** What `apply` learns about the mutation it shows, the same on every call for one mutation. */
export interface OptimisticMutation {
  /** A negative id for a row this mutation inserts, stable while the change is shown (see `temporaryId`). */
  temporaryId: number;
}

/** What `optimistic()` returns: mutation callbacks to spread into (or pass as) `mutationOptions`. */
export interface OptimisticCallbacks<TVariables, TData extends { seq: number }> {
  onMutate: (variables: TVariables, context: MutationFunctionContext) => { change: OptimisticChange } | undefined;
  onSuccess: (data: TData, variables: TVariables, onMutateResult: { change: OptimisticChange } | undefined) => void;
  onError: (error: unknown, variables: TVariables, onMutateResult: { change: OptimisticChange } | undefined) => void;
}

/**
 * Optimistic updates of a live query, reconciled by `seq`: `apply` changes the
 * rows at once (every reader of that live query sees it); the change is dropped
 * when the room's push carrying the mutation's seq (or a later one) arrives —
 * in the same update that brings the room's rows, so nothing flickers back —
 * and rolled back when the room refuses the mutation (the mutation's `error`
 * says why). The mutation must answer a `seq` (the room's `committed()` does).
 * `apply` runs again over the room's newer rows after every push while the
 * change is shown (other people's changes stay visible under it), so it must
 * be pure: a row it inserts takes `mutation.temporaryId`, the same each time.
 *
 * @example
 * const rename = useMutation(trpc.tasks.update.mutationOptions(
 *   optimistic(trpc.tasks.live, { limit: 100 }, (rows, input) =>
 *     rows.map((row) => (row.id === input.id ? { ...row, title: input.title ?? row.title } : row))),
 * ));
 * const create = useMutation(trpc.tasks.create.mutationOptions(
 *   optimistic(trpc.tasks.live, { limit: 100 }, (rows, input, { temporaryId }) => [...rows, draftTask(temporaryId, input)]),
 * ));
 */
export function optimistic<P extends LiveWindowProcedure, TVariables, TData extends { seq: number }>(
  procedure: P,
  input: LiveInputOf<P>,
  apply: (rows: readonly LiveRowOf<P>[], variables: TVariables, mutation: OptimisticMutation) => readonly LiveRowOf<P>[],
): OptimisticCallbacks<TVariables, TData> {
  const queryKey = procedure.subscriptionOptions(input).queryKey;
  return {
    onMutate(variables, context) {
      const query = existingLiveQuery<LiveRowOf<P>>(context.client, queryKey);
      if (!query) return undefined;
      // Laid over the room's rows again after every push until it settles: the same mutation, the same id.
      const mutation: OptimisticMutation = { temporaryId: temporaryId() };
      return { change: query.change((rows) => apply(rows, variables, mutation)) };
    },
    onSuccess(data, _variables, onMutateResult) {
      onMutateResult?.change.settle(data.seq);
    },
    onError(_error, _variables, onMutateResult) {
      onMutateResult?.change.drop();
    },
  };
}
