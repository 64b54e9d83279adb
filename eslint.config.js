// Lint rules that protect what review cannot: no floating promises in a
// Durable Object (a dropped promise is a lost write), imports that flow one way
// (fences generated from the one list of layers in scripts/layers.mjs), and no
// import cycles.
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";
import { FEATURES, LAYERS, NARROWER, TOP_LEVEL, pathOf } from "./scripts/layers.mjs";

/** The layers as one line for messages: `lib → protocol → schema → features → rpc → …`. */
const ORDER = LAYERS.map((layer) => (layer === FEATURES ? "features" : layer.join("/"))).join(" → ");
const SEE = "see scripts/layers.mjs and docs/architecture.md";

const isFile = (module) => module.endsWith(".ts");
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The files of a module, as ESLint globs. */
function filesOf(module) {
  return isFile(module) ? [pathOf(module)] : [`${pathOf(module)}/**`];
}

/**
 * A regex for the import specifiers by which a file of `importer` reaches `target`:
 * `../target` from a folder under src/, `./target` from a file directly in src/,
 * `../src/target` from a top-level folder (`../schema` for a top-level target).
 */
function specifierRegex(importer, target) {
  const toTop = TOP_LEVEL.includes(target);
  let prefix = "(\\.\\./)+";
  if (TOP_LEVEL.includes(importer) && !toTop) prefix = "(\\.\\./)+src/";
  else if (isFile(importer)) prefix = toTop ? "\\.\\./" : "\\./";
  const name = isFile(target) ? `${escape(target.slice(0, -3))}(\\.[jt]s)?$` : `${escape(target)}(/|$)`;
  return `^${prefix}${name}`;
}

/** The fence around one module: what it may not import at all, and what only as types. */
function fence(module, rank) {
  const below = LAYERS.slice(0, rank).flat();
  const above = LAYERS.slice(rank + 1).flat();
  const narrower = NARROWER[module];
  const never = narrower?.never ?? [];
  const typesOnly = narrower?.typesOnly ?? below.filter((target) => narrower?.valuesFrom && !narrower.valuesFrom.includes(target));
  const patterns = [
    ...above.map((target) => ({
      regex: specifierRegex(module, target),
      message: `Imports flow one way: ${module} must not import ${target}, a higher layer, not even its types (${ORDER}; ${SEE}).`,
      allowTypeImports: false,
    })),
    ...never.map((target) => ({
      regex: specifierRegex(module, target),
      message: `Imports flow one way: ${module} must not import ${target}, not even its types: ${narrower.why} (${SEE}).`,
      allowTypeImports: false,
    })),
    ...typesOnly
      .filter((target) => !never.includes(target))
      .map((target) => ({
        regex: specifierRegex(module, target),
        message: `Imports flow one way: ${module} may import only types from ${target} (\`import type\`): ${narrower.why} (${SEE}).`,
        allowTypeImports: true,
      })),
  ];
  return { files: filesOf(module), rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns }] } };
}

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      "**/.wrangler/",
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
    files: ["**/*.{ts,tsx}"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  ...LAYERS.flatMap((layer, rank) => layer.map((module) => fence(module, rank))),
  // No import cycles anywhere: a cycle makes module order decide whether a value is still undefined.
  // Type-only imports are not followed (they vanish at runtime; the fences keep them flowing one way between
  // layers), nor are packages (their graphs are large and not ours).
  {
    files: ["**/*.{ts,js,mjs}"],
    plugins: { "import-x": importX },
    settings: {
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js", ".mjs", ".json"] })],
      "import-x/extensions": [".ts", ".js", ".mjs"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
    },
    rules: { "import-x/no-cycle": ["error", { ignoreExternal: true }] },
  },
);
