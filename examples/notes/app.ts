/**
 * The notes app: a second app on nanotypeDB's seam, built only from the public
 * pieces (`createAppApi`, `crud`, the procedure builders). Its tables are in
 * ./schema.ts; ./worker.ts hands `app` to the engine. `notes.*` and
 * `replica.notes.*` come from the CRUD builder; `slugs.*` is written by hand.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import { createAppApi } from "../../src/rpc/app-api";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema";

const { notes } = schema;
const api = createAppApi({ schema });
const { router, readerProcedure, replicaProcedure } = api;

/** Longest note title, in characters. */
export const MAX_NOTE_TITLE_CHARS = 200;
/** Longest slug, in characters. */
export const MAX_SLUG_CHARS = 64;
/** Most tags on one note. */
export const MAX_NOTE_TAGS = 10;

const slug = z
  .string({ error: "slug must be a string" })
  .max(MAX_SLUG_CHARS, { error: `slug must be at most ${MAX_SLUG_CHARS} characters` })
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, { error: "slug must be lower-case letters and digits, words joined by -" });

/** `meta` as the app accepts it (the column itself stores any JSON). */
const meta = z.strictObject({
  tags: z.array(z.string().min(1).max(32)).max(MAX_NOTE_TAGS, { error: `a note has at most ${MAX_NOTE_TAGS} tags` }),
  color: z
    .string()
    .regex(/^#[0-9a-f]{6}$/, { error: "color must look like #a1b2c3" })
    .optional(),
});

const notesApi = api.crud(notes, {
  serverFields: ["created_by", "created_at", "updated_at"],
  stamp: {
    create: (ctx) => {
      const at = new Date();
      return { created_by: ctx.identity.sub, created_at: at, updated_at: at };
    },
    update: () => ({ updated_at: new Date() }),
  },
  // drizzle-zod refinements: callbacks refine the derived schema and keep its optionality (optional on update, nullable `meta`).
  fields: {
    title: (derived) =>
      derived
        .trim()
        .min(1, { error: "title must not be empty" })
        .max(MAX_NOTE_TITLE_CHARS, { error: `title must be at most ${MAX_NOTE_TITLE_CHARS} characters` }),
    slug: () => slug,
    meta: () => meta,
  },
  filters: ["pinned"],
});

const slugInput = z.strictObject({ slug });

export const app = api.defineApp({
  router: {
    notes: notesApi.procedures,
    /** Hand-written: a note by its slug, or null. */
    slugs: router({
      resolve: readerProcedure
        .input(slugInput)
        .query(({ ctx, input }) => ctx.db.select().from(notes.room).where(eq(notes.room.slug, input.slug)).get() ?? null),
    }),
    replica: {
      notes: notesApi.replica,
      /** Hand-written replica read: like `slugs.resolve`, served from D1 over HTTP. */
      slugs: router({
        resolve: replicaProcedure(
          slugInput,
          async (reader, input) => (await reader.rows(notes, { where: (t) => eq(t.slug, input.slug), limit: 1 }))[0] ?? null,
        ),
      }),
    },
  },
  migrations,
});

/** The type of the notes app's API. Import it as a type only. */
export type AppRouter = typeof app.router;
