/**
 * WebSocket close codes the room uses (4000–4999 is the application range).
 * Public: clients and docs/protocol.md rely on them.
 */
export const CLOSE_CODES = {
  /** RFC 6455 "message too big": a frame exceeded MAX_FRAME_BYTES. */
  frameTooLarge: 1009,
  /** The socket's stored session is unreadable (e.g. written by an older release): reconnect. */
  sessionInvalid: 4000,
  /** The token the socket was opened with has expired: reconnect with a fresh token. */
  tokenExpired: 4001,
  /** The room already holds MAX_SOCKETS_PER_ROOM sockets, or the user MAX_SOCKETS_PER_USER: close one, or retry later. */
  tooManySockets: 4029,
} as const;
