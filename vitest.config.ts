/**
 * Three test projects: `workers` runs inside workerd (the real runtime: Durable
 * Objects, SQLite, D1, WebSockets); `node` checks the repository itself
 * (generated migrations, configuration, docs); `browser` drives the demo page
 * in Chromium against `wrangler dev` (skipped with a message when Chromium is
 * missing locally; a failure in CI).
 */
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** The HS256 secret of the test environment; tests sign tokens with env.AUTH_SECRET. */
const TEST_AUTH_SECRET = "test-secret-for-vitest-only-0123456789abcdef";

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                // Override anything a local .dev.vars provides, so tests see the
                // deployable configuration plus a test secret.
                // Short cursor/presence TTLs let expiry tests run in real time; the
                // documented defaults (30 s / 60 s) are covered by unit tests.
                bindings: {
                  AUTH_SECRET: TEST_AUTH_SECRET,
                  DEV_TOKENS: "false",
                  CURSOR_TTL_MS: "2000",
                  PRESENCE_TTL_MS: "3000",
                  TEST_MIGRATIONS: migrations,
                },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/workers/**/*.test.ts"],
            setupFiles: ["./test/workers/setup.ts"],
            testTimeout: 20_000,
          },
        },
        {
          test: {
            name: "node",
            include: ["test/node/**/*.test.ts"],
            environment: "node",
            testTimeout: 60_000,
          },
        },
        {
          // The demo page in Debian's Chromium against `wrangler dev` (test/browser/).
          // Runs after the other projects (groupOrder), so it has the machine to itself.
          test: {
            name: "browser",
            include: ["test/browser/**/*.test.ts"],
            environment: "node",
            globalSetup: ["./test/browser/global-setup.ts"],
            testTimeout: 60_000,
            hookTimeout: 120_000,
            sequence: { groupOrder: 1 },
          },
        },
      ],
    },
  };
});
