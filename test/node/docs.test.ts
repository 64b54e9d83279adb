/**
 * The docs are part of the product: each table of procedures or seed methods
 * lists exactly what its own source serves, with the roles it enforces — the
 * README the engine's (`engineRouters`, ENGINE_SEED_METHODS), the task board's
 * page docs/task-board.md the example app's — so an app of yours needs no edit
 * of nanotypeDB's docs. Procedures named in the docs exist, links resolve, the
 * wire limits and the compatibility date the docs quote are the code's, and the
 * README's quick-start example is the compiled examples/node-client.ts.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import * as limits from "../../src/lib/limits";
import * as wire from "../../src/protocol/wire-limits";
import { DEFAULT_ROOM_LIMITS } from "../../src/protocol/room-limits";
import { engineRouters, ENGINE_NAMESPACES } from "../../src/rpc/engine-router";
import { router } from "../../src/rpc/init";
import { proceduresOf, type ProcedureInfo } from "../../src/rpc/procedures";
import { ENGINE_SEED_METHODS } from "../../src/transport/seed-protocol";

const root = resolve(import.meta.dirname, "../..");
const read = (path: string) => readFile(resolve(root, path), "utf8");

const engineProcedures = proceduresOf(router(engineRouters));
const allProcedures = proceduresOf(app.router);
/** The task board's own procedures: every path outside the engine's namespaces. */
const appProcedures = new Map(
  [...allProcedures].filter(([path]) => !(ENGINE_NAMESPACES as readonly string[]).includes(path.split(".")[0]!)),
);

/** `path type role` of each procedure, sorted. */
function rolesOf(procedures: ReadonlyMap<string, ProcedureInfo>): string[] {
  return [...procedures].map(([path, { type, meta }]) => `${path} ${type} ${meta?.role ?? "NONE"}`).sort();
}

/** `path type role` of each row of a role table: `| \`path\` | type | role | … |`. */
function roleTableOf(markdown: string): string[] {
  return [...markdown.matchAll(/^\|\s*`([\w.]+)`\s*\|\s*(query|mutation|subscription)\s*\|\s*(reader|writer|admin)\s*\|/gm)]
    .map((match) => `${match[1]} ${match[2]} ${match[3]}`)
    .sort();
}

/** `method path role` of each row of a seed-method table: `| \`method\` | \`path\` | role | … |`. */
function seedTableOf(markdown: string): string[] {
  return [...markdown.matchAll(/^\|\s*`(\w+)`\s*\|\s*`([\w.]+)`\s*\|\s*(reader|writer|admin)\s*\|/gm)]
    .map((match) => `${match[1]} ${match[2]} ${match[3]}`)
    .sort();
}

/** `method path role` of seed methods, each checked to name a procedure of the same type in `procedures`. */
function seedMethodsOf(
  methods: Readonly<Record<string, { path: string; type: string }>>,
  procedures: ReadonlyMap<string, ProcedureInfo>,
): string[] {
  return Object.entries(methods)
    .map(([method, target]) => {
      const procedure = procedures.get(target.path);
      expect(procedure?.type, `seed method ${method} → ${target.path}`).toBe(target.type);
      return `${method} ${target.path} ${procedure?.meta?.role ?? "NONE"}`;
    })
    .sort();
}

describe("README", () => {
  it("has a role table row for every engine procedure, with the role the router enforces, and no other", async () => {
    expect(roleTableOf(await read("README.md"))).toEqual(rolesOf(engineProcedures));
  });

  it("shows the compiled quick-start example verbatim", async () => {
    const example = await read("examples/node-client.ts");
    expect(await read("README.md")).toContain(example.trim());
  });

  it("quotes the wire limits of src/protocol/wire-limits.ts", async () => {
    const limits = new Map(
      [...(await read("README.md")).matchAll(/^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|/gm)].map((match) => [match[1]!, match[2]!]),
    );
    expect(limits.get("WebSocket frame")).toBe(bytes(wire.MAX_FRAME_BYTES));
    expect(limits.get("HTTP request body (tRPC endpoint)")).toBe(bytes(wire.MAX_HTTP_BODY_BYTES));
    expect(limits.get("service call input (superjson)")).toBe(`${bytes(wire.MAX_DIRECT_INPUT_CHARS)} of JSON text`);
    expect(limits.get("requests per batched frame")).toBe(`any number a ${bytes(wire.MAX_FRAME_BYTES)} frame holds`);
    expect((await read("README.md")).match(/^\| requests per batched frame .*$/m)?.[0]).toContain(`run ${wire.MAX_BATCH_SIZE} at a time`);
    expect(limits.get("subscriptions per socket")).toMatch(new RegExp(`^${wire.MAX_SUBSCRIPTIONS_PER_SOCKET} `));
    expect(limits.get("subscription input")).toBe(
      `${bytes(wire.MAX_SUBSCRIPTION_INPUT_BYTES)} serialized; id ≤ ${wire.MAX_SUBSCRIPTION_ID_CHARS} characters`,
    );
    expect(limits.get("`connectionParams`")).toBe(`${bytes(wire.MAX_CONNECTION_PARAMS_BYTES)}, flat string values`);
    expect(limits.get("read-only SQL text")).toBe(`${count(wire.MAX_SQL_CHARS)} characters`);
    expect(limits.get("read-only SQL parameters")).toBe(`${count(wire.MAX_SQL_PARAMS)} (the platform's limit)`);
    expect(limits.get("read-only SQL result")).toBe(
      `${count(wire.MAX_SQL_RESULT_ROWS)} rows and ${bytes(wire.MAX_SQL_RESULT_BYTES)} of JSON`,
    );
    expect(limits.get("read-only SQL plan budget")).toBe(`${count(sqlBudgets.plan)} row visits (worst case from the query plan, weighted)`);
    expect(limits.get("read-only SQL work budget")).toBe(`${count(sqlBudgets.rowsRead)} rows read`);
  });
});

