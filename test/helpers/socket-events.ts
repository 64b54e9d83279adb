/**
 * The tRPC frames of a `RawSocket` as tests read them: request frames with
 * superjson inputs, and the tracked events of one subscription, awaited by
 * count (no sleeps).
 */
import superjson from "superjson";
import type { RawSocket } from "./worker-socket";

type DataFrame<T> = { id: number | string; result?: { type: "data" | "started" | "stopped"; id?: string; data: T } };

/** A request frame (`{ id, method, params: { path, input } }`), the input serialized as the clients do. */
export function requestFrame(id: number | string, method: "query" | "mutation" | "subscription", path: string, input?: unknown) {
  return { id, method, params: { path, ...(input === undefined ? {} : { input: superjson.serialize(input) }) } };
}

/** The tracked events (`{ id, data }`) of subscription `id` among a socket's frames. */
export function eventsOf<T>(socket: RawSocket, id: number | string): { id: string; data: T }[] {
  return socket.frames
    .filter((frame): frame is DataFrame<{ id: string; data: T }> => {
      const candidate = frame as DataFrame<unknown>;
      return candidate.id === id && candidate.result?.type === "data";
    })
    .map((frame) => frame.result!.data);
}

/** Waits until subscription `id` on `socket` has at least `count` tracked events. */
export async function waitForEvents<T>(socket: RawSocket, id: number | string, count: number): Promise<{ id: string; data: T }[]> {
  while (eventsOf(socket, id).length < count) await socket.waitForFrames(socket.frames.length + 1);
  return eventsOf<T>(socket, id);
}
