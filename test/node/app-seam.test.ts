/**
 * `defineApp` refuses an app the engine could not serve as written: a
 * namespace the engine owns, or a replica read that clients would not send to
 * the replica (and the reverse). And the seam is typed: `ctx.db` and
 * `ctx.services` are the app's.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import migrations from "../../drizzle/migrations.js";
import * as schema from "../../schema/app";
import { app } from "../../src/app";
import { createAppApi } from "../../src/rpc/app-api";

const api = createAppApi({ schema, services: () => ({ greeting: "hello" as const }) });
const read = api.replicaProcedure(z.object({}), async (reader) => (await reader.rows(schema.tasks, { limit: 1 })).length);
const plain = api.readerProcedure.query(() => 1);

describe("defineApp", () => {
  it("refuses a namespace the engine serves", () => {
    expect(() => api.defineApp({ router: { presence: { plain } }, migrations })).toThrow(
      /may not define "presence": the engine serves session, presence, memory, debounced, sql, sync/,
    );
  });

  it("refuses a replica read outside replica., and a plain procedure inside it", () => {
    expect(() => api.defineApp({ router: { reads: { read } }, migrations })).toThrow(
      /replica read "reads.read" must live under "replica."/,
    );
    expect(() => api.defineApp({ router: { replica: { plain } }, migrations })).toThrow(
      /"replica.plain" is under "replica." but is not a replica read/,
    );
    expect(() => api.defineApp({ router: { replica: { read } }, migrations })).not.toThrow();
  });

  it("gives procedures the app's typed Drizzle handle and services", () => {
    api.readerProcedure.query(({ ctx }) => {
      expectTypeOf(ctx.services.greeting).toEqualTypeOf<"hello">();
      expectTypeOf(ctx.db.select().from(schema.tasks.room).all()).toEqualTypeOf<(typeof schema.tasks.room.$inferSelect)[]>();
      return null;
    });
    expect(Object.keys(app.router._def.record)).toEqual(expect.arrayContaining(["session", "tasks", "replica"]));
  });
});
