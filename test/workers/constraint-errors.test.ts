/**
 * SQLite constraint violations, as SQLite in the room reports them, become
 * caller errors with a code and a message naming the columns.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { constraintViolation } from "../../src/lib/sqlite-errors";
import { uniqueRoom } from "../helpers/clients";

/** The error SQLite throws for `statement` in a fresh room, after `setup`. */
async function sqliteError(setup: string, statement: string): Promise<unknown> {
  const stub = env.ROOMS.get(env.ROOMS.idFromName(uniqueRoom("constraint")));
  return runInDurableObject(stub, (_instance, state) => {
    state.storage.sql.exec(setup);
    try {
      state.storage.sql.exec(statement);
    } catch (error) {
      return error;
    }
    return null;
  });
}

describe("constraint violations", () => {
  it("reads a duplicate in a unique index as a CONFLICT naming the column", async () => {
    const error = await sqliteError(
      "CREATE TABLE zz_notes (id INTEGER PRIMARY KEY, slug TEXT NOT NULL); CREATE UNIQUE INDEX zz_notes_slug ON zz_notes (slug); INSERT INTO zz_notes (slug) VALUES ('a')",
      "INSERT INTO zz_notes (slug) VALUES ('a')",
    );
    const violation = constraintViolation(error);
    expect(violation).toMatchObject({ kind: "UNIQUE", code: "CONFLICT", columns: ["zz_notes.slug"] });
    expect(violation?.message).toBe("a row with the same slug already exists (zz_notes.slug)");
  });

  it("reads a missing required value as a BAD_REQUEST naming the column", async () => {
    const error = await sqliteError(
      "CREATE TABLE zz_req (id INTEGER PRIMARY KEY, title TEXT NOT NULL)",
      "INSERT INTO zz_req (title) VALUES (NULL)",
    );
    expect(constraintViolation(error)).toMatchObject({ kind: "NOT NULL", code: "BAD_REQUEST", columns: ["zz_req.title"] });
  });

  it("leaves every other error alone", async () => {
    const error = await sqliteError("CREATE TABLE zz_other (id INTEGER PRIMARY KEY)", "SELECT nope FROM zz_other");
    expect(error).toBeInstanceOf(Error);
    expect(constraintViolation(error)).toBeNull();
    expect(constraintViolation(new Error("disk is full: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_TRIGGER)"))).toBeNull();
  });
});
