/**
 * `_debounced_state`: the persisted values of the debounced writer (one row per
 * key, written at most once per interval per key). Replicated like any table.
 */
import { integer, text } from "drizzle-orm/sqlite-core";
import { replicatedTable } from "./define";

export const debouncedState = replicatedTable(
  "_debounced_state",
  () => ({
    key: text("key").notNull(),
    /** The value as JSON text. */
    value: text("value").notNull(),
    updated_at: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    /** User id of the last update flushed. */
    updated_by: text("updated_by").notNull(),
  }),
  [{ name: "key", columns: ["key"], unique: true }],
);
