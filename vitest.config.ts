/**
 * Six test projects: `workers` runs inside workerd (the real runtime: Durable
 * Objects, SQLite, D1, WebSockets, service bindings); `node` checks the
 * repository itself (generated migrations, configuration, docs); `browser`
 * drives the demo page in Chromium against `wrangler dev` (skipped with a
 * message when Chromium is missing locally; a failure in CI).
 *
 * `limits` runs test/limits/ inside workerd against the task board with every
 * configurable room limit set low through ROOM_LIMITS, so each is tested at its edge.
 *
 * `engine-tasks` and `engine-notes` run the engine's behaviour suite
 * (test/engine/) inside workerd against each app: the task board (the
 * repository's wrangler.toml) and the notes app (examples/notes), each told
 * its fixture through the APP_FIXTURE binding (test/engine/fixtures.ts).
 *
 * The `workers` project also runs the example consumer Worker
 * (examples/consumer) as an auxiliary Worker, bound to the RoomService
 * entrypoint of the Worker under test exactly as its wrangler.toml says. It is
 * bundled here, by wrangler from that wrangler.toml, each time the suite starts.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { cloudflareTest, getRunnerName, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import type { TestProject } from "vitest/node";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/** The HS256 secret of the test environment; tests sign tokens with env.AUTH_SECRET. */
const TEST_AUTH_SECRET = "test-secret-for-vitest-only-0123456789abcdef";

/**
 * The Worker configuration every workerd project shares: anything a local
 * .dev.vars provides is overridden, so tests see the deployable configuration
 * plus a test secret. Short cursor/presence TTLs let expiry tests run in real
 * time; the documented defaults (30 s / 60 s) are covered by unit tests.
 */
const TEST_BINDINGS = {
  AUTH_SECRET: TEST_AUTH_SECRET,
  DEV_TOKENS: "false",
  CURSOR_TTL_MS: "2000",
  PRESENCE_TTL_MS: "3000",
};

/** The room limits of the `limits` project (test/limits/ reads them from env.ROOM_LIMITS): small enough to reach each edge. */
const TEST_ROOM_LIMITS = {
  requestsPerSecond: 20,
  requestBurst: 40,
  socketsPerUser: 3,
  socketsPerRoom: 6,
  subscriptionsPerUser: 20,
  subscriptionsPerRoom: 40,
  table: { rows: 10, bytes: 25_000 },
  debouncedKeys: 5,
  debouncedBytes: 2_000,
  mutationIdsPerUser: 3,
  mutationIdsPerRoom: 6,
  mutationIdTtlMs: 1_500,
};

/** The apps the engine suite runs against; `test/engine/<app>.test.ts` holds one app's own assertions. */
const ENGINE_FIXTURES = ["tasks", "notes"] as const;

/**
 * One project of the engine suite (test/engine/): the app of `configPath`,
 * told its fixture by APP_FIXTURE, without the other apps' own test files.
 */
function engineProject(
  fixture: (typeof ENGINE_FIXTURES)[number],
  configPath: string,
  migrations: Awaited<ReturnType<typeof readD1Migrations>>,
) {
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath },
        miniflare: { bindings: { ...TEST_BINDINGS, TEST_MIGRATIONS: migrations, APP_FIXTURE: fixture } },
      }),
    ],
    test: {
      name: `engine-${fixture}`,
      include: ["test/engine/**/*.test.ts"],
      exclude: ENGINE_FIXTURES.filter((other) => other !== fixture).map((other) => `test/engine/${other}.test.ts`),
      setupFiles: ["./test/workers/setup.ts"],
      testTimeout: 20_000,
    },
  };
}

const WORKERS_PROJECT = "workers";
/** The name the consumer's wrangler.toml gives this Worker (`service = "nanotypedb"`). */
const SERVICE_NAME = "nanotypedb";
const CONSUMER_CONFIG = "examples/consumer/wrangler.toml";
const CONSUMER_BUNDLE = resolve(".wrangler/test/consumer");

/**
 * Bundles the consumer Worker with wrangler (offline, ≈ 1 s) and returns its
 * Miniflare options. The Worker under test runs under the plugin's runner
 * name, so the consumer's binding to "nanotypedb" is pointed at the runner.
 */
function consumerWorker() {
  const bin = resolve("node_modules/.bin");
  execFileSync(resolve(bin, "wrangler"), ["deploy", "--dry-run", "--outdir", CONSUMER_BUNDLE, "-c", CONSUMER_CONFIG], {
    stdio: "pipe",
    // node_modules/.bin first: wrangler's shebang then finds the project's Node 22.
    env: { ...process.env, PATH: `${bin}:${process.env["PATH"] ?? ""}`, WRANGLER_SEND_METRICS: "false" },
  });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(CONSUMER_CONFIG);
  const runner = getRunnerName({ name: WORKERS_PROJECT } as TestProject);
  const serviceBindings = Object.fromEntries(
    Object.entries(workerOptions.serviceBindings ?? {}).map(([binding, target]) => [
      binding,
      typeof target === "object" && "name" in target && target.name === SERVICE_NAME ? { ...target, name: runner } : target,
    ]),
  );
  return {
    name: "nanotype-consumer",
    modules: true,
    scriptPath: resolve(CONSUMER_BUNDLE, "index.js"),
    compatibilityDate: String(workerOptions.compatibilityDate),
    compatibilityFlags: (workerOptions.compatibilityFlags ?? []) as string[],
    serviceBindings,
  };
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  const notesMigrations = await readD1Migrations("./examples/notes/migrations");
  const consumer = consumerWorker();
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: { ...TEST_BINDINGS, TEST_MIGRATIONS: migrations },
                // The example consumer Worker, reachable from tests as env.CONSUMER.
                serviceBindings: { CONSUMER: consumer.name },
                workers: [consumer],
              },
            }),
          ],
          test: {
            name: WORKERS_PROJECT,
            include: ["test/workers/**/*.test.ts"],
            setupFiles: ["./test/workers/setup.ts"],
            testTimeout: 20_000,
          },
        },
        {
          // The task board with every configurable room limit set low (test/limits/):
          // each limit tested at its edge, through the same ROOM_LIMITS a deployment sets.
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: { bindings: { ...TEST_BINDINGS, TEST_MIGRATIONS: migrations, ROOM_LIMITS: JSON.stringify(TEST_ROOM_LIMITS) } },
            }),
          ],
          test: {
            name: "limits",
            include: ["test/limits/**/*.test.ts"],
            setupFiles: ["./test/workers/setup.ts"],
            testTimeout: 20_000,
          },
        },
        engineProject("tasks", "./wrangler.toml", migrations),
        engineProject("notes", "./examples/notes/wrangler.toml", notesMigrations),
        {
          // The room's migrations (drizzle/migrations.js) import .sql files as text, as wrangler's rules do.
          plugins: [
            {
              name: "sql-as-text",
              transform: (code: string, id: string) => (id.endsWith(".sql") ? `export default ${JSON.stringify(code)};` : null),
            },
          ],
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
