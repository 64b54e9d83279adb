/**
 * The engine's own namespaces, present in every room whatever the app:
 * session, presence (cursors and who is here), memory (TTL cache), debounced
 * writes, read-only SQL, sync status and the room inspector (admin). `defineApp` (app-api.ts) adds the
 * app's namespaces beside them.
 */
import { adminRouter } from "./admin-router";
import { debouncedRouter } from "./debounced-router";
import { memoryRouter } from "./memory-router";
import { presenceRouter } from "./presence-router";
import { sessionRouter } from "./session-router";
import { sqlRouter } from "./sql-router";
import { syncRouter } from "./sync-router";

export const engineRouters = {
  session: sessionRouter,
  presence: presenceRouter,
  memory: memoryRouter,
  debounced: debouncedRouter,
  sql: sqlRouter,
  sync: syncRouter,
  admin: adminRouter,
};

/** Namespaces an app may not define. */
export const ENGINE_NAMESPACES = Object.keys(engineRouters) as readonly (keyof typeof engineRouters)[];
