/**
 * The README's `wrangler types` step for a Worker that binds to RoomService
 * really types the binding: run it for the example consumer and check the line.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

describe("wrangler types for a consumer Worker", () => {
  it("types the service binding as Service<RoomService> when given both configurations", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nanotype-types-"));
    try {
      const out = join(dir, "worker-configuration.d.ts");
      const bin = join(root, "node_modules/.bin");
      execFileSync(
        join(bin, "wrangler"),
        ["types", "-c", "examples/consumer/wrangler.toml", "-c", "wrangler.toml", "--include-runtime=false", out],
        { cwd: root, stdio: "pipe", env: { ...process.env, PATH: `${bin}:${process.env["PATH"] ?? ""}`, WRANGLER_SEND_METRICS: "false" } },
      );
      expect(await readFile(out, "utf8")).toMatch(/NANOTYPE: Service<typeof import\("[^"]*\/src\/worker"\)\.RoomService>;/);
      expect(await readFile(join(root, "README.md"), "utf8")).toContain(
        "npx wrangler types -c wrangler.toml -c ../nanotypedb/wrangler.toml",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
