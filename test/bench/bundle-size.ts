/**
 * Sizes of the client entry points as a browser app ships them: each bundled
 * alone by esbuild (minified ESM for es2022, the way scripts/build-web.mjs
 * builds the demo pages), gzipped at zlib's default level. "Own" leaves the
 * UI framework and store packages an app already has (React, TanStack Query,
 * tRPC's TanStack integration, TanStack DB) out; "with peers" bundles them too.
 * Deterministic (no timing), so the report computes it on every render, and
 * test/node/bundle-size.test.ts holds each entry under its budget.
 */
import { gzipSync } from "node:zlib";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Packages an app brings itself: left out of "own" sizes. */
export const PEERS = [
  "react",
  "react-dom",
  "@tanstack/react-query",
  "@tanstack/query-core",
  "@trpc/tanstack-react-query",
  "@tanstack/db",
  "@tanstack/react-db",
];

export interface ClientEntry {
  /** How an app imports it (path from the repository root). */
  entry: string;
  what: string;
  /** Most gzipped bytes of the entry's own bundle (peers left out), checked by test/node/bundle-size.test.ts. */
  budgetGzip: number;
}

export const CLIENT_ENTRIES: ClientEntry[] = [
  {
    entry: "src/client/index.ts",
    what: "createRoomClient, createServiceClient, watchWindow (tRPC client, superjson, partysocket included)",
    budgetGzip: 24_000,
  },
  { entry: "src/client/live-window.ts", what: "watchWindow / LiveWindowRows alone", budgetGzip: 2_000 },
  { entry: "src/client/react.ts", what: "useLiveQuery, optimistic, useRoomConnection", budgetGzip: 4_000 },
  {
    entry: "src/client/tanstack-db.ts",
    what: "roomCollectionOptions, a TanStack DB collection (imports only its types: the app bundles @tanstack/db itself)",
    budgetGzip: 4_000,
  },
];

export interface BundleSize {
  entry: string;
  what: string;
  budgetGzip: number;
  own: { bytes: number; gzip: number };
  withPeers: { bytes: number; gzip: number };
}

async function bundle(entry: string, external: string[]): Promise<{ bytes: number; gzip: number }> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    legalComments: "none",
    write: false,
    external,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.contents;
  return { bytes: code.length, gzip: gzipSync(code).length };
}

/** Bundles every client entry point, own and with peers. */
export async function measureBundles(): Promise<BundleSize[]> {
  const sizes: BundleSize[] = [];
  for (const client of CLIENT_ENTRIES) {
    sizes.push({ ...client, own: await bundle(client.entry, PEERS), withPeers: await bundle(client.entry, []) });
  }
  return sizes;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Markdown lines of the report's "Client bundle sizes" section. */
export function bundleTable(sizes: BundleSize[]): string[] {
  if (!sizes.length) return [];
  const out = [
    "## Client bundle sizes",
    "",
    "Each client entry point bundled alone by esbuild (minified ESM, es2022), gzipped at zlib's default level; computed when this report is rendered. _Own_ leaves out what a React or TanStack DB app already ships (React, TanStack Query, tRPC's TanStack integration, TanStack DB); _with peers_ bundles them too. The budget is held by `test/node/bundle-size.test.ts`.",
    "",
    "| entry point | what | own, minified | own, gzip | gzip budget | with peers, minified | with peers, gzip |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const size of sizes)
    out.push(
      `| \`${size.entry}\` | ${size.what} | ${kb(size.own.bytes)} | ${kb(size.own.gzip)} | ${kb(size.budgetGzip)} | ${kb(size.withPeers.bytes)} | ${kb(size.withPeers.gzip)} |`,
    );
  out.push("");
  return out;
}
