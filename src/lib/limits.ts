/**
 * Every limit the product enforces beyond the wire contract (those a client
 * must know are in src/protocol/wire-limits.ts), with its unit and the reason
 * for it. Public: the README's limits table lists these; the task board's own
 * (title, description) are on docs/task-board.md.
 */

/** Longest room name, in characters. Room names are Durable Object names and URL segments. */
export const MAX_ROOM_NAME_CHARS = 128;

/** Longest user id (`sub`) or display name carried in a token, in characters. */
export const MAX_USER_ID_CHARS = 128;

/** Default and largest page size of list procedures. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Most entries in a token's `grants` claim, and the longest entry (characters); grants live in the socket attachment. */
export const MAX_TOKEN_GRANTS = 16;
export const MAX_GRANT_CHARS = 64;

/** Longest accepted token (bytes); anything longer is rejected before verification. */
export const MAX_TOKEN_CHARS = 8_192;

/** Longest lifetime of a token minted by the development route or `npm run token`. */
export const MAX_DEV_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

/** Change-log retention: entries kept at most (a reconnecting client further behind gets a resync event). */
export const CHANGE_LOG_MAX_ENTRIES = 10_000;

/** Change-log retention: entries older than this are trimmed (ms; 24 h). */
export const CHANGE_LOG_MAX_AGE_MS = 24 * 3600 * 1000;

/** Most changes one change-feed catch-up reads from the log per step. */
export const CHANGE_FEED_PAGE = 500;

/** Default and largest row count of a live query. */
export const DEFAULT_LIVE_LIMIT = 100;
export const MAX_LIVE_LIMIT = 500;

/** Default time to live of a cursor (the product documentation: 30 s). Override with CURSOR_TTL_MS. */
export const CURSOR_TTL_MS = 30_000;

/** Default time to live of a presence entry (the product documentation: 60 s). Override with PRESENCE_TTL_MS. */
export const PRESENCE_TTL_MS = 60_000;

/** Bounds for configured cursor/presence TTLs and for `memory.set`'s `ttlMs`: 1 s to 24 h. */
export const MIN_MEMORY_TTL_MS = 1_000;
export const MAX_MEMORY_TTL_MS = 24 * 3600 * 1000;

/** Default `ttlMs` of `memory.set`. */
export const DEFAULT_MEMORY_TTL_MS = 60_000;

/** Largest cursor position (serialized JSON); cursors are kept in the 16 KiB socket attachment. */
export const MAX_CURSOR_BYTES = 1_024;

/** Largest presence status (serialized JSON); kept in the socket attachment too. */
export const MAX_PRESENCE_BYTES = 2_048;

/** Largest `memory.set` value (serialized JSON). */
export const MAX_MEMORY_VALUE_BYTES = 64 * 1024;

/** Longest `memory.set` key, in characters. */
export const MAX_MEMORY_KEY_CHARS = 256;

/**
 * Most users with a cursor or presence entry per room. A new user beyond it is
 * refused (TOO_MANY_REQUESTS); nobody's presence is ever evicted to make room.
 * Slots free when a user's last socket closes or their entries expire.
 */
export const MAX_PRESENCE_USERS = 1_000;

/**
 * Most bytes one user's cursor and presence can take in the memory store: both
 * values at their limits, the kind names, and the user id twice (≤ 3 UTF-8
 * bytes per character). So cursors and presence hold at most
 * MAX_PRESENCE_USERS × this (≈ 3.9 MB) and 2 × MAX_PRESENCE_USERS entries.
 */
export const MAX_PRESENCE_USER_BYTES =
  "cursor".length + "presence".length + 2 * 3 * MAX_USER_ID_CHARS + MAX_CURSOR_BYTES + MAX_PRESENCE_BYTES;

/** Most cache (`memory.set`) entries per room; beyond it the least recently used cache entry is evicted. */
export const MAX_CACHE_ENTRIES = 10_000;

