/**
 * The seam between the engine and an app. `createAppApi({ schema, services })`
 * gives an app its procedure builders, typed with a Drizzle handle over the
 * app's room tables (`ctx.db`) and its services (`ctx.services`); `defineApp`
 * joins the app's routers with the engine's into the room's router and names
 * everything the engine needs to know of the app. Public: an app imports only
 * this (plus the builders it re-exports) to exist.
 *
 * @example
 * const api = createAppApi({ schema, services: (db) => ({ notes: new NoteStore(db) }) });
 * const notes = api.crud(schema.notes);
 * export const app = api.defineApp({ router: { notes: notes.procedures, replica: { notes: notes.replica } }, migrations });
 * export type AppRouter = typeof app.router;
 */
import type { AnyRouter, TRPCCreateRouterOptions } from "@trpc/server";
import type { z } from "zod";
import { replicatedTablesOf, tablesOf, type AnyReplicatedTable, type RoomTablesOf } from "../../schema/define";
import type { RoomContext, RoomDatabase } from "./context";
import { crud, type ColumnKey, type CrudOptions } from "./crud";
import { engineRouters, ENGINE_NAMESPACES } from "./engine-router";
import { adminProcedure, analyticsProcedure, middleware, readerProcedure, router, writerProcedure } from "./init";
import { changesProcedure, committed, liveProcedure, windowProcedure, type LiveQueryContext } from "./live-procedures";
import { proceduresOf } from "./procedures";
import { replicaProcedure } from "./replica-procedures";
import { REPLICA_PATH_PREFIX } from "../protocol/routes";
import { resolveRoomLimits, type RoomLimitsInput } from "../protocol/room-limits";

/** The room migrations drizzle-kit bundles as `drizzle/migrations.js` (journal plus SQL text per `mNNNN` key). */
export interface RoomMigrations {
  journal: { entries: readonly { idx: number; when: number; tag: string; breakpoints: boolean }[] };
  migrations: Record<string, string>;
}

/** What an app gives `createAppApi`. */
export interface AppSchemaDefinition<TSchema extends Record<string, unknown>, TServices> {
  /** The app's schema module (`import * as schema from "../../schema/app"`): every replicated table it exports is the app's. */
  schema: TSchema;
  /** Builds the app's services from the room's Drizzle handle, once per room (when it wakes). */
  services?: (db: RoomDatabase<RoomTablesOf<TSchema>>) => TServices;
}

/** A seed-protocol method (`{action:"rpc", method}`) and the procedure it runs. */
export type SeedMethodTarget = { path: string; type: "query" | "mutation" };

/** Everything the engine knows of an app: made by `defineApp`, consumed by `createNanotype` (src/server.ts). */
export interface AppDefinition<TRouter> {
  /** The room's router: the engine's namespaces and the app's. */
  router: TRouter;
  /** The app's replicated tables (the engine adds its own `_debounced_state`). */
  tables: readonly AnyReplicatedTable[];
  /** Drizzle schema of `ctx.db`: the app's room tables by export name. */
  roomSchema: Record<string, unknown>;
  /** The room's migrations (drizzle/migrations.js). */
  migrations: RoomMigrations;
  /** Builds the app's services for one room. */
  services: (db: RoomDatabase) => unknown;
  /** Extra seed-protocol methods (the engine's — setCursor, executeSQL, … — are always there). */
  seedMethods: Readonly<Record<string, SeedMethodTarget>>;
  /** The app's own room limits (src/protocol/room-limits.ts); a deployment's ROOM_LIMITS wins over them. */
  limits: RoomLimitsInput;
}

/** The room context as the app's procedures see it: typed `db` and `services`. */
export type AppContext<TSchema extends Record<string, unknown>, TServices> = Omit<RoomContext, "db" | "services"> & {
  db: RoomDatabase<RoomTablesOf<TSchema>>;
  services: TServices;
};

