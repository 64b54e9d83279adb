/**
 * The baseline Worker of the benchmark suite: the floor (FloorRoom, raw frames
 * on the Hibernation API) and the peer (PeerRoom, PartyServer) in one worker,
 * so both run in the same runtime process. No auth: local benchmarking only
 * (test/bench/run.ts starts it with wrangler.baseline.toml), never deployed.
 *
 * Routes: GET /health, GET /floor/:name/ws, GET /parties/peer-room/:name.
 */
import { routePartykitRequest } from "partyserver";
import type { FloorRoom } from "./floor-room";
import type { PeerRoom } from "./peer-room";

export { FloorRoom } from "./floor-room";
export { PeerRoom } from "./peer-room";

export interface BaselineEnv {
  FLOOR: DurableObjectNamespace<FloorRoom>;
  PeerRoom: DurableObjectNamespace<PeerRoom>;
}

const FLOOR_ROUTE = /^\/floor\/([A-Za-z0-9_-]{1,64})\/ws$/;

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ ok: true });
    const floor = FLOOR_ROUTE.exec(url.pathname);
    if (floor && request.method === "GET") return env.FLOOR.get(env.FLOOR.idFromName(floor[1]!)).fetch(request);
    // PartyServer's own router: /parties/<kebab-case binding>/<name>.
    const peer = await routePartykitRequest(request, env as unknown as Cloudflare.Env);
    return peer ?? new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<BaselineEnv>;
