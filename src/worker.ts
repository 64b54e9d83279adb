/**
 * The deployed Worker: the nanotypeDB engine serving the task board app
 * (src/app/). An app of your own replaces `app` and keeps these four exports.
 */
import { app } from "./app";
import { createNanotype } from "./server";

const nanotype = createNanotype(app);

/** The room Durable Object (wrangler.toml binds it as ROOMS). */
export class Room extends nanotype.Room {}
/** The entrypoint other Workers bind to (`entrypoint = "RoomService"`). */
export class RoomService extends nanotype.RoomService {}
export default nanotype.worker;
export type { AppRouter } from "./app";
