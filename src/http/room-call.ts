/**
 * Runs one call in the caller's room over Workers RPC (the Room's `call`) and
 * returns its data, or throws the room's error unchanged (`RoomCallError`).
 * Used by the HTTP endpoint's forwarding procedures, and available to
 * procedures served in the Worker that need to fall back to the room.
 */
import { TRPCError } from "@trpc/server";
import superjson from "superjson";
import type { DirectCallResult, DirectCallType } from "../protocol/direct-call";
import { RoomCallError, type EndpointContext } from "./endpoint-init";

export async function callRoom(ctx: EndpointContext, path: string, type: DirectCallType, input: unknown): Promise<unknown> {
  const stub = ctx.env.ROOMS.get(ctx.env.ROOMS.idFromName(ctx.room));
  const text = await stub.call({
    room: ctx.room,
    identity: ctx.identity,
    via: "http",
    path,
    type,
    ...(input === undefined ? {} : { input: JSON.stringify(superjson.serialize(input)) }),
    ...(type === "mutation" && ctx.mutationId !== undefined ? { mutationId: ctx.mutationId } : {}),
  });
  const result = JSON.parse(text) as DirectCallResult;
  if (result.ok) return superjson.deserialize(result.data);
  throw new TRPCError({ code: result.error.data.code, message: result.error.message, cause: new RoomCallError(result.error) });
}
