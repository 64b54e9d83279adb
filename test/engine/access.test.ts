/**
 * The engine's guards and reads over the app under test (APP_FIXTURE): roles,
 * input validation, not-found answers, keyset pagination, and read-only SQL
 * over the app's table (analytics work; writes are refused).
 */
import { TRPCClientError } from "@trpc/client";
import { afterEach, describe, expect, it } from "vitest";
import { closeClients, uniqueRoom } from "../helpers/clients";
import { pathClientFor } from "../helpers/path-client";
import { roomRows } from "../helpers/replication";
import { appFixture } from "./fixtures";

type Row = Record<string, unknown> & { id: number };
type Written = Row & { seq: number };
interface ErrorData {
  code: string;
  issues: { path: string; message: string; code: string }[] | null;
}

const app = appFixture();
afterEach(() => closeClients());

/** The rejection of `call`, as a TRPCClientError (fails the test if the call succeeds). */
async function refusal(call: Promise<unknown>): Promise<{ message: string; data: ErrorData }> {
  const error = await call.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  return error as { message: string; data: ErrorData };
}

describe(`roles and validation of ${app.table}`, () => {
  it("refuses a reader's create with FORBIDDEN and writes nothing", async () => {
    const room = uniqueRoom("roles");
    const reader = await pathClientFor(room, "reader", "rita");
    const error = await refusal(reader.mutate(app.paths.create, app.create("not allowed")));
    expect(error.data.code).toBe("FORBIDDEN");
    expect(error.message).toBe(`"${app.paths.create}" requires the writer role; your token grants reader`);
    expect(await roomRows(room, app.table)).toEqual([]);
  });

  it("refuses invalid input with BAD_REQUEST and an issue naming the field", async () => {
    const room = uniqueRoom("validation");
    const writer = await pathClientFor(room, "writer");
    const error = await refusal(writer.mutate(app.paths.create, app.invalid.input));
    expect(error.data.code).toBe("BAD_REQUEST");
    expect(error.data.issues?.map((issue) => issue.path)).toEqual([app.invalid.field]);
    const unknown = await refusal(writer.mutate(app.paths.create, { ...app.create("extra"), surprise: 1 }));
    expect(unknown.data).toMatchObject({ code: "BAD_REQUEST", issues: [{ code: "unrecognized_keys" }] });
    expect(await roomRows(room, app.table)).toEqual([]);
  });

  it("answers NOT_FOUND for get, update and delete of a row that does not exist", async () => {
    const writer = await pathClientFor(uniqueRoom("missing"), "writer");
    for (const call of [
      writer.query(app.paths.get, { id: 404 }),
      writer.mutate(app.paths.update, { id: 404, ...app.update.set }),
      writer.mutate(app.paths.delete, { id: 404 }),
    ]) {
      expect((await refusal(call)).data.code).toBe("NOT_FOUND");
    }
  });

  it("pages through list by id with nextCursor", async () => {
    const writer = await pathClientFor(uniqueRoom("list"), "writer");
    const rows: Written[] = [];
    for (const label of ["a", "b", "c"]) rows.push(await writer.mutate<Written>(app.paths.create, app.create(label)));
    const first = await writer.query<{ items: Row[]; nextCursor: number | null }>(app.paths.list, { limit: 2 });
    expect(first.items.map((row) => row[app.labelColumn])).toEqual(["a", "b"]);
    expect(first.nextCursor).toBe(rows[1]!.id);
    const second = await writer.query<{ items: Row[]; nextCursor: number | null }>(app.paths.list, { limit: 2, cursor: first.nextCursor });
    expect(second).toEqual({ items: [await writer.query(app.paths.get, { id: rows[2]!.id })], nextCursor: null });
  });
});

describe(`read-only SQL over ${app.table}`, () => {
  async function boardWithThreeRows(room: string) {
    const admin = await pathClientFor(room, "admin");
    const rows: Written[] = [];
    for (const label of ["x", "y", "z"]) rows.push(await admin.mutate<Written>(app.paths.create, app.create(label)));
    await admin.mutate(app.paths.update, { id: rows[0]!.id, ...app.update.set });
    return admin;
  }

  it("answers a GROUP BY with a window function over the app's table", async () => {
    const admin = await boardWithThreeRows(uniqueRoom("sql"));
    const column = app.update.column;
    const result = await admin.query<{ columns: string[]; rows: unknown[][]; rowCount: number }>("sql.query", {
      sql: `SELECT "${column}" AS grp, COUNT(*) AS n, ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC) AS rnk
            FROM "${app.table}" GROUP BY grp ORDER BY n DESC`,
    });
    expect(result).toMatchObject({
      columns: ["grp", "n", "rnk"],
      rows: [
        [app.update.stored.before, 2, 1],
        [app.update.stored.after, 1, 2],
      ],
      rowCount: 2,
    });
  });

  it("refuses an INSERT into the app's table with FORBIDDEN and writes nothing", async () => {
    const room = uniqueRoom("sql");
    const admin = await boardWithThreeRows(room);
    const before = await roomRows(room, app.table);
    const error = await refusal(admin.query("sql.query", { sql: `INSERT INTO "${app.table}" ("${app.labelColumn}") VALUES ('sneaky')` }));
    expect(error.data.code).toBe("FORBIDDEN");
    expect(await roomRows(room, app.table)).toEqual(before);
    expect(before).toHaveLength(3);
  });

  it("refuses read-only SQL to a writer without the analytics grant", async () => {
    const writer = await pathClientFor(uniqueRoom("sql"), "writer");
    expect((await refusal(writer.query("sql.query", { sql: `SELECT COUNT(*) FROM "${app.table}"` }))).data.code).toBe("FORBIDDEN");
  });
});
