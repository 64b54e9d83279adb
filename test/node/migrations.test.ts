/**
 * The committed migrations (drizzle/ for rooms, migrations/ for the D1
 * replica) must be exactly what `npm run db:generate` makes from schema/.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const drizzleKit = join(root, "node_modules/.bin/drizzle-kit");
const temps: string[] = [];
afterAll(() => Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A scratch folder inside the repository, so a copied schema still resolves drizzle-orm. */
async function scratch(): Promise<string> {
  const base = join(root, "node_modules/.cache");
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, "nanotype-migrations-"));
  temps.push(dir);
  return dir;
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

/**
 * Runs drizzle-kit generate for an app schema module into a copy of the
 * committed folder, through a config made like the project's own
 * (appDrizzleConfig); returns the files it added and what it printed.
 * drizzle-kit exits 0 even when it fails, so callers assert on its output too.
 */
async function generate(target: "room" | "replica", committed: string, appModule = join(root, "schema/app.ts")) {
  const out = await scratch();
  await cp(join(root, committed), out, { recursive: true });
  const before = await listFiles(out);
  const config = join(await scratch(), "drizzle.config.ts");
  const folder = `./${relative(root, out)}`;
  await writeFile(
    config,
    [
      `import * as app from ${JSON.stringify(appModule.replace(/\.ts$/, ""))};`,
      `import { appDrizzleConfig } from ${JSON.stringify(join(root, "schema/drizzle-config"))};`,
      `export default appDrizzleConfig({ app, appModule: ${JSON.stringify(appModule)}, room: ${JSON.stringify(folder)}, replica: ${JSON.stringify(folder)} });`,
    ].join("\n"),
  );
  const { stdout, stderr } = await run(drizzleKit, ["generate", "--config", config], {
    cwd: root,
    env: { ...process.env, DB_TARGET: target },
  });
  const after = await listFiles(out);
  return { added: after.filter((file) => !before.includes(file)), output: stdout + stderr };
}

describe("generated migrations", () => {
  it.each([
    ["room", "drizzle", "schema/app.ts"],
    ["replica", "migrations", "schema/app.ts"],
    ["room", "examples/notes/drizzle", "examples/notes/schema.ts"],
    ["replica", "examples/notes/migrations", "examples/notes/schema.ts"],
  ] as const)("%s migrations in %s/ are up to date with %s", async (target, committed, appModule) => {
    const { added, output } = await generate(target, committed, join(root, appModule));
    expect(output).toContain("No schema changes");
    expect(added).toEqual([]);
  });

  it("detects a schema change that was not generated", async () => {
    const schemaDir = await scratch();
    await cp(join(root, "schema"), schemaDir, { recursive: true });
    const tasksFile = join(schemaDir, "tasks.ts");
    const source = await readFile(tasksFile, "utf8");
    await writeFile(
      tasksFile,
      source.replace('title: text("title").notNull(),', 'title: text("title").notNull(),\n    color: text("color"),'),
    );
    const { added, output } = await generate("room", "drizzle", join(schemaDir, "app.ts"));
    expect(output).not.toContain("Error");
    expect(added.filter((file) => file.endsWith(".sql"))).toHaveLength(1);
  });

  it("puts room_id first in every replica primary key and index", async () => {
    const sql = (
      await Promise.all(
        (await readdir(join(root, "migrations")))
          .filter((f) => f.endsWith(".sql"))
          .map((f) => readFile(join(root, "migrations", f), "utf8")),
      )
    ).join("\n");
    const keys = [...sql.matchAll(/PRIMARY KEY\((`\w+`)/g)].map((match) => match[1]);
    const indexes = [...sql.matchAll(/CREATE (?:UNIQUE )?INDEX `\w+` ON `\w+` \((`\w+`)/g)].map((match) => match[1]);
    expect(keys.length).toBeGreaterThan(0);
    expect(indexes.length).toBeGreaterThan(0);
    expect(new Set([...keys, ...indexes])).toEqual(new Set(["`room_id`"]));
  });
});
