/**
 * The client entry points stay small enough for a browser app: each bundled
 * alone (test/bench/bundle-size.ts, the figures of docs/benchmarks.md's
 * "Client bundle sizes") is under its gzip budget, and the entry points that
 * build on a UI framework or store do not drag it into apps that do not use it.
 */
import { describe, expect, it } from "vitest";
import { CLIENT_ENTRIES, measureBundles, PEERS } from "../bench/bundle-size";
import * as esbuild from "esbuild";

describe("client bundle sizes", () => {
  it("keeps every client entry point under its gzip budget", async () => {
    const sizes = await measureBundles();
    expect(sizes.map((size) => size.entry)).toEqual(CLIENT_ENTRIES.map((entry) => entry.entry));
    for (const size of sizes) {
      expect(size.own.gzip, `${size.entry}: ${size.own.gzip} B gzipped`).toBeLessThanOrEqual(size.budgetGzip);
      expect(size.own.gzip).toBeGreaterThan(0);
    }
  });

  it("keeps React and TanStack out of the main client entry", async () => {
    const result = await esbuild.build({
      entryPoints: ["src/client/index.ts"],
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "browser",
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    for (const peer of PEERS) expect(inputs.filter((input) => input.includes(`node_modules/${peer}/`))).toEqual([]);
  });
});
