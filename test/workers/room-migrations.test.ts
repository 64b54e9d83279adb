/**
 * Room migrations applied by name, not by timestamp (drizzle-orm #5769), and
 * the schema check that names what is missing. Runs against a real room's
 * SQLite; fake migrations create `zz_*` tables so they never meet the app's.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { drizzle } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import bundled from "../../drizzle/migrations.js";
import { TableQuotas } from "../../src/live/table-quotas";
import { applyRoomMigrations, expectedColumns, RoomSchemaError, verifyRoomSchema } from "../../src/room/room-migrations";
import { clientFor, closeClients } from "../helpers/clients";

type Entry = { idx: number; when: number; tag: string; breakpoints: boolean };
type Config = { journal: { entries: Entry[] }; migrations: Record<string, string> };

/** Later than the app's real migrations, so drizzle's own migrator would apply these. */
const BASE = 1_900_000_000_000;
const BP = "\n--> statement-breakpoint\n";

/** A fake migration: journal index (far from the app's), timestamp offset, tag and SQL statements. */
function fake(idx: number, whenOffset: number, tag: string, ...statements: string[]) {
  return { entry: { idx, when: BASE + whenOffset, tag, breakpoints: true }, text: statements.join(BP) };
}

/** The app's bundled migrations followed by the given fake ones (so nothing real reads as unknown). */
function configWith(...fakes: ReturnType<typeof fake>[]): Config {
  return {
    journal: { entries: [...bundled.journal.entries, ...fakes.map((f) => f.entry)] },
    migrations: { ...bundled.migrations, ...Object.fromEntries(fakes.map((f) => [`m${String(f.entry.idx).padStart(4, "0")}`, f.text])) },
  };
}

let rooms = 0;
/** A fresh room (storage is per test file, not per test). */
function freshRoom() {
  rooms += 1;
  return env.ROOMS.get(env.ROOMS.idFromName(`migrations-${rooms}-${crypto.randomUUID().slice(0, 8)}`));
}

function tablesLike(sql: SqlStorage, prefix: string): string[] {
  return sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ORDER BY name", `${prefix}%`)
    .toArray()
    .map((row) => row.name);
}

function recorded(sql: SqlStorage, tags: string[]) {
  return sql
    .exec<{ hash: string; created_at: number }>(
      `SELECT hash, created_at FROM __drizzle_migrations WHERE hash IN (${tags.map(() => "?").join(", ")}) ORDER BY created_at`,
      ...tags,
    )
    .toArray()
    .map((row) => ({ hash: row.hash, created_at: Number(row.created_at) }));
}

