/** Test-only bindings added in vitest.config.ts. */
declare namespace Cloudflare {
  interface Env {
    AUTH_SECRET: string;
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}
