/**
 * The seam for procedures the HTTP endpoint serves in the Worker instead of
 * forwarding them to the room — replica reads from D1, for example. Keyed by
 * the full procedure path ("tasks.list"); a path listed here is never
 * forwarded. Build entries with `workerProcedure` (endpoint-init.ts) and keep
 * their input and output those of the room's procedure of the same path, so
 * `AppRouter` stays the one type clients see; `callRoom` (room-call.ts) falls back
 * to the room. Empty today: every HTTP call runs in the room.
 */
import type { AnyProcedure } from "@trpc/server";

export const servedInWorker: Readonly<Record<string, AnyProcedure>> = {};