/** The app's procedure builders and helpers, typed for its schema and services. */
export function createAppApi<TSchema extends Record<string, unknown>, TServices = undefined>(
  definition: AppSchemaDefinition<TSchema, TServices>,
) {
  type Ctx = AppContext<TSchema, TServices>;
  const tables = replicatedTablesOf(definition.schema);
  const roomSchema = tablesOf(definition.schema, "room");
  // Narrows the context's types only: `db` and `services` are what the room built from this definition.
  const typed = middleware(({ ctx, next }) => next({ ctx: ctx as unknown as Ctx }));

  return {
    router,
    /** Queries and subscriptions: any role. */
    readerProcedure: readerProcedure.use(typed),
    /** Mutations: writer or admin. */
    writerProcedure: writerProcedure.use(typed),
    /** Administration: admin only. */
    adminProcedure: adminProcedure.use(typed),
    /** Analytics: admin, or the `analytics` grant. */
    analyticsProcedure: analyticsProcedure.use(typed),
    /** The CRUD builder (crud.ts), with `stamp` callbacks that see the app's typed context. */
    crud<T extends AnyReplicatedTable, TServer extends ColumnKey<T> = never, TFilter extends ColumnKey<T> = never>(
      table: T,
      options: CrudOptions<T, TServer, TFilter, Ctx & RoomContext> = {},
    ) {
      return crud<T, TServer, TFilter>(table, options as unknown as CrudOptions<T, TServer, TFilter>);
    },
    changesProcedure,
    /** A live query whose `run` sees the app's typed context (see live-procedures.ts). */
    liveProcedure<TInput extends Parameters<typeof liveProcedure>[1], Result>(
      tables: Parameters<typeof liveProcedure>[0],
      input: TInput,
      run: (ctx: Omit<Ctx, "identity" | "connectionParams" | "socket">, input: z.output<TInput>) => Result,
    ) {
      return liveProcedure(tables, input, run as unknown as (ctx: LiveQueryContext, input: z.output<TInput>) => Result);
    },
    /** An incremental live query over a window of one table: a snapshot, then diffs (see live-procedures.ts). */
    windowProcedure,
    replicaProcedure,
    committed,

    /**
     * The app as the engine takes it: `routes` (your namespaces; the engine's
     * — session, presence, memory, debounced, sql, sync — are added and may not
     * be reused), the room migrations, optional seed-protocol methods, and
     * optional room limits (rate, caps and quotas; see the README's limits table).
     */
    defineApp<TRoutes extends TRPCCreateRouterOptions>(app: {
      router: TRoutes;
      migrations: RoomMigrations;
      seedMethods?: Record<string, SeedMethodTarget>;
      limits?: RoomLimitsInput;
    }) {
      // A bad setting fails here, when the Worker loads, not in a room.
      resolveRoomLimits(app.limits, undefined);
      for (const name of Object.keys(app.router)) {
        if ((ENGINE_NAMESPACES as readonly string[]).includes(name)) {
          throw new Error(`the app's router may not define "${name}": the engine serves ${ENGINE_NAMESPACES.join(", ")}`);
        }
      }
      const full = router({ ...engineRouters, ...app.router });
      assertReplicaPaths(full);
      const services = definition.services ?? (() => undefined);
      return {
        router: full,
        tables,
        roomSchema,
        migrations: app.migrations,
        services: services as (db: RoomDatabase) => unknown,
        seedMethods: app.seedMethods ?? {},
        limits: app.limits ?? {},
      } satisfies AppDefinition<typeof full>;
    },
  };
}

/**
 * Replica reads are recognised twice: clients send paths under `replica.` over
 * HTTP, and the Worker serves procedures marked `meta.replica` from D1. The two
 * must agree, or a read would never reach D1 (or take a needless hop).
 */
function assertReplicaPaths(appRouter: AnyRouter): void {
  for (const [path, info] of proceduresOf(appRouter)) {
    const underPrefix = path.startsWith(REPLICA_PATH_PREFIX);
    const isReplicaRead = info.meta?.replica === true;
    if (underPrefix && !isReplicaRead) {
      throw new Error(`"${path}" is under "${REPLICA_PATH_PREFIX}" but is not a replica read: build it with replicaProcedure, or move it`);
    }
    if (isReplicaRead && !underPrefix) {
      throw new Error(`replica read "${path}" must live under "${REPLICA_PATH_PREFIX}" (clients send only those to the replica)`);
    }
  }
}