/**
 * Most cache bytes per room (keys + serialized values); beyond it the least
 * recently used cache entry is evicted. With the presence budget the store
 * stays near 16 MiB of a room's ~128 MB.
 */
export const MAX_CACHE_BYTES = 12 * 1024 * 1024;

/** Expiry sweeps are rounded up to this granularity, so scattered expiries share one alarm. */
export const MEMORY_SWEEP_GRANULARITY_MS = 1_000;

/** Largest debounced value (serialized JSON): the product documentation's 100 KB. */
export const MAX_DEBOUNCED_VALUE_BYTES = 100_000;

/** Most bytes of debounced values awaiting their flush, per room. */
export const MAX_DEBOUNCED_PENDING_BYTES = 8 * 1024 * 1024;

/** Longest debounced key, in characters. */
export const MAX_DEBOUNCED_KEY_CHARS = 256;

/** Default flush interval of a debounced key (the product documentation: 1 s). */
export const DEFAULT_DEBOUNCE_INTERVAL_MS = 1_000;

/** Bounds of a per-key flush interval: 100 ms to 60 s. */
export const MIN_DEBOUNCE_INTERVAL_MS = 100;
export const MAX_DEBOUNCE_INTERVAL_MS = 60_000;

/**
 * The alarm behind debounced flushes fires this long after a value was due: the
 * in-memory timer normally flushes first, so the alarm (a storage write to set)
 * is moved rarely — about once per this period while values keep coming.
 */
export const DEBOUNCE_ALARM_GRACE_MS = 5_000;

/**
 * Work budget of one read-only SQL query, in rows SQLite reads (tables, indexes
 * and intermediate results; the cursor's `rowsRead`). Checked between result
 * rows, so it stops a query that keeps producing rows; one step that reads more
 * cannot be interrupted (see docs/read-only-sql.md). ≈ 0.7 s of SQLite work measured locally.
 */
export const MAX_SQL_ROWS_READ = 5_000_000;

/**
 * Wall-clock budget of one read-only SQL query (ms), checked between result
 * rows. Deployed Workers clocks advance only on I/O, so there it rarely fires
 * and MAX_SQL_ROWS_READ is the budget that applies; the CPU limit bounds the rest.
 */
export const SQL_TIME_BUDGET_MS = 5_000;

/** Most rows a recursive CTE may produce: each needs a literal `LIMIT` (plus `OFFSET`) no larger than this. */
export const MAX_RECURSIVE_CTE_ROWS = 100_000;

/**
 * Work budget of one read-only SQL query before it runs, in rows visited in the
 * worst case its query plan allows (nested loops multiply; see
 * docs/read-only-sql.md, "The cost estimate"). One SQLite step cannot be
 * interrupted, so a query over this is refused unrun. Measured here, the slowest
 * plain visit (a nested loop over a table, comparing text) ran 4.9 M rows/s:
 * 10 M is ≈ 2 s, under SQL_TIME_BUDGET_MS with room for slower rows.
 */
export const MAX_SQL_PLAN_COST = 10_000_000;

/**
 * Largest string or blob SQLite builds here (bytes): measured, zeroblob(8388642)
 * works and one byte more is SQLITE_TOOBIG. The cost estimate's bound for a
 * value it cannot see (a json_each input, what a function may build).
 */
export const SQLITE_VALUE_MAX_BYTES = 8_388_642;

/**
 * Bytes of a row that count as one visit in the cost estimate: a table whose
 * rows average more (the database's size over the table's rows, an upper
 * bound) costs proportionally more per visit. The 4.9 M rows/s measured for
 * MAX_SQL_PLAN_COST were ≈ 250-byte rows.
 */
export const SQL_VISIT_BYTES = 1_024;

/**
 * Replication window: a push waits this long after the first unreplicated
 * commit, so a burst of writes becomes one D1 batch instead of one per write.
 */
export const REPLICATION_WINDOW_MS = 100;

