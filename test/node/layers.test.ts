/**
 * The import fences cover all of src/: every folder and file directly in src/
 * is a module of exactly one layer in scripts/layers.mjs (so a new folder
 * cannot go unfenced), docs/architecture.md gives the same order, and the
 * fences eslint.config.js generates from the list stop each module reaching
 * above its layer, by the very paths a file would write.
 */
import { readdir, readFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
import { LAYERS, NARROWER, TOP_LEVEL, pathOf } from "../../scripts/layers.mjs";

const root = resolve(import.meta.dirname, "../..");
const modules = LAYERS.flat();
const rankOf = (module: string) => LAYERS.findIndex((layer) => layer.includes(module));
const isFile = (module: string) => module.endsWith(".ts");

interface Pattern {
  regex: string;
  allowTypeImports: boolean;
}

/** A file of the module, for asking ESLint which rules apply there (it need not exist). */
const fileOf = (module: string) => resolve(root, isFile(module) ? pathOf(module) : `${pathOf(module)}/any-file.ts`);

/** The specifier a file of `from` writes to import a file of `to`, e.g. `../room/any-file` or `./server`. */
function specifier(from: string, to: string): string {
  const target = isFile(to) ? resolve(root, pathOf(to).slice(0, -3)) : resolve(root, pathOf(to), "any-file");
  const path = relative(dirname(fileOf(from)), target);
  return path.startsWith(".") ? path : `./${path}`;
}

/** The fence patterns ESLint applies to a module's files. */
async function fenceOf(eslint: ESLint, module: string): Promise<Pattern[]> {
  const config = (await eslint.calculateConfigForFile(fileOf(module))) as { rules: Record<string, [string, { patterns: Pattern[] }]> };
  return config.rules["@typescript-eslint/no-restricted-imports"]?.[1].patterns ?? [];
}

/** How the fence treats an import: "never", "types" (type-only imports pass) or "free". */
function verdict(patterns: Pattern[], spec: string): "never" | "types" | "free" {
  const hits = patterns.filter((pattern) => new RegExp(pattern.regex).test(spec));
  if (hits.some((pattern) => !pattern.allowTypeImports)) return "never";
  return hits.length > 0 ? "types" : "free";
}

/** What scripts/layers.mjs says about `from` importing `to`. */
function expected(from: string, to: string): "never" | "types" | "free" {
  if (rankOf(to) > rankOf(from)) return "never";
  const narrower = NARROWER[from];
  if (!narrower || to === from) return "free";
  if (narrower.never?.includes(to)) return "never";
  if (narrower.typesOnly?.includes(to)) return "types";
  if (narrower.valuesFrom && !narrower.valuesFrom.includes(to) && rankOf(to) < rankOf(from)) return "types";
  return "free";
}

describe("layers (scripts/layers.mjs)", () => {
  it("puts every folder and file directly in src/ in exactly one layer", async () => {
    const inSrc = (await readdir(resolve(root, "src"))).sort();
    const listed = modules.filter((module) => !TOP_LEVEL.includes(module)).sort();
    expect(listed).toEqual(inSrc);
  });

  it("lists each top-level module once, and only folders that exist", async () => {
    const topLevel = await readdir(root);
    expect(new Set(modules).size).toBe(modules.length);
    for (const module of TOP_LEVEL) {
      expect(modules, module).toContain(module);
      expect(topLevel, module).toContain(module);
    }
  });

  it("is the order docs/architecture.md gives", async () => {
    const doc = await readFile(resolve(root, "docs/architecture.md"), "utf8");
    const line = /Lowest first[^`]*`([^`]+)`/.exec(doc)?.[1] ?? "";
    // `lib → protocol → schema → features (auth, live, …) → rpc → … → http, service → … → web`
    const documented = line
      .replace(/\s+/g, " ")
      .split(" → ")
      .map((step) => step.replace(/^features \((.*)\)$/, "$1").split(", "));
    expect(documented).toEqual(LAYERS);
  });

  it("narrows only listed modules, to listed modules", () => {
    for (const [module, narrower] of Object.entries(NARROWER)) {
      expect(modules, module).toContain(module);
      for (const target of [...(narrower.never ?? []), ...(narrower.typesOnly ?? []), ...(narrower.valuesFrom ?? [])]) {
        expect(modules, `${module} → ${target}`).toContain(target);
      }
    }
  });

  it("fences every module in eslint.config.js: nothing above its layer, and what NARROWER says below", async () => {
    const eslint = new ESLint({ cwd: root });
    for (const from of modules) {
      const patterns = await fenceOf(eslint, from);
      for (const to of modules) {
        expect(verdict(patterns, specifier(from, to)), `${from} importing ${to} (${specifier(from, to)})`).toBe(expected(from, to));
      }
    }
  });
});
