/**
 * Which rooms a token grants: an exact room name, a prefix pattern `team-42/*`
 * (every room under `team-42/`, not `team-42` itself and not `team-420/x`),
 * or `*` (every room; for service tokens).
 */

/** True when the token's `room` claim grants access to `room`. */
export function roomMatches(pattern: string, room: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("/*")) {
    const prefix = pattern.slice(0, -1); // keeps the trailing "/"
    return room.length > prefix.length && room.startsWith(prefix);
  }
  return pattern === room;
}
