// Lint rules that protect what review cannot: no floating promises in a
// Durable Object (a dropped promise is a lost write) and imports that flow one
// way: worker → room → rpc → features → protocol/schema → lib.
import tseslint from "typescript-eslint";

/** Forbids importing the given src/ modules from a folder (type-only imports too, unless allowed). */
function fence(files, forbidden, allowTypeImports = false) {
  return {
    files,
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(${forbidden.join("|")})(/|$)`,
              message: "Imports flow one way: worker → room → rpc → features → protocol/schema → lib (see docs/architecture.md).",
              allowTypeImports,
            },
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      ".wrangler/",
      "worker-configuration.d.ts",
      "drizzle/",
      "migrations/",
      "test/bench/results/",
      "public/",
      ".types/",
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  fence(["src/lib/**"], ["auth", "tasks", "sql", "live", "rpc", "room", "client", "protocol", "http", "service", "worker"]),
  fence(["src/protocol/**"], ["auth", "tasks", "sql", "live", "rpc", "room", "client", "http", "service", "worker"]),
  fence(["src/auth/**", "src/tasks/**", "src/sql/**", "src/live/**"], ["rpc", "room", "client", "http", "service", "worker"]),
  fence(["src/rpc/**"], ["room", "client", "http", "service", "worker"]),
  fence(["src/room/**"], ["client", "http", "service", "worker"]),
  // The Worker's transports (HTTP endpoint, service entrypoint) sit beside worker.ts: they reach rooms only through bindings.
  fence(["src/http/**", "src/service/**"], ["room", "client", "worker"], true),
  // The demo page (web/) runs in browsers: the typed client and plain constants from
  // src/lib/limits.ts, never server code (types are fine).
  {
    files: ["web/**"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^\\.\\./(src/(?!client(/|$)|lib/limits$)|schema(/|$))",
              message: "web/ is browser code: import the client (../src/client) and ../src/lib/limits only; server modules as types only.",
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  // The client runs in browsers: it may import server types, never server code.
  fence(["src/client/**"], ["auth", "tasks", "sql", "live", "rpc", "room", "lib", "http", "service", "worker", "schema"], true),
);