/** Most change-log entries one push reads (they coalesce to at most this many rows). */
export const SYNC_MAX_CHANGES_PER_PUSH = 5_000;

/** Backoff after a failed push: doubles from the base up to the cap. */
export const SYNC_BACKOFF_BASE_MS = 1_000;
export const SYNC_BACKOFF_MAX_MS = 60_000;

/** Rows per page of a full resync (each page is one D1 batch). */
export const RESYNC_PAGE_ROWS = 500;

/** Replica ids checked per page when a full resync looks for rows the room no longer has. */
export const RESYNC_ORPHAN_PAGE = 1_000;

/** Replication is unhealthy when the oldest unreplicated change is older than this. */
export const SYNC_UNHEALTHY_LAG_MS = 30_000;

/**
 * `sync.replicated` waits this long by default (ms) for the D1 replica to reach
 * a seq: a push normally takes milliseconds, so 10 s means D1 is failing or slow.
 */
export const DEFAULT_REPLICATED_TIMEOUT_MS = 10_000;

/** Longest `timeoutMs` a `sync.replicated` call may ask for (ms): D1's own query time limit. */
export const MAX_REPLICATED_TIMEOUT_MS = 30_000;

/**
 * Most `sync.replicated` calls waiting at once in one room: each holds a
 * pending answer (and keeps the room awake) until D1 confirms or it times out.
 */
export const MAX_REPLICATION_WAITERS = 64;

/**
 * Most unreplicated change-log entries kept for the sync engine while D1 is
 * down; beyond this the log is trimmed normally and the replica catches up by
 * a full resync instead.
 */
export const MAX_UNREPLICATED_CHANGES = 100_000;

/** Bound parameters per D1 statement (the platform's limit). */
export const D1_MAX_PARAMS = 100;

/**
 * How long an identity asserted by a service binding stays valid when the caller
 * gives no `expiresAt` (ms): long enough for one call, which is all it is used for.
 */
export const SERVICE_IDENTITY_TTL_MS = 60_000;

/**
 * How long a connect ticket (`POST /rooms/<room>/ticket`) stays valid (ms): long
 * enough to open the socket right after fetching it, short enough that a ticket
 * read from a request log is useless. Never longer than the token it came from.
 */
export const CONNECT_TICKET_TTL_MS = 10_000;

/**
 * Most unredeemed connect tickets one user (token `sub`) holds in a room; one
 * more drops that user's oldest (a client that gave up on a ticket just asks again).
 */
export const MAX_CONNECT_TICKETS_PER_USER = 8;

/**
 * Most unredeemed connect tickets in one room, over all users; one more is
 * refused (429) until some are used or expire. Nobody's ticket is dropped for another user.
 */
export const MAX_CONNECT_TICKETS_PER_ROOM = 1_024;

/**
 * How long a room remembers a mutation id and its answer (24 h): a repeat within
 * it is answered from the record, never run again. Past it (and past the counts
 * below) the id is forgotten and a repeat runs as a new mutation.
 */
export const MUTATION_ID_TTL_MS = 24 * 3600 * 1000;

/** Most mutation ids a room remembers per user (token `sub`); the user's oldest are forgotten first. */
export const MUTATION_IDS_PER_USER = 1_000;

/** Most mutation ids a room remembers over all users; the room's oldest are forgotten first. */
export const MUTATION_IDS_PER_ROOM = 20_000;

/**
 * Largest answer kept with a mutation id (serialized, 16 KiB). A larger answer
 * is not kept: a repeat is still never run again, but is refused (CONFLICT)
 * with the mutation's seq instead of its answer.
 */
export const MAX_RECORDED_ANSWER_BYTES = 16 * 1024;

/** How many recorded mutations pass between two trims of the id window (keeps trimming off the hot path). */
export const MUTATION_TRIM_EVERY = 64;

/** Attempts RoomService makes to reach a room for a query or a mutation with an id (a repeat is safe), before it answers an error. */
export const SERVICE_CALL_ATTEMPTS = 3;
