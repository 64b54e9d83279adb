/**
 * `presence.*`: cursors and "who is here", kept in the room's memory store
 * (never SQLite). The stored user is always the caller; a payload `userId`
 * naming someone else is FORBIDDEN. Readers may set their own cursor and
 * presence: it changes nothing but their own ephemeral state. A new user
 * beyond MAX_PRESENCE_USERS is refused with TOO_MANY_REQUESTS (`PresenceFullError`).
 */
import { TRPCError } from "@trpc/server";
import { on } from "node:events";
import { PRESENCE_EVENT, type PresenceEvent, type UserEntry } from "../presence/memory-store";
import { setCursorInput, setPresenceInput, watchInput } from "../presence/presence-inputs";
import type { RoomContext } from "./context";
import { readerProcedure, router } from "./init";

/** Refuses a payload `userId` that is not the caller's. */
function assertSelf(ctx: RoomContext, userId: string | undefined): void {
  if (userId !== undefined && userId !== ctx.identity.sub) {
    throw new TRPCError({ code: "FORBIDDEN", message: `userId "${userId}" is not you; cursors and presence are always your own` });
  }
}

const asCursor = (entry: UserEntry) => ({ userId: entry.userId, position: entry.value, updatedAt: entry.updatedAt });
const asPresence = (entry: UserEntry) => ({ userId: entry.userId, status: entry.value, updatedAt: entry.updatedAt });

/** What `presence.watch` sends: a snapshot first, then every change. */
export type PresenceWatchEvent =
  | { type: "snapshot"; cursors: ReturnType<typeof asCursor>[]; presence: ReturnType<typeof asPresence>[] }
  | ({ type: "change" } & PresenceEvent);

/** Stores the caller's own cursor or presence, and remembers it in the socket's attachment (it survives hibernation). */
function setOwn(ctx: RoomContext, kind: "cursor" | "presence", userId: string | undefined, value: unknown): UserEntry {
  assertSelf(ctx, userId);
  const entry = kind === "cursor" ? ctx.memory.setCursor(ctx.identity.sub, value) : ctx.memory.setPresence(ctx.identity.sub, value);
  ctx.socket?.remember({ [kind]: { value: entry.value, updatedAt: entry.updatedAt } });
  return entry;
}

/** One wrapped event per change, shared by every watcher (so it is encoded once). */
const wrapped = new WeakMap<PresenceEvent, PresenceWatchEvent>();
function asChange(event: PresenceEvent): PresenceWatchEvent {
  let change = wrapped.get(event);
  if (!change) wrapped.set(event, (change = { type: "change", ...event }));
  return change;
}

export const presenceRouter = router({
  /** Sets the caller's cursor (expires after the cursor TTL, 30 s by default). */
  setCursor: readerProcedure
    .input(setCursorInput)
    .mutation(({ ctx, input }) => asCursor(setOwn(ctx, "cursor", input.userId, input.position))),

  getCursors: readerProcedure.query(({ ctx }) => ctx.memory.cursors().map(asCursor)),

  /** Sets the caller's presence status (expires after the presence TTL, 60 s by default). */
  setPresence: readerProcedure
    .input(setPresenceInput)
    .mutation(({ ctx, input }) => asPresence(setOwn(ctx, "presence", input.userId, input.status))),

  getPresence: readerProcedure.query(({ ctx }) => ctx.memory.presence().map(asPresence)),

  /** Join, update, leave and expire events of cursors and presence, after a snapshot. */
  watch: readerProcedure.input(watchInput).subscription(async function* ({ ctx, input, signal }): AsyncGenerator<PresenceWatchEvent> {
    // Resumed after the room woke: the client already has the state.
    if (!input?.lastEventId) {
      yield { type: "snapshot", cursors: ctx.memory.cursors().map(asCursor), presence: ctx.memory.presence().map(asPresence) };
    }
    for await (const [event] of on(ctx.memory.events, PRESENCE_EVENT, { signal })) {
      yield asChange(event as PresenceEvent);
    }
  }),
});
