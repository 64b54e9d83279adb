/**
 * The wire contract's limits, shared by the room and every client: frames,
 * batches, subscriptions, call sizes, and read-only SQL text and results. A
 * client that stays inside them is never refused for size. Public: the README's
 * limits table lists these.
 */

/** Largest WebSocket text frame the room parses (1 MiB). Larger frames close the socket with CLOSE_CODES.frameTooLarge. */
export const MAX_FRAME_BYTES = 1_048_576;

/** Most requests in one batched frame; keeps one event's commit and CPU bounded. */
export const MAX_BATCH_SIZE = 100;

/**
 * Most concurrent subscriptions per socket. Each is stored in the socket's
 * 16 KiB attachment (so it survives hibernation): 16 × (id + path + 512-byte input) fits.
 */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 16;

/**
 * Most subscriptions one user (token `sub`) holds in one room, over all their
 * sockets: one reader cannot multiply the room's live work by opening sockets.
 */
export const MAX_SUBSCRIPTIONS_PER_USER = 64;

/**
 * Largest subscription event the room sends (4 MiB, encoded): a live query whose
 * result outgrows it ends with PAYLOAD_TOO_LARGE instead of pushing it; narrow
 * its input (e.g. a smaller `limit`).
 */
export const MAX_PUSH_BYTES = 4 * 1024 * 1024;

/** Most subscriptions in one room, over all sockets and users. */
export const MAX_SUBSCRIPTIONS_PER_ROOM = 4_096;

/** Largest `connectionParams` payload (serialized), in bytes; it lives in the 16 KiB socket attachment. */
export const MAX_CONNECTION_PARAMS_BYTES = 1_024;

/** Largest serialized input of one subscription; subscriptions live in the 16 KiB socket attachment. */
export const MAX_SUBSCRIPTION_INPUT_BYTES = 512;

/** Longest subscription id, in characters (ids are kept in the socket attachment). */
export const MAX_SUBSCRIPTION_ID_CHARS = 64;

/** Longest procedure path a service or HTTP call may name, in characters (real paths are far shorter). */
export const MAX_PROCEDURE_PATH_CHARS = 256;

/**
 * Longest serialized input (superjson JSON text) of one call that arrives without
 * a socket — a service binding or an HTTP one-shot call — in characters: about
 * the 1 MiB of a WebSocket frame.
 */
export const MAX_DIRECT_INPUT_CHARS = MAX_FRAME_BYTES;

/** Largest HTTP request body the tRPC endpoint reads (a JSON batch of inputs): the same 1 MiB. */
export const MAX_HTTP_BODY_BYTES = MAX_FRAME_BYTES;

/** Longest read-only SQL text, in characters (the product's documented limit; SQLite's own is 100 KB). */
export const MAX_SQL_CHARS = 10_000;

/** Most bound parameters of one read-only SQL statement: the platform's limit per statement. */
export const MAX_SQL_PARAMS = 100;

/** Most rows one read-only SQL query returns; more are cut and the result says `truncated: true`. */
export const MAX_SQL_RESULT_ROWS = 1_000;

/** Largest read-only SQL result, in bytes of JSON (1 MiB): one WebSocket frame must carry it. */
export const MAX_SQL_RESULT_BYTES = 1_048_576;

/** Most open sockets one user (token `sub`) holds in one room; one more is closed with CLOSE_CODES.tooManySockets. */
export const MAX_SOCKETS_PER_USER = 32;

/** Most open sockets in one room; one more is closed with CLOSE_CODES.tooManySockets. */
export const MAX_SOCKETS_PER_ROOM = 2_048;

/**
 * Longest mutation id, in characters (`params.mutationId` on a socket, the
 * `Idempotency-Key` header over HTTP, `mutationId` in a seed frame or a direct call).
 */
export const MAX_MUTATION_ID_CHARS = 128;
