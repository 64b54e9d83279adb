/**
 * Version 1 of the schema-change test app (test/node/schema-change.test.ts):
 * one replicated table, `items` (title). Version 2 (../v2/schema.ts) adds a
 * column and a table.
 */
import { text } from "drizzle-orm/sqlite-core";
import { replicatedTable } from "../../../../schema/define";

export const items = replicatedTable("items", () => ({
  title: text("title").notNull(),
}));
