/** Public client entry point: the typed room client and the router's types. */
export {
  closeRoomClient,
  createRoomClient,
  reconnectRoomClient,
  roomSocketUrl,
  type RoomClient,
  type RoomClientOptions,
  type TokenSource,
} from "./room-client";
export type { AppRouter } from "../rpc/router";
export type { Task, TaskStatus } from "../../schema";
export type { Identity, Role } from "../auth/identity";
