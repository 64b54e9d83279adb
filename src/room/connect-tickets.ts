/**
 * The room's half of single-use connect tickets: issues ticket ids for
 * identities the Worker verified, and redeems each once, before it expires.
 * Held in memory only, on purpose: a room that hibernated or was evicted
 * between issue and redeem has forgotten its tickets, so they fail closed and
 * the client asks for a new one. The Worker seals each id to its room and
 * expiry (src/auth/connect-ticket.ts). Used by room.ts; not public.
 */
import { z } from "zod";
import { toBase64url } from "../lib/base64url";
import { jsonError } from "../lib/json-response";
import { CONNECT_TICKET_TTL_MS, MAX_CONNECT_TICKETS_PER_ROOM, MAX_CONNECT_TICKETS_PER_USER } from "../lib/limits";
import { identitySchema, type Identity } from "../protocol/identity";
import type { ConnectRequest } from "./connect-request";

/** Random bytes of a ticket id: 128 bits, so an id cannot be guessed. */
const TICKET_ID_BYTES = 16;

const ticketRequestSchema = z.object({ identity: identitySchema });

/** What the Worker asks the room for (Workers RPC `issueTicket`): a ticket for an identity it verified. */
export type TicketRequest = z.infer<typeof ticketRequestSchema>;

/** The room's answer: a ticket id and its expiry (ms since the epoch), or why not. */
export type TicketIssue = { ok: true; id: string; expiresAt: number } | { ok: false; status: 400 | 429; message: string };

/** A connect request whose identity is known: from the Worker's token check, or from a redeemed ticket. */
export type VerifiedConnect = Omit<ConnectRequest, "identity" | "ticket"> & { identity: Identity };

interface Outstanding {
  identity: Identity;
  expiresAt: number;
}

/** The unredeemed tickets of one room, at most MAX_CONNECT_TICKETS_PER_ROOM. No timers: expired ones are swept on each use. */
export class ConnectTickets {
  /** Ticket id → who it was issued for; insertion order is issue order. */
  readonly #tickets = new Map<string, Outstanding>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Unredeemed, unexpired tickets (for tests and diagnostics). */
  get size(): number {
    this.#sweep(this.now());
    return this.#tickets.size;
  }

  /**
   * Issues a ticket for the identity in `request` (parsed here: it arrives over
   * Workers RPC). Valid for CONNECT_TICKET_TTL_MS, never past the token's expiry.
   * A user at MAX_CONNECT_TICKETS_PER_USER loses their oldest ticket; a room at
   * MAX_CONNECT_TICKETS_PER_ROOM refuses with 429.
   */
  issue(request: unknown): TicketIssue {
    const parsed = ticketRequestSchema.safeParse(request);
    if (!parsed.success) return { ok: false, status: 400, message: "a ticket request carries a verified identity" };
    const { identity } = parsed.data;
    const now = this.now();
    this.#sweep(now);
    const mine = [...this.#tickets].filter(([, ticket]) => ticket.identity.sub === identity.sub);
    if (mine.length >= MAX_CONNECT_TICKETS_PER_USER) this.#tickets.delete(mine[0]![0]);
    if (this.#tickets.size >= MAX_CONNECT_TICKETS_PER_ROOM) {
      return {
        ok: false,
        status: 429,
        message: `this room holds its maximum of ${MAX_CONNECT_TICKETS_PER_ROOM} unused connect tickets; retry in a few seconds`,
      };
    }
    const id = randomId();
    const expiresAt = Math.min(now + CONNECT_TICKET_TTL_MS, identity.expiresAt);
    this.#tickets.set(id, { identity, expiresAt });
    return { ok: true, id, expiresAt };
  }

  /** The identity ticket `id` was issued for, once: null when unknown, already used or expired. */
  redeem(id: string): Identity | null {
    const ticket = this.#tickets.get(id);
    if (!ticket) return null;
    this.#tickets.delete(id);
    const now = this.now();
    return ticket.expiresAt > now && ticket.identity.expiresAt > now ? ticket.identity : null;
  }

  /** The identity of a connect request: the one it carries, or its ticket's (redeemed here). Null when the ticket is refused. */
  verified(connect: ConnectRequest): VerifiedConnect | null {
    const { identity, ticket, ...rest } = connect;
    const who = identity ?? (ticket === undefined ? null : this.redeem(ticket));
    return who ? { ...rest, identity: who } : null;
  }

  #sweep(now: number): void {
    for (const [id, ticket] of this.#tickets) if (ticket.expiresAt <= now) this.#tickets.delete(id);
  }
}

/** The 401 a room answers for a ticket it cannot redeem. */
export function ticketRefusal(): Response {
  return jsonError(
    401,
    "INVALID_TICKET",
    "this connect ticket was already used, has expired, or the room restarted since it was issued: get a new one",
  );
}

/** A fresh ticket id: TICKET_ID_BYTES random bytes, base64url (22 characters). */
function randomId(): string {
  return toBase64url(crypto.getRandomValues(new Uint8Array(TICKET_ID_BYTES)));
}
