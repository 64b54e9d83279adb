/**
 * A member's session in one room: development tokens from `POST /dev/token`,
 * the project's typed client (`createRoomClient`), and the connection state
 * (connecting / live / reconnecting) from the client's onOpen/onClose
 * callbacks. Panels receive the session; main.ts creates it on join.
 */
import { closeRoomClient, createRoomClient, reconnectRoomClient, type RoomClient } from "../src/client";
import type { Role } from "../src/client";
import type { AppRouter } from "../src/app";

/** Who joined which room, as what. */
export interface Member {
  /** Display name, as typed. */
  name: string;
  /** User id derived from the name ("Ada Lovelace" → "ada-lovelace"): the same name is the same user. */
  sub: string;
  room: string;
  role: Role;
}

export type ConnectionState = "connecting" | "live" | "reconnecting";

export interface ConnectionInfo {
  state: ConnectionState;
  /** How many times the socket came back after a drop. */
  reconnects: number;
  /** Why the last attempt failed, in plain words, or null. */
  problem: string | null;
}

/** Turns a display name into a user id: lower case, runs of other characters become "-". */
export function userIdFor(name: string): string {
  return (
    name
      .normalize("NFKD")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 64) || "guest"
  );
}

/** A room token and when it expires (ms since the epoch). */
export interface MintedToken {
  token: string;
  expiresAt: number;
}

/** A token this close to expiry is replaced before use. */
const TOKEN_RENEW_MS = 60_000;

/** Mints a room token from the development token route. Throws a plain-words error when it cannot. */
export async function mintToken(member: Member): Promise<MintedToken> {
  let response: Response;
  try {
    response = await fetch("/dev/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: member.sub, room: member.room, role: member.role, name: member.name }),
    });
  } catch {
    throw new Error("the server cannot be reached");
  }
  if (response.status === 404) {
    throw new Error("this server does not hand out development tokens (DEV_TOKENS=true is set by `npm run dev` only)");
  }
  const body = (await response.json().catch(() => null)) as { token?: string; expiresAt?: number; error?: { message?: string } } | null;
  if (!response.ok || typeof body?.token !== "string" || typeof body.expiresAt !== "number") {
    throw new Error(body?.error?.message ?? `the token route answered HTTP ${response.status}`);
  }
  return { token: body.token, expiresAt: body.expiresAt };
}

export class Session {
  readonly client: RoomClient<AppRouter>;
  #info: ConnectionInfo = { state: "connecting", reconnects: 0, problem: null };
  #everOpen = false;
  #listeners = new Set<(info: ConnectionInfo) => void>();
  /** While set, reconnecting waits for it (the test's "offline" switch). */
  #offline: { promise: Promise<void>; release: () => void } | null = null;

  /** `firstToken` was minted by the join form (so a wrong setup fails there, in plain words). */
  constructor(
    readonly member: Member,
    firstToken: MintedToken,
  ) {
    let current = firstToken;
    this.client = createRoomClient<AppRouter>({
      url: location.origin,
      room: member.room,
      // Called on every connect and reconnect (and HTTP call): the token is reused until
      // it nears expiry, so a socket the room closed for an expired token comes back with a new one.
      token: async () => {
        if (this.#offline) await this.#offline.promise;
        if (current.expiresAt - Date.now() < TOKEN_RENEW_MS) current = await this.#mint();
        return current.token;
      },
      onOpen: () => {
        if (this.#everOpen) this.#info.reconnects += 1;
        this.#everOpen = true;
        this.#set({ state: "live", problem: null });
      },
      onClose: () => this.#set({ state: this.#everOpen ? "reconnecting" : "connecting" }),
    });
  }

  get connection(): ConnectionInfo {
    return { ...this.#info };
  }

  get isLive(): boolean {
    return this.#info.state === "live";
  }

  /** Calls `listener` now and on every change of the connection state. Returns an unsubscribe function. */
  onConnection(listener: (info: ConnectionInfo) => void): () => void {
    this.#listeners.add(listener);
    listener(this.connection);
    return () => this.#listeners.delete(listener);
  }

  /** Drops the socket now; the client reconnects by itself and resumes its subscriptions. */
  dropConnection(): void {
    reconnectRoomClient(this.client);
  }

  /** Drops the socket and keeps it down until `goOnline()` (to make changes "while away"). */
  goOffline(): void {
    if (!this.#offline) {
      let release = () => {};
      const promise = new Promise<void>((resolve) => (release = resolve));
      this.#offline = { promise, release };
    }
    this.dropConnection();
  }

  goOnline(): void {
    this.#offline?.release();
    this.#offline = null;
  }

  async close(): Promise<void> {
    this.goOnline();
    this.#listeners.clear();
    await closeRoomClient(this.client);
  }

  async #mint(): Promise<MintedToken> {
    try {
      return await mintToken(this.member);
    } catch (error) {
      this.#set({ problem: `Cannot get a token: ${(error as Error).message}. Retrying…` });
      throw error;
    }
  }

  #set(change: Partial<ConnectionInfo>): void {
    this.#info = { ...this.#info, ...change };
    for (const listener of this.#listeners) listener(this.connection);
  }
}
