/**
 * The notes app's tables: the one list of what it stores (a second app on
 * nanotypeDB's seam, beside the task board). Every replicated table exported
 * here is the app's; drizzle-kit reads it through ./drizzle.config.ts and the
 * engine through ./app.ts.
 */
import { integer, text } from "drizzle-orm/sqlite-core";
import { replicatedTable } from "../../schema/define";

/** Free-form metadata kept with a note, stored as JSON text. */
export interface NoteMeta {
  tags: string[];
  color?: string;
}

export const notes = replicatedTable(
  "notes",
  () => ({
    title: text("title").notNull(),
    /** The note's address within the room: unique per room. */
    slug: text("slug").notNull(),
    body: text("body").notNull().default(""),
    pinned: integer("pinned", { mode: "boolean" }).notNull().default(false),
    meta: text("meta", { mode: "json" }).$type<NoteMeta>(),
    /** User id that created the note (the authenticated caller). */
    created_by: text("created_by").notNull(),
    created_at: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updated_at: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  }),
  [
    { name: "slug", columns: ["slug"], unique: true },
    { name: "pinned", columns: ["pinned", "id"] },
  ],
);

/** A note row as stored in a room. */
export type Note = typeof notes.room.$inferSelect;