describe("docs/task-board.md", () => {
  it("has a role table row for every procedure of the task board, with the role the router enforces, and no other", async () => {
    expect(roleTableOf(await read("docs/task-board.md"))).toEqual(rolesOf(appProcedures));
  });

  it("lists the task board's seed methods, each mapped onto its procedure of the same type", async () => {
    expect(seedTableOf(await read("docs/task-board.md"))).toEqual(seedMethodsOf(app.seedMethods, appProcedures));
  });
});

describe("README.md room limits", () => {
  it("quotes the defaults of src/protocol/room-limits.ts", async () => {
    const readme = await read("README.md");
    const d = DEFAULT_ROOM_LIMITS;
    const row = (setting: string) => readme.split("\n").find((line) => line.startsWith(`| ${setting}`)) ?? "";
    expect(row("`requestsPerSecond`, `requestBurst`")).toContain(
      `| ${count(d.requestsPerSecond)} requests/s, bursts of ${count(d.requestBurst)}, `,
    );
    expect(row("`socketsPerUser`")).toContain(`| ${count(d.socketsPerUser)} per user in a room`);
    expect(row("`socketsPerRoom`")).toContain(`| ${count(d.socketsPerRoom)} `);
    expect(row("`subscriptionsPerUser`")).toContain(`| ${count(d.subscriptionsPerUser)} per user in a room`);
    expect(row("`subscriptionsPerRoom`")).toContain(`| ${count(d.subscriptionsPerRoom)} `);
    expect(row("`table.rows`, `table.bytes`")).toContain(
      `| ${count(d.table.rows)} rows and ${bytes(d.table.bytes)} of values per table per room`,
    );
    expect(row("`debouncedKeys`, `debouncedBytes`")).toContain(`| ${count(d.debouncedKeys)} keys and ${bytes(d.debouncedBytes)} per room`);
    expect(row("`mutationIdsPerUser`, `mutationIdsPerRoom`")).toContain(
      `| ${count(d.mutationIdsPerUser)} ids per user and ${count(d.mutationIdsPerRoom)} per room`,
    );
    expect(row("`mutationIdTtlMs`")).toContain(`| ${count(d.mutationIdTtlMs)} ms (${d.mutationIdTtlMs / 3_600_000} h)`);
  });
});

describe("README.md cost example", () => {
  it("quotes the worked example's monthly figure of docs/cost.md (which its own test computes)", async () => {
    const total = /\| total\s*\|[^\n]*\*\*(\$[\d.,]+)\*\*/.exec(await read("docs/cost.md"))?.[1];
    expect(total).toBeDefined();
    expect(await read("README.md")).toContain(`comes to about ${total} a month`);
  });
});

describe("docs/seed-protocol.md", () => {
  it("lists the engine's seed methods, each mapped onto its procedure of the same type", async () => {
    expect(seedTableOf(await read("docs/seed-protocol.md"))).toEqual(seedMethodsOf(ENGINE_SEED_METHODS, engineProcedures));
  });
});

