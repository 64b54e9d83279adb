/**
 * Version 2 of the schema-change test app (test/node/schema-change.test.ts):
 * version 1 (../v1/schema.ts) plus a nullable column on `items`
 * (`estimate_minutes`) and a new replicated table, `labels`.
 */
import { integer, text } from "drizzle-orm/sqlite-core";
import { replicatedTable } from "../../../../schema/define";

export const items = replicatedTable("items", () => ({
  title: text("title").notNull(),
  /** New in version 2: rows written before it read null. */
  estimate_minutes: integer("estimate_minutes"),
}));

/** New in version 2. */
export const labels = replicatedTable("labels", () => ({
  name: text("name").notNull(),
}));
