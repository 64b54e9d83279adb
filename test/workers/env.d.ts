/** Test-only bindings added in vitest.config.ts. */
declare namespace Cloudflare {
  interface Env {
    AUTH_SECRET: string;
    // eslint-disable-next-line @typescript-eslint/consistent-type-imports -- a global declaration cannot import
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** The example consumer Worker (examples/consumer), which calls rooms through the RoomService binding. */
    CONSUMER: Fetcher;
    /** The `limits` project's room limits (JSON), as a deployment sets them. */
    ROOM_LIMITS?: string;
  }
}
