/**
 * React bindings (React 18/19, TanStack Query 5, tRPC's `@trpc/tanstack-react-query`):
 * `useLiveQuery` keeps a query cache entry current from a room's live window,
 * and `optimistic` (src/client/live-query.ts) makes a mutation show at once and
 * reconcile by `seq`. Set up as tRPC documents it, with the room client as the
 * tRPC client:
 *
 * @example
 * const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
 * const trpcClient = createRoomClient<AppRouter>({ url, room, token });
 * <QueryClientProvider client={queryClient}>
 *   <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>…</TRPCProvider>
 * </QueryClientProvider>
 * // in a component:
 * const trpc = useTRPC();
 * const board = useLiveQuery(trpc.tasks.live, { limit: 100 });
 */
import { skipToken, useQuery, useQueryClient, type QueryKey, type SkipToken } from "@tanstack/react-query";
import { useCallback, useEffect, useSyncExternalStore } from "react";
import { liveQuery, type LiveInputOf, type LiveQueryStatus, type LiveRowOf, type LiveWindowProcedure } from "./live-query";
import { roomConnectionState, watchRoomConnection } from "./connections";
import type { RoomConnectionState } from "./room-link";

export {
  LIVE_QUERY_LINGER_MS,
  UNSEEN_COMMIT_GRACE_MS,
  liveQuery,
  optimistic,
  temporaryId,
  type LiveInputOf,
  type LiveQuery,
  type LiveQueryState,
  type LiveQueryStatus,
  type LiveRowOf,
  type LiveWindowProcedure,
  type OptimisticCallbacks,
  type OptimisticChange,
  type OptimisticMutation,
} from "./live-query";

/** What `useLiveQuery` returns. */
export interface LiveQueryResult<Row> {
  /**
   * The window's rows (ordered by id) with pending optimistic changes applied;
   * undefined until the first result. The same array is in the query cache
   * under `queryKey`, so `useQuery`/`getQueryData` readers see it too.
   */
  data: readonly Row[] | undefined;
  status: LiveQueryStatus;
  /** Why the subscription ended ("error"), or why the socket dropped ("reconnecting"); else null. */
  error: unknown;
  /** The seq of the last event from the room, or null. */
  seq: number | null;
  queryKey: QueryKey;
}

const IDLE = { status: "loading", error: null, seq: null } as const;

/**
 * Subscribes to a live window procedure (e.g. `trpc.tasks.live`) while the
 * component is mounted and keeps its rows in the TanStack Query cache.
 * Components using the same procedure and input share one subscription; after
 * a reconnect (or the room's hibernation) the window resumes from its last
 * event, and `status` says "reconnecting" in between. Pass `skipToken` as the
 * input to wait.
 */
export function useLiveQuery<P extends LiveWindowProcedure>(
  procedure: P,
  input: LiveInputOf<P> | SkipToken,
): LiveQueryResult<LiveRowOf<P>> {
  const queryClient = useQueryClient();
  const options = procedure.subscriptionOptions(input as never);
  const query = options.enabled ? liveQuery<LiveRowOf<P>>(queryClient, options) : null;
  useEffect(() => query?.hold(), [query]);
  const state = useSyncExternalStore(query?.listen ?? noListen, query?.getState ?? idleState, query?.getState ?? idleState);
  // Reads the cache entry the live query writes (never fetches: the subscription fills it).
  const cached = useQuery<readonly LiveRowOf<P>[]>({ queryKey: options.queryKey, queryFn: skipToken, staleTime: Infinity });
  return { data: cached.data, status: state.status, error: state.error, seq: state.seq, queryKey: options.queryKey };
}

const noListen = () => () => {};
const idleState = () => IDLE;

/**
 * A room client's connection state (connecting / live / reconnecting / closed,
 * reconnects, the last close), re-rendering on every change. Pass the client
 * of the TRPCProvider (`useTRPCClient()` from your `createTRPCContext`).
 *
 * @example
 * const connection = useRoomConnection(useTRPCClient());
 * return <span role="status">{connection.status === "live" ? "Live" : "Reconnecting…"}</span>;
 */
export function useRoomConnection(client: object): RoomConnectionState {
  const subscribe = useCallback((changed: () => void) => watchRoomConnection(client, changed), [client]);
  const snapshot = () => roomConnectionState(client);
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}

export type { RoomConnectionState };
