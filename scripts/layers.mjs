// The layers of the code, lowest first: the one list that eslint.config.js turns
// into import fences and test/node/layers.test.ts holds against src/. A module
// may import its own layer and the layers below it, never one above (not even
// its types), unless NARROWER gives it less. Public to the lint config, tests and docs.

/**
 * Features: each gets what it needs (Drizzle handle, storage, clock) as arguments. They may import one another, without cycles.
 * @type {readonly string[]}
 */
export const FEATURES = ["auth", "live", "sync", "replica", "presence", "debounce", "sql"];

/**
 * Modules by layer, lowest first. A name is a folder or file under src/, or a
 * top-level folder when listed in TOP_LEVEL. The browser code sits on top: it
 * may see everything below, but NARROWER lets it take values only from the wire contract.
 * @type {readonly (readonly string[])[]}
 */
export const LAYERS = [
  ["lib"],
  ["protocol"],
  ["schema"],
  FEATURES,
  ["rpc"],
  ["transport"],
  ["room"],
  ["http", "service"],
  ["server.ts"],
  ["app"],
  ["worker.ts"],
  ["client"],
  ["web"],
];

/**
 * Modules of LAYERS that are top-level folders rather than entries of src/.
 * @type {readonly string[]}
 */
export const TOP_LEVEL = ["schema", "web"];

/**
 * Modules that may use less than everything below them. `never`: not even
 * types; `typesOnly`: types but no values; `valuesFrom`: values only from
 * these, everything else below as types only. `why` ends the lint message.
 * @type {Readonly<Record<string, { never?: readonly string[]; typesOnly?: readonly string[]; valuesFrom?: readonly string[]; why: string }>>}
 */
export const NARROWER = {
  app: {
    never: ["transport", "room", "http", "service", "server.ts"],
    typesOnly: FEATURES,
    why: "an app is written against rpc's builders, not the engine's insides",
  },
  http: { typesOnly: ["room"], why: "the front door reaches rooms only through the ROOMS binding" },
  service: { typesOnly: ["room"], why: "the front door reaches rooms only through the ROOMS binding" },
  client: { valuesFrom: ["protocol"], why: "the client runs in browsers: the wire contract as values, the server as types" },
  web: {
    valuesFrom: ["client", "protocol"],
    why: "web/ runs in browsers: the client and the wire contract as values, the server as types",
  },
};

/**
 * The path of a module from the repository root: `src/rpc`, `src/server.ts`, `schema`.
 * @param {string} module
 * @returns {string}
 */
export function pathOf(module) {
  return TOP_LEVEL.includes(module) ? module : `src/${module}`;
}
