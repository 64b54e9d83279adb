/**
 * Public client entry point: the typed room clients (WebSocket, service binding),
 * generic over an app's router type (import `AppRouter` from your app as a type).
 */
export {
  closeRoomClient,
  createRoomClient,
  reconnectRoomClient,
  roomHttpUrl,
  roomSocketUrl,
  roomTicketUrl,
  roomConnectionState,
  watchRoomConnection,
  type RoomClient,
  type RoomClientOptions,
  type TokenSource,
} from "./room-client";
export type { ConnectionClose, RoomConnectionState } from "./room-link";
export {
  createServiceClient,
  type RoomServiceBinding,
  type ServiceClient,
  type ServiceClientOptions,
  type ServiceIdentity,
} from "./service-client";
export type { Identity, Role } from "../protocol/identity";
export {
  LiveWindowRows,
  watchWindow,
  type WatchedWindow,
  type WatchWindowOptions,
  type WindowChange,
  type WindowEvent,
  type WindowRowOf,
  type WindowStatus,
  type WindowSubscribable,
} from "./live-window";
