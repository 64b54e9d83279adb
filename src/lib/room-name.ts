/**
 * Room names: the one parse function for a room name arriving from a URL, a
 * token or a service call, and the branded `RoomName` it yields.
 */
import { MAX_ROOM_NAME_CHARS } from "./limits";

declare const roomNameBrand: unique symbol;
/** A validated room name. Only `parseRoomName` makes one. */
export type RoomName = string & { readonly [roomNameBrand]: true };

/**
 * Segments of letters, digits and `._~:@-`, separated by single `/`
 * (so `team-42/board-7` works with `team-42/*` token patterns).
 */
const ROOM_NAME = /^[A-Za-z0-9_~:@-][A-Za-z0-9._~:@-]*(\/[A-Za-z0-9_~:@-][A-Za-z0-9._~:@-]*)*$/;

export type RoomNameResult = { ok: true; room: RoomName } | { ok: false; message: string };

/** Validates a room name; the message says what is wrong with it. */
export function parseRoomName(value: string): RoomNameResult {
  if (value.length === 0) return { ok: false, message: "room name is empty" };
  if (value.length > MAX_ROOM_NAME_CHARS) {
    return { ok: false, message: `room name is ${value.length} characters; the limit is ${MAX_ROOM_NAME_CHARS}` };
  }
  if (!ROOM_NAME.test(value)) {
    return {
      ok: false,
      message:
        "room name may contain letters, digits and . _ ~ : @ - in segments separated by single '/', and a segment may not start with '.'",
    };
  }
  return { ok: true, room: value as RoomName };
}
