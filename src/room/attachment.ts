/**
 * The one owner of a socket attachment: its shape (who the socket is, which
 * room, its connectionParams, cursor, presence and subscriptions) and every
 * read and write of it. It survives hibernation (≤ 16 KiB, kept tiny). Parsed
 * once per socket per wake; the parsed copy is cached in memory.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { identitySchema } from "../protocol/identity";
import { utf8Bytes } from "../lib/utf8";

/** Bumped when the shape changes; sockets with an older shape are asked to reconnect. */
export const ATTACHMENT_VERSION = 1;

/** Serialized attachments above this are refused; the platform caps them at 16,384 bytes. */
const MAX_ATTACHMENT_BYTES = 16_000;

const remembered = z.object({ value: z.unknown(), updatedAt: z.number() }).nullable().default(null);

const attachmentSchema = z.object({
  v: z.literal(ATTACHMENT_VERSION),
  room: z.string(),
  identity: identitySchema,
  connectionParams: z.record(z.string(), z.string()).nullable(),
  awaitingConnectionParams: z.boolean(),
  connectedAt: z.number(),
  /** The socket user's cursor and presence, rebuilt into the memory store when the room wakes. */
  cursor: remembered,
  presence: remembered,
  /** Subscriptions of this socket, re-created when the room wakes (src/transport/subscriptions.ts). */
  subs: z
    .array(
      z.object({
        id: z.union([z.string(), z.number()]),
        path: z.string(),
        input: z.unknown().optional(),
        kind: z.enum(["trpc", "seed"]),
        requestId: z.union([z.string(), z.number()]).optional(),
        jsonrpc: z.literal("2.0").optional(),
      }),
    )
    .default([]),
});

export type Attachment = z.infer<typeof attachmentSchema>;

const cache = new WeakMap<WebSocket, Attachment>();

/** The socket's attachment, or null when it is missing or from an older release. */
export function readAttachment(ws: WebSocket): Attachment | null {
  const cached = cache.get(ws);
  if (cached) return cached;
  const parsed = attachmentSchema.safeParse(ws.deserializeAttachment());
  if (!parsed.success) return null;
  cache.set(ws, parsed.data);
  return parsed.data;
}

/** Stores the attachment; throws PAYLOAD_TOO_LARGE when it would not fit the platform's limit. */
export function writeAttachment(ws: WebSocket, attachment: Attachment): void {
  if (utf8Bytes(JSON.stringify(attachment)) > MAX_ATTACHMENT_BYTES) {
    throw new TRPCError({
      code: "PAYLOAD_TOO_LARGE",
      message: `this socket's state (subscriptions, connectionParams) would exceed ${MAX_ATTACHMENT_BYTES} bytes`,
    });
  }
  ws.serializeAttachment(attachment);
  cache.set(ws, attachment);
}

/** Changes some fields of the socket's attachment (nothing when it has none). */
export function updateAttachment(ws: WebSocket, fields: Partial<Attachment>): void {
  const attachment = readAttachment(ws);
  if (attachment) writeAttachment(ws, { ...attachment, ...fields });
}
