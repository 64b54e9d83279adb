/**
 * Which RoomConnection belongs to which room client, and the connection-state
 * reads that need nothing else: the React entry (react.ts) imports this module
 * alone, so a component showing the connection does not pull the whole client
 * (tRPC client, superjson, partysocket) into its bundle a second time.
 */
import type { RoomConnection, RoomConnectionState } from "./room-link";

/** The connection of every client made by createRoomClient. */
export const connections = new WeakMap<object, RoomConnection>();

function connectionOf(client: object, caller: string): RoomConnection {
  const connection = connections.get(client);
  if (!connection) throw new TypeError(`${caller}: not a client made by createRoomClient`);
  return connection;
}

/** A room client's connection state now: connecting / live / reconnecting / closed, reconnects, the last close. */
export function roomConnectionState(client: object): RoomConnectionState {
  return connectionOf(client, "roomConnectionState").state;
}

/**
 * Calls `listener` with every new connection state of a room client (not the
 * current one: read `roomConnectionState` first). Returns the function that stops it.
 *
 * @example
 * const stop = watchRoomConnection(client, (state) => (badge.textContent = state.status));
 */
export function watchRoomConnection(client: object, listener: (state: RoomConnectionState) => void): () => void {
  return connectionOf(client, "watchRoomConnection").watch(listener);
}