describe("applyRoomMigrations", () => {
  it("drops the room's quota triggers before a pending migration, so it may drop a column they name", async () => {
    const room = `migrations-quota-${crypto.randomUUID().slice(0, 8)}`;
    const client = await clientFor(room);
    await client.tasks.create.mutate({ title: "counted", description: "0123456789" });
    await closeClients();
    const dropColumn = fake(950, 50, "0950_zz_drop_description", "ALTER TABLE tasks DROP COLUMN description");
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_room, state) => {
      // Without the hook the quota triggers block it, and nothing is applied.
      expect(() => applyRoomMigrations(state.storage, configWith(dropColumn))).toThrow(
        /error in trigger _quota_tasks_\w+ after drop column/,
      );
      const quotas = new TableQuotas(state.storage.sql);
      const before = quotas.usage("tasks");
      const report = applyRoomMigrations(state.storage, configWith(dropColumn), () => quotas.dropTriggers());
      expect(report.applied).toEqual(["0950_zz_drop_description"]);
      // Reinstalled over the new columns, the table is recounted without the dropped values.
      const columns = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM pragma_table_info('tasks')")
        .toArray()
        .map((row) => row.name);
      quotas.install([{ name: "tasks", columns, quota: { rows: 10, bytes: 100_000 } }]);
      expect(quotas.usage("tasks")).toEqual({ rows: 1, bytes: before.bytes - "0123456789".length });
    });
  });

  it("applies pending migrations in journal order, records them, and applies nothing the second time", async () => {
    const first = fake(900, 10, "0900_zz_order_table", "CREATE TABLE zz_order (id integer PRIMARY KEY, note text NOT NULL)");
    // Needs the table of 0900: only works in journal order, although its timestamp is older.
    const second = fake(901, 5, "0901_zz_order_row", "INSERT INTO zz_order (id, note) VALUES (1, 'after 0900')");
    await runInDurableObject(freshRoom(), (_room, state) => {
      const { sql } = state.storage;
      expect(applyRoomMigrations(state.storage, configWith(second, first))).toEqual({
        applied: ["0900_zz_order_table", "0901_zz_order_row"],
        total: bundled.journal.entries.length + 2,
        unknown: [],
      });
      expect(sql.exec("SELECT id, note FROM zz_order").toArray()).toEqual([{ id: 1, note: "after 0900" }]);
      expect(recorded(sql, [first.entry.tag, second.entry.tag])).toEqual([
        { hash: "0901_zz_order_row", created_at: BASE + 5 },
        { hash: "0900_zz_order_table", created_at: BASE + 10 },
      ]);

      expect(applyRoomMigrations(state.storage, configWith(first, second)).applied).toEqual([]);
      expect(sql.exec("SELECT count(*) AS n FROM zz_order").one()).toEqual({ n: 1 });
      expect(recorded(sql, [first.entry.tag, second.entry.tag])).toHaveLength(2);
    });
  });

  it("applies a migration merged later with an older timestamp, which drizzle's migrator skips (#5769)", async () => {
    const newer = fake(910, 2_000, "0910_zz_newer", "CREATE TABLE zz_newer (id integer PRIMARY KEY)");
    const olderMergedLater = fake(911, 1_000, "0911_zz_older", "CREATE TABLE zz_older (id integer PRIMARY KEY)");
    await runInDurableObject(freshRoom(), async (_room, state) => {
      const db = drizzle(state.storage);
      await migrate(db, configWith(newer));
      await migrate(db, configWith(newer, olderMergedLater));
      // Drizzle only looks at the newest timestamp it has recorded: 0911 is silently skipped.
      expect(tablesLike(state.storage.sql, "zz_")).toEqual(["zz_newer"]);

      expect(applyRoomMigrations(state.storage, configWith(newer, olderMergedLater)).applied).toEqual(["0911_zz_older"]);
      expect(tablesLike(state.storage.sql, "zz_")).toEqual(["zz_newer", "zz_older"]);
      expect(recorded(state.storage.sql, ["0911_zz_older"])).toEqual([{ hash: "0911_zz_older", created_at: BASE + 1_000 }]);
    });
  });

  it("recognises rows written by drizzle's migrator (empty hash) as applied and does not run them again", async () => {
    // Re-running this CREATE TABLE (no IF NOT EXISTS) would fail: not running it is observable.
    const old = fake(920, 100, "0920_zz_drizzle", "CREATE TABLE zz_drizzle (id integer PRIMARY KEY)", "INSERT INTO zz_drizzle VALUES (7)");
    await runInDurableObject(freshRoom(), async (_room, state) => {
      await migrate(drizzle(state.storage), configWith(old));
      const before = state.storage.sql.exec("SELECT hash, created_at FROM __drizzle_migrations WHERE created_at = ?", BASE + 100).toArray();
      expect(before).toEqual([{ hash: "", created_at: BASE + 100 }]);

      expect(applyRoomMigrations(state.storage, configWith(old))).toEqual({
        applied: [],
        total: bundled.journal.entries.length + 1,
        unknown: [],
      });
      expect(state.storage.sql.exec("SELECT id FROM zz_drizzle").toArray()).toEqual([{ id: 7 }]);
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM __drizzle_migrations WHERE created_at = ?", BASE + 100).one()).toEqual({
        n: 1,
      });
    });
  });

  it("throws RoomSchemaError naming the tag and statement of a failing migration, and rolls every migration back", async () => {
    const fine = fake(930, 10, "0930_zz_fine", "CREATE TABLE zz_fine (id integer PRIMARY KEY)");
    const broken = fake(
      931,
      20,
      "0931_zz_broken",
      "CREATE TABLE zz_half (id integer PRIMARY KEY)",
      "INSERT INTO zz_half VALUES (1)",
      "INSERT INTO zz_missing (id) VALUES (1)",
    );
    await runInDurableObject(freshRoom(), (_room, state) => {
      const before = state.storage.sql.exec("SELECT count(*) AS n FROM __drizzle_migrations").one();
      let thrown: unknown;
      try {
        applyRoomMigrations(state.storage, configWith(fine, broken));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(RoomSchemaError);
      const { message } = thrown as RoomSchemaError;
      expect(message).toContain("0931_zz_broken");
      expect(message).toContain("INSERT INTO zz_missing (id) VALUES (1)");
      expect(message).toMatch(/no such table: zz_missing/);

      expect(tablesLike(state.storage.sql, "zz_")).toEqual([]);
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM __drizzle_migrations").one()).toEqual(before);
    });
  });

  it("throws RoomSchemaError naming a journal entry whose SQL is missing, applying nothing", async () => {
    const fine = fake(940, 10, "0940_zz_before_gap", "CREATE TABLE zz_before_gap (id integer PRIMARY KEY)");
    const config = configWith(fine);
    config.journal.entries.push({ idx: 941, when: BASE + 20, tag: "0941_zz_gap", breakpoints: true });
    await runInDurableObject(freshRoom(), (_room, state) => {
      expect(() => applyRoomMigrations(state.storage, config)).toThrow(
        new RoomSchemaError("migration 0941_zz_gap is in the journal but its SQL is missing from the bundle"),
      );
      expect(tablesLike(state.storage.sql, "zz_")).toEqual([]);
    });
  });

  it("reports applied migrations the bundle does not know (the room is newer than the code)", async () => {
    const kept = fake(950, 10, "0950_zz_kept", "CREATE TABLE zz_kept (id integer PRIMARY KEY)");
    const rolledBack = fake(951, 20, "0951_zz_from_the_future", "CREATE TABLE zz_future (id integer PRIMARY KEY)");
    await runInDurableObject(freshRoom(), (_room, state) => {
      applyRoomMigrations(state.storage, configWith(kept, rolledBack));
      expect(applyRoomMigrations(state.storage, configWith(kept))).toEqual({
        applied: [],
        total: bundled.journal.entries.length + 1,
        unknown: [BASE + 20],
      });
      expect(tablesLike(state.storage.sql, "zz_")).toEqual(["zz_future", "zz_kept"]);
    });
  });
});

