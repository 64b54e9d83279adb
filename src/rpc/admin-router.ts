/**
 * `admin.*`: the room inspector — what a room holds, who is in it, what it
 * does and costs, and why it is awake (src/protocol/inspection.ts). Admins only.
 */
import { TRPCError } from "@trpc/server";
import { adminProcedure, router } from "./init";

export const adminRouter = router({
  /** Tables, change log, connections, memory, debounced, sync, the meter, and why the room is awake. */
  inspect: adminProcedure.query(({ ctx }) => {
    if (!ctx.inspect) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "this room cannot be inspected" });
    return ctx.inspect();
  }),
});
