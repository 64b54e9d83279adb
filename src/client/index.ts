/** Public client entry point: the typed room clients (WebSocket, service binding) and the router's types. */
export {
  closeRoomClient,
  createRoomClient,
  reconnectRoomClient,
  roomHttpUrl,
  roomSocketUrl,
  type RoomClient,
  type RoomClientOptions,
  type TokenSource,
} from "./room-client";
export {
  createServiceClient,
  type RoomServiceBinding,
  type ServiceClient,
  type ServiceClientOptions,
  type ServiceIdentity,
} from "./service-client";
export type { AppRouter } from "../rpc/router";
export type { Task, TaskStatus } from "../../schema";
export type { Identity, Role } from "../auth/identity";