describe("verifyRoomSchema", () => {
  const notes = sqliteTable("zz_notes", { id: integer("id").primaryKey(), body: text("body").notNull() });
  const tasks = sqliteTable("zz_tasks", {
    id: integer("id").primaryKey(),
    title: text("title").notNull(),
    estimateMinutes: integer("estimate_minutes"),
  });

  it("reads a Drizzle table's SQL name and column names", () => {
    expect(expectedColumns(tasks)).toEqual({ name: "zz_tasks", columns: ["id", "title", "estimate_minutes"] });
  });

  it("passes when every table and column exists, extra ones included", async () => {
    const create = fake(
      960,
      10,
      "0960_zz_verify",
      "CREATE TABLE zz_notes (id integer PRIMARY KEY, body text NOT NULL, extra text)",
      "CREATE TABLE zz_tasks (id integer PRIMARY KEY, title text NOT NULL, estimate_minutes integer)",
    );
    await runInDurableObject(freshRoom(), (_room, state) => {
      applyRoomMigrations(state.storage, configWith(create));
      expect(() => verifyRoomSchema(state.storage.sql, [expectedColumns(notes), expectedColumns(tasks)])).not.toThrow();
    });
  });

  it("names every missing table and column in one message", async () => {
    const create = fake(970, 10, "0970_zz_behind", "CREATE TABLE zz_tasks (id integer PRIMARY KEY, title text NOT NULL)");
    await runInDurableObject(freshRoom(), (_room, state) => {
      applyRoomMigrations(state.storage, configWith(create));
      expect(() => verifyRoomSchema(state.storage.sql, [expectedColumns(notes), expectedColumns(tasks)])).toThrow(
        new RoomSchemaError(
          'room schema is behind the code: table "zz_notes" is missing; table "zz_tasks" has no column "estimate_minutes"' +
            " (run `npm run db:generate` and deploy the generated migration)",
        ),
      );
    });
  });
});
