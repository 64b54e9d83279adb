/** `session.*`: what the room knows about the caller. */
import { readerProcedure, router } from "./init";

export const sessionRouter = router({
  /** The verified identity of this connection and the room it is in. */
  whoami: readerProcedure.query(({ ctx }) => ({
    room: ctx.room as string,
    sub: ctx.identity.sub,
    role: ctx.identity.role,
    name: ctx.identity.name ?? null,
    expiresAt: new Date(ctx.identity.expiresAt),
  })),
});
