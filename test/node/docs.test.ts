/**
 * The README is part of the product: its role table must list exactly the
 * router's procedures with their declared roles, and its quick-start example
 * must be the compiled examples/node-client.ts.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { seedConfig } from "../../src/transport/seed-protocol";

const appRouter = app.router;
const SEED_METHODS = seedConfig(app.seedMethods, []).methods;

const root = resolve(import.meta.dirname, "../..");
const readme = () => readFile(resolve(root, "README.md"), "utf8");

interface ProcedureDef {
  _def: { type: string; meta?: { role?: string } };
}

describe("README", () => {
  it("has a role table row for every procedure, with the role the router enforces", async () => {
    const procedures = appRouter._def.procedures as unknown as Record<string, ProcedureDef>;
    const fromRouter = Object.entries(procedures)
      .map(([path, procedure]) => `${path} ${procedure._def.type} ${procedure._def.meta?.role ?? "NONE"}`)
      .sort();
    const fromReadme = [
      ...(await readme()).matchAll(/^\|\s*`([\w.]+)`\s*\|\s*(query|mutation|subscription)\s*\|\s*(reader|writer|admin)\s*\|/gm),
    ]
      .map((match) => `${match[1]} ${match[2]} ${match[3]}`)
      .sort();
    expect(fromReadme).toEqual(fromRouter);
  });

  it("maps every seed method onto a router procedure of the same type, listed in docs/seed-protocol.md", async () => {
    const procedures = appRouter._def.procedures as unknown as Record<string, ProcedureDef>;
    const doc = await readFile(resolve(root, "docs/seed-protocol.md"), "utf8");
    for (const [method, target] of Object.entries(SEED_METHODS)) {
      expect(procedures[target.path]?._def.type, method).toBe(target.type);
      expect(doc).toMatch(new RegExp(`\\| \`${method}\`\\s*\\| \`${target.path.replace(".", "\\.")}\``));
    }
  });

  it("shows the compiled quick-start example verbatim", async () => {
    const example = await readFile(resolve(root, "examples/node-client.ts"), "utf8");
    expect(await readme()).toContain(example.trim());
  });
});