describe("docs/protocol.md", () => {
  it("quotes the connect ticket limits of src/lib/limits.ts", async () => {
    const doc = await read("docs/protocol.md");
    expect(doc).toContain(`and only for ${limits.CONNECT_TICKET_TTL_MS / 1000} s (never past the token's expiry)`);
    expect(doc).toContain(`at most ${limits.MAX_CONNECT_TICKETS_PER_USER} unused tickets\nper user`);
    expect(doc).toContain(`and ${limits.MAX_CONNECT_TICKETS_PER_ROOM.toLocaleString("en-US")} in all`);
  });

  it("quotes the wire limits of src/protocol/wire-limits.ts", async () => {
    const doc = await read("docs/protocol.md");
    expect(doc).toContain(`a flat object of strings (≤ ${bytes(wire.MAX_CONNECTION_PARAMS_BYTES)} as JSON)`);
    expect(doc).toContain(`of any length\nthat fits the ${bytes(wire.MAX_FRAME_BYTES)} frame limit`);
    expect(doc).toContain(`it runs them ${wire.MAX_BATCH_SIZE} at a time`);
    expect(doc).toContain(`| more than ${wire.MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions on one socket `);
    expect(doc).toContain(`| subscription input over ${bytes(wire.MAX_SUBSCRIPTION_INPUT_BYTES)} as JSON `);
    expect(doc).toContain(`| subscription id over ${wire.MAX_SUBSCRIPTION_ID_CHARS} characters `);
    expect(doc).toContain(`over ${bytes(wire.MAX_CONNECTION_PARAMS_BYTES)} as JSON) `);
    expect(doc).toContain("| empty batch ");
    expect(doc).toContain(`| frame over ${bytes(wire.MAX_FRAME_BYTES)} `);
    expect(doc).toContain(`| 1009 | a frame exceeded ${bytes(wire.MAX_FRAME_BYTES)} `);
  });
});

describe("docs/platform.md", () => {
  it("names the compatibility date every Worker configuration pins", async () => {
    const pinned = /pins\s+`compatibility_date = "(\d{4}-\d{2}-\d{2})"`/.exec(await read("docs/platform.md"))?.[1];
    expect(pinned).toBeDefined();
    const configs = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*wrangler*.toml"], {
      cwd: root,
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean);
    expect(configs).toContain("wrangler.toml");
    for (const config of configs) {
      expect(/^compatibility_date = "([^"]+)"/m.exec(await read(config))?.[1], config).toBe(pinned);
    }
  });
});

describe("every doc", () => {
  /** The docs this suite keeps true (docs/build-your-app.md has its own test). */
  const DOCS = [
    "README.md",
    "docs/architecture.md",
    "docs/live-data.md",
    "docs/platform.md",
    "docs/protocol.md",
    "docs/read-only-sql.md",
    "docs/seed-protocol.md",
    "docs/task-board.md",
  ];
  const namespaces = new Set([...allProcedures.keys()].map((path) => path.split(".")[0]!));
  /** Names that look like procedures but are not: the Durable Object storage API. */
  const NOT_PROCEDURES = new Set(["sql.exec"]);

  it("names only procedures the router serves", async () => {
    const unknown: string[] = [];
    for (const doc of DOCS) {
      const text = await read(doc);
      // `tasks.list` in backticks, or "tasks.list" as a frame's path.
      for (const match of text.matchAll(/[`"]((\w+)(?:\.\w+)+)[`"]/g)) {
        const [, path, namespace] = match as unknown as [string, string, string];
        if (!namespaces.has(namespace) || NOT_PROCEDURES.has(path) || /\.(ts|js|mjs|md|toml|sql|json)$/.test(path)) continue;
        if (!allProcedures.has(path)) unknown.push(`${doc}: ${path}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it("links only to files that exist and headings that exist", async () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      const text = (await read(doc)).replace(/^```[\s\S]*?^```/gm, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split("#") as [string, string | undefined];
        const file = path === "" ? doc : relative(root, resolve(root, dirname(doc), path));
        if (!existsSync(resolve(root, file))) {
          broken.push(`${doc}: ${target}`);
          continue;
        }
        if (anchor !== undefined && !headingsOf(await read(file)).has(anchor)) broken.push(`${doc}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

/** GitHub's anchors of a markdown file's headings. */
function headingsOf(markdown: string): Set<string> {
  const text = markdown.replace(/^```[\s\S]*?^```/gm, "");
  return new Set(
    [...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((match) =>
      match[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/ /g, "-"),
    ),
  );
}

/** A count as the docs write it: "10,000". */
/** The read-only SQL budgets the README quotes (read outside tests that name a local `limits`). */
const sqlBudgets = { plan: limits.MAX_SQL_PLAN_COST, rowsRead: limits.MAX_SQL_ROWS_READ };

function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** A byte count as the docs write it: "512 bytes", "1 KiB", "1 MiB". */
function bytes(n: number): string {
  if (n % 1_048_576 === 0) return `${n / 1_048_576} MiB`;
  if (n % 1_024 === 0) return `${n / 1_024} KiB`;
  return `${n} bytes`;
}
