/**
 * One table definition, two table sets. `replicatedTable` turns a column list
 * into the room's table (integer `id` primary key) and its D1 replica twin
 * (`room_id` first in the primary key and in every index). `tablesOf`
 * collects those of a schema module (the app's `schema/app.ts`)
 * for the engine, Drizzle and drizzle-kit. Public: apps define tables with it.
 */
import {
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
  type SQLiteColumnBuilderBase,
  type SQLiteTableWithColumns,
} from "drizzle-orm/sqlite-core";

/** Marks the value `replicatedTable` returns, so a schema module's other exports (constants, types) are skipped. */
const REPLICATED = Symbol.for("nanotypedb.replicatedTable");

/**
 * Table names the engine owns or SQLite reserves: an app table may not use
 * them. Names starting with `_` or `sqlite_` are reserved as a whole.
 */
export const RESERVED_TABLE_PREFIXES = ["_", "sqlite_", "d1_", "cf_"] as const;

/** An index on a replicated table, named without the table prefix. */
export interface IndexSpec<TKey extends string> {
  readonly name: string;
  readonly columns: readonly [TKey, ...TKey[]];
  /** A unique index (in the replica: unique per room). */
  readonly unique?: boolean;
}

/**
 * Defines a table once for both the room (Durable Object SQLite) and the D1
 * replica. `columns` is called once per target so each gets fresh builders.
 *
 * @example
 * export const tasks = replicatedTable("tasks", () => ({ title: text("title").notNull() }), [
 *   { name: "title", columns: ["title"] },
 * ]);
 * tasks.room;    // sqliteTable "tasks" (id INTEGER PRIMARY KEY AUTOINCREMENT, title)
 * tasks.replica; // sqliteTable "tasks" (room_id, id, title, _seq), PRIMARY KEY (room_id, id)
 */
export function replicatedTable<TName extends string, TColumns extends Record<string, SQLiteColumnBuilderBase>>(
  name: TName,
  columns: () => TColumns,
  indexes: readonly IndexSpec<Extract<keyof TColumns, string> | "id">[] = [],
) {
  // AUTOINCREMENT: ids are never reused after a delete, so a change feed or a
  // client cache never confuses a new row with a deleted one.
  const room = sqliteTable(name, { id: integer("id").primaryKey({ autoIncrement: true }), ...columns() }, (t) =>
    indexes.map((spec) => {
      const [first, ...rest] = spec.columns.map((column) => t[column]);
      return (spec.unique ? uniqueIndex : index)(`${name}_${spec.name}_idx`).on(first!, ...rest);
    }),
  );
  const replica = sqliteTable(
    name,
    {
      room_id: text("room_id").notNull(),
      id: integer("id").notNull(),
      ...columns(),
      /** The room's change seq this row state comes from; the sync engine never replaces a row with an older one. */
      _seq: integer("_seq").notNull().default(0),
    },
    (t) => [
      primaryKey({ columns: [t.room_id, t.id] }),
      ...indexes.map((spec) =>
        (spec.unique ? uniqueIndex : index)(`${name}_${spec.name}_idx`).on(t.room_id, ...spec.columns.map((column) => t[column])),
      ),
    ],
  );
  const definition = { name, room, replica } as const;
  Object.defineProperty(definition, REPLICATED, { value: true });
  return definition;
}

/** Any table made by `replicatedTable`. */
export interface AnyReplicatedTable {
  readonly name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any table's columns
  readonly room: SQLiteTableWithColumns<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any table's columns
  readonly replica: SQLiteTableWithColumns<any>;
}

/** True for the values `replicatedTable` returns. */
export function isReplicatedTable(value: unknown): value is AnyReplicatedTable {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[REPLICATED] === true;
}

/** The export names of a schema module that are replicated tables. */
export type ReplicatedKeys<TSchema> = {
  [K in keyof TSchema]: TSchema[K] extends { readonly room: unknown; readonly replica: unknown; readonly name: string } ? K : never;
}[keyof TSchema];

/** The room tables of a schema module, by export name: the Drizzle schema of `ctx.db`. */
export type RoomTablesOf<TSchema> = { [K in ReplicatedKeys<TSchema> & string]: TSchema[K] extends { readonly room: infer R } ? R : never };

/** The replicated tables of a schema module, in export order, after checking their names. */
export function replicatedTablesOf(schema: Record<string, unknown>): AnyReplicatedTable[] {
  const tables = Object.values(schema).filter(isReplicatedTable);
  const seen = new Set<string>();
  for (const table of tables) {
    const reserved = RESERVED_TABLE_PREFIXES.find((prefix) => table.name.startsWith(prefix));
    if (reserved) throw new Error(`table "${table.name}": names starting with "${reserved}" are reserved for the engine and SQLite`);
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(table.name)) {
      throw new Error(`table "${table.name}": use lower-case letters, digits and "_", starting with a letter (at most 63 characters)`);
    }
    if (seen.has(table.name)) throw new Error(`table "${table.name}" is defined twice`);
    seen.add(table.name);
  }
  return tables;
}

/**
 * `{ exportName: table }` of one target of a schema module (its room tables:
 * the Drizzle schema of `ctx.db`; or its replica twins, for drizzle-kit),
 * after checking the tables' names.
 */
export function tablesOf<TSchema extends Record<string, unknown>>(schema: TSchema, target: "room"): RoomTablesOf<TSchema>;
export function tablesOf(schema: Record<string, unknown>, target: "room" | "replica"): Record<string, AnyReplicatedTable["room"]>;
export function tablesOf(schema: Record<string, unknown>, target: "room" | "replica"): Record<string, AnyReplicatedTable["room"]> {
  const named = new Set(replicatedTablesOf(schema));
  return Object.fromEntries(
    Object.entries(schema).flatMap(([key, value]) => (isReplicatedTable(value) && named.has(value) ? [[key, value[target]]] : [])),
  );
}
