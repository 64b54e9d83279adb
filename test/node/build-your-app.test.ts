/**
 * docs/build-your-app.md is tested: its `// file:` blocks are written over a
 * copy of the engine (without the example app), both migration sets are
 * generated and the result type-checks; then the guide's "Add a table later"
 * blocks are applied and exactly two hand-written files change, plus one new
 * migration per side.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const bin = join(root, "node_modules/.bin");
let scratch = "";
afterAll(() => (scratch ? rm(scratch, { recursive: true, force: true }) : undefined));

/** The engine's files, copied as they are: everything but the example app. */
const ENGINE_SCHEMA = ["define.ts", "engine.ts", "targets.ts", "drizzle-config.ts", "debounced-state.ts"];

interface Block {
  path: string;
  mode: "write" | "append" | "replace";
  code: string;
}

/** The guide's code blocks that start with `// file: <path>` (optionally ` (append)` or ` (replace)`). */
async function guideBlocks(): Promise<Block[]> {
  const guide = await readFile(join(root, "docs/build-your-app.md"), "utf8");
  return [...guide.matchAll(/```ts\n\/\/ file: (\S+)(?: \((append|replace)\))?\n([\s\S]*?)```/g)].map((match) => ({
    path: match[1]!,
    mode: (match[2] as Block["mode"] | undefined) ?? "write",
    code: match[3]!,
  }));
}

async function apply(blocks: readonly Block[]): Promise<void> {
  for (const block of blocks) {
    const file = join(scratch, block.path);
    await mkdir(dirname(file), { recursive: true });
    if (block.mode === "append") await appendFile(file, block.code);
    else await writeFile(file, block.code);
  }
}

async function generate(): Promise<string> {
  let output = "";
  for (const target of ["room", "replica"]) {
    const { stdout, stderr } = await run(join(bin, "drizzle-kit"), ["generate", "--config", "drizzle.config.ts"], {
      cwd: scratch,
      env: { ...process.env, DB_TARGET: target },
    });
    output += stdout + stderr;
  }
  return output;
}

async function typecheck(): Promise<void> {
  try {
    await run(join(bin, "tsc"), ["-p", join(scratch, "tsconfig.json")], { cwd: scratch });
  } catch (error) {
    throw new Error(`the guide's code does not type-check:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
  }
}

/** Content hashes of every file under the scratch app, by relative path. */
async function snapshot(): Promise<Map<string, string>> {
  const files = (await readdir(scratch, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  const hashes = new Map<string, string>();
  for (const file of files) {
    const path = join(file.parentPath, file.name);
    hashes.set(
      path.slice(scratch.length + 1),
      createHash("sha256")
        .update(await readFile(path))
        .digest("hex"),
    );
  }
  return hashes;
}

describe("docs/build-your-app.md", () => {
  it("builds an app from empty to a typed client, and adds a table by touching two files", { timeout: 120_000 }, async () => {
    const blocks = await guideBlocks();
    const later = blocks.filter((block) => block.mode !== "write");
    expect(blocks.map((block) => block.path)).toEqual(
      expect.arrayContaining(["schema/app.ts", "src/app/index.ts", "src/worker.ts", "drizzle.config.ts"]),
    );
    expect(later.map((block) => block.path).sort()).toEqual(["schema/app.ts", "src/app/index.ts"]);

    // A folder inside the repository, so the copy resolves the project's node_modules.
    await mkdir(join(root, "node_modules/.cache"), { recursive: true });
    scratch = await mkdtemp(join(root, "node_modules/.cache/nanotype-guide-"));
    await cp(join(root, "src"), join(scratch, "src"), { recursive: true, filter: (source) => !source.startsWith(join(root, "src/app")) });
    await rm(join(scratch, "src/worker.ts"));
    for (const file of ENGINE_SCHEMA) await cp(join(root, "schema", file), join(scratch, "schema", file));
    await cp(join(root, "worker-configuration.d.ts"), join(scratch, "worker-configuration.d.ts"));
    const config = JSON.parse((await readFile(join(root, "tsconfig.json"), "utf8")).replace(/^\s*\/\/.*$/gm, "")) as {
      compilerOptions: Record<string, unknown>;
    };
    await writeFile(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          ...config.compilerOptions,
          types: ["./worker-configuration.d.ts", "node"],
          incremental: true,
          tsBuildInfoFile: "./.tsbuildinfo",
        },
        include: ["src", "schema", "drizzle", "examples", "*.ts"],
      }),
    );

    await apply(blocks.filter((block) => block.mode === "write"));
    const first = await generate();
    expect(first, first).not.toMatch(/error/i);
    await typecheck();
    const before = await snapshot();
    expect([...before.keys()].filter((path) => path.endsWith(".sql")).length).toBe(2);

    await apply(later);
    const second = await generate();
    expect(second, second).not.toMatch(/error/i);
    await typecheck();
    const after = await snapshot();
    const changed = [...after.keys()].filter((path) => before.get(path) !== after.get(path));
    // Generated: migrations, drizzle-kit's target modules (node_modules/.cache), tsc's build info.
    const handWritten = changed.filter((path) => !/^(drizzle\/|migrations\/|node_modules\/|\.tsbuildinfo$)/.test(path));
    expect(handWritten.sort()).toEqual(["schema/app.ts", "src/app/index.ts"]);
    const newMigrations = changed.filter((path) => path.endsWith(".sql"));
    expect(newMigrations.filter((path) => path.startsWith("drizzle/"))).toHaveLength(1);
    expect(newMigrations.filter((path) => path.startsWith("migrations/"))).toHaveLength(1);
    const roomSql = await readFile(
      join(
        scratch,
        newMigrations.find((path) => path.startsWith("drizzle/"))!,
      ),
      "utf8",
    );
    expect(roomSql).toContain("CREATE TABLE `tags`");
  });
});
