/**
 * The notes app's Worker: the nanotypeDB engine serving ./app.ts. The same
 * four exports as the task board's src/worker.ts; ./wrangler.toml binds them.
 */
import { createNanotype } from "../../src/server";
import { app } from "./app";

const nanotype = createNanotype(app);

/** The room Durable Object (wrangler.toml binds it as ROOMS). */
export class Room extends nanotype.Room {}
/** The entrypoint other Workers bind to (`entrypoint = "RoomService"`). */
export class RoomService extends nanotype.RoomService {}
export default nanotype.worker;
export type { AppRouter } from "./app";
