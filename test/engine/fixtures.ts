/**
 * The apps the engine suite (test/engine/) runs against, described only by
 * what the suite needs: the table, inputs, procedure paths and the app's
 * Worker module. Each engine project of vitest.config.ts names its app in the
 * APP_FIXTURE binding; `appFixture()` returns that app's fixture.
 */
import { env } from "cloudflare:test";

/** The procedure paths of one replicated table's API, as the CRUD builder names them. */
export interface TablePaths {
  create: string;
  get: string;
  list: string;
  update: string;
  delete: string;
  changes: string;
  live: string;
  replicaList: string;
  replicaGet: string;
}

/** A Room class as the suite spies on it (the room's entry points). */
interface RoomPrototype {
  call(...args: never[]): unknown;
  fetch(...args: never[]): unknown;
  webSocketMessage(...args: never[]): unknown;
}

export interface AppFixture {
  name: "tasks" | "notes";
  /** The replicated table the suite writes. */
  table: string;
  /** A text column that `create(label)` sets to `label`. */
  labelColumn: string;
  /** A valid create input whose label column is `label`; unique columns get fresh values on every call. */
  create(label: string): Record<string, unknown>;
  /**
   * An update (without `id`): the column it changes, the value set (as the API
   * returns it) and the value SQLite stores before and after.
   */
  update: { set: Record<string, unknown>; column: string; stored: { before: unknown; after: unknown } };
  /** A create input the app refuses, and the field its validation issue names. */
  invalid: { input: Record<string, unknown>; field: string };
  paths: TablePaths;
  /** The app's Worker module: the same module instance the runtime serves (for spying on its Room). */
  worker(): Promise<{ Room: { prototype: RoomPrototype } }>;
}

function pathsOf(table: string): TablePaths {
  return {
    create: `${table}.create`,
    get: `${table}.get`,
    list: `${table}.list`,
    update: `${table}.update`,
    delete: `${table}.delete`,
    changes: `${table}.changes`,
    live: `${table}.live`,
    replicaList: `replica.${table}.list`,
    replicaGet: `replica.${table}.get`,
  };
}

let notes = 0;

const FIXTURES: Record<AppFixture["name"], AppFixture> = {
  /** The task board (src/app/): hand-written procedures on the seam. */
  tasks: {
    name: "tasks",
    table: "tasks",
    labelColumn: "title",
    create: (label) => ({ title: label }),
    update: { set: { status: "in_progress" }, column: "status", stored: { before: "pending", after: "in_progress" } },
    invalid: { input: { title: 42 }, field: "title" },
    paths: pathsOf("tasks"),
    worker: () => import("../../src/worker"),
  },
  /** The notes app (examples/notes/): the CRUD builder, a boolean, a JSON column, a unique slug. */
  notes: {
    name: "notes",
    table: "notes",
    labelColumn: "title",
    create: (label) => {
      notes += 1;
      return { title: label, slug: `note-${notes}-${crypto.randomUUID().slice(0, 8)}`, meta: { tags: ["engine"] } };
    },
    update: { set: { pinned: true }, column: "pinned", stored: { before: 0, after: 1 } },
    invalid: { input: { title: "fine", slug: "Not A Slug" }, field: "slug" },
    paths: pathsOf("notes"),
    worker: () => import("../../examples/notes/worker"),
  },
};

/** The fixture of the app under test (the project's APP_FIXTURE binding). */
export function appFixture(): AppFixture {
  const fixture = FIXTURES[env.APP_FIXTURE];
  if (!fixture) throw new Error(`APP_FIXTURE must be one of ${Object.keys(FIXTURES).join(", ")}, got ${String(env.APP_FIXTURE)}`);
  return fixture;
}
