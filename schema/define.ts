/**
 * One table definition, two table sets. `replicatedTable` turns a column list
 * into the room's table (integer `id` primary key) and its D1 replica twin
 * (`room_id` first in the primary key and in every index). Used by schema/*.ts.
 */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex, type SQLiteColumnBuilderBase } from "drizzle-orm/sqlite-core";

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
  return { name, room, replica } as const;
}
