/**
 * The permessage-deflate terms a room accepts its sockets with (RFC 7692), a
 * platform quirk with a memory cost. workerd negotiates compression with any
 * client that offers it (browsers and `ws` do) and, from the first frame sent
 * down a socket, holds that socket's zlib compressor until it closes. With the
 * default 32 KiB window that is ≈ 130 KiB more resident memory per socket than
 * with a 1 KiB window (measured: test/bench/socket-heap.ts --deflate --rss-only),
 * paid by every socket that has been sent anything: a subscribed idle socket
 * cost ≈ 400 KiB against ≈ 250 for one never sent a frame. A 1 KiB window still
 * reaches the previous push of a subscription (most frames are well under it).
 * Used by room.ts when it accepts a socket; the Worker passes the header on.
 */

/** zlib's smallest usable window is 2^9; 2^10 = 1 KiB keeps one typical push in reach. */
export const SERVER_MAX_WINDOW_BITS = 10;

/** The `Sec-WebSocket-Extensions` header of the room's 101 answer: workerd applies it when the client offered deflate. */
export const SOCKET_COMPRESSION = `permessage-deflate; server_max_window_bits=${SERVER_MAX_WINDOW_BITS}`;
