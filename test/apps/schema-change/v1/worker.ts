/** The Worker entry of version 1 of the schema-change test app (wrangler.toml beside it). */
import { createNanotype } from "../../../../src/server";
import { app } from "./app";

const nanotype = createNanotype(app);

export class Room extends nanotype.Room {}
export class RoomService extends nanotype.RoomService {}
export default nanotype.worker;
