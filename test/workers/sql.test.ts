import { env, runInDurableObject } from "cloudflare:test";
import { TRPCClientError } from "@trpc/client";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../src/protocol/identity";
import { MAX_RECURSIVE_CTE_ROWS, MAX_SQL_PLAN_COST, SQL_TIME_BUDGET_MS } from "../../src/lib/limits";
import { MAX_SQL_CHARS, MAX_SQL_PARAMS, MAX_SQL_RESULT_BYTES, MAX_SQL_RESULT_ROWS } from "../../src/protocol/wire-limits";
import { ReadOnlySql } from "../../src/sql/read-only-sql";
import type { SqlParam } from "../../src/sql/sql-input";
import { checkRecursion, type PlanRow } from "../../src/sql/recursion-check";
const READABLE_TABLES = ["tasks", "_debounced_state"];
import { rolledBack } from "../../src/sql/rolled-back";
import { METER_TABLE } from "../../src/room/room-meter";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  await closeClients();
});

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

/** The seed document's three examples, exactly as written there (indentation and trailing spaces included). */
const SEED_GROUP_BY = `
      SELECT 
        status,
        COUNT(*) as count,
        AVG(LENGTH(title)) as avg_title_length
      FROM tasks
      GROUP BY status
      HAVING count > 1
      ORDER BY count DESC
    `;
const SEED_WINDOW = `
      SELECT 
        title,
        status,
        ROW_NUMBER() OVER (PARTITION BY status ORDER BY id DESC) as rank
      FROM tasks
    `;
const SEED_CTE = `
      WITH task_stats AS (
        SELECT status, COUNT(*) as count
        FROM tasks
        GROUP BY status
      )
      SELECT * FROM task_stats WHERE count > 5
    `;

/** 7 pending, 3 in progress, 1 completed: every seed example has something to show and something to filter out. */
const BOARD = [
  ...Array.from({ length: 7 }, (_, i) => ({ title: `pending task ${i}${"!".repeat(i)}`, status: "pending" as const })),
  ...Array.from({ length: 3 }, (_, i) => ({ title: `doing ${i}`, status: "in_progress" as const })),
  { title: "done", status: "completed" as const },
];

interface SeedFrame {
  type?: string;
  requestId?: string | number | null;
  data?: unknown;
  error?: { code: string; message: string; field?: string };
}

async function seedSocket(room: string, role: Role = "admin"): Promise<RawSocket> {
  const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, role)}`);
  sockets.push(socket);
  return socket;
}

/** Sends `executeSQL` frames (requestId = index) and returns the answers in order. */
async function executeSQL(socket: RawSocket, payloads: unknown[]): Promise<SeedFrame[]> {
  const before = socket.raw.length;
  payloads.forEach((payload, requestId) => socket.send({ action: "rpc", method: "executeSQL", payload, requestId }));
  await socket.waitForFrames(before + payloads.length, 15_000);
  const frames = socket.raw.slice(before).map((text) => JSON.parse(text as string) as SeedFrame);
  return frames.sort((a, b) => Number(a.requestId) - Number(b.requestId));
}

/**
 * A fingerprint of the whole database, computed inside the room: the schema
 * and every row of every table in sqlite_schema, internal ones included —
 * except the platform's `_cf_*` tables, which no code in a room may read, and
 * the rows of the room's meter (`_meter`), which counts every call, the
 * refused ones too (the schema dump still covers both).
 */
function checksum(room: string): Promise<string> {
  return runInDurableObject(stub(room), async (_instance, state) => {
    const sql = state.storage.sql;
    const plain = (value: SqlStorageValue) => (value instanceof ArrayBuffer ? [...new Uint8Array(value)].join(".") : value);
    const dump = (query: string) => JSON.stringify([...sql.exec(query).raw()].map((row) => row.map(plain)));
    const tables = sql
      .exec<{ name: string }>(
        `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name <> '${METER_TABLE}' ORDER BY name`,
      )
      .toArray();
    const parts = [dump("SELECT type, name, tbl_name, rootpage, sql FROM sqlite_schema ORDER BY type, name")];
    for (const { name } of tables) parts.push(`${name}:${dump(`SELECT * FROM "${name.replaceAll('"', '""')}"`)}`);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\n")));
    return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  });
}

/** The stock client's error for a rejected call: its code and message. */
async function refusal(call: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  const error = await call.then(
    () => null,
    (cause: unknown) => cause,
  );
  if (!(error instanceof TRPCClientError)) throw new Error(`expected a refusal, got ${JSON.stringify(error)}`);
  return { code: (error.data as { code?: string } | undefined)?.code, message: error.message };
}

describe("read-only SQL: the seed's examples", () => {
  const room = uniqueRoom("sql-seed");
  let ids: number[] = [];

  beforeAll(async () => {
    const writer = await clientFor(room, "writer");
    ids = [];
    for (const task of BOARD) ids.push((await writer.tasks.create.mutate(task)).id);
    await closeClients();
  });

  const titleLength = (status: string) => {
    const titles = BOARD.filter((task) => task.status === status).map((task) => task.title.length);
    return titles.reduce((sum, length) => sum + length, 0) / titles.length;
  };

  it("runs GROUP BY … HAVING as written, over tRPC and the seed protocol alike", async () => {
    const admin = await clientFor(room, "admin");
    const result = await admin.sql.query.query({ sql: SEED_GROUP_BY });
    expect(result).toMatchObject({
      columns: ["status", "count", "avg_title_length"],
      rows: [
        ["pending", 7, titleLength("pending")],
        ["in_progress", 3, titleLength("in_progress")],
      ],
      rowCount: 2,
      truncated: false,
    });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(0);

    const [answer] = await executeSQL(await seedSocket(room), [{ sql: SEED_GROUP_BY, readonly: true }]);
    expect(answer).toMatchObject({ type: "rpc_result", method: "executeSQL", requestId: 0 });
    expect({ ...(answer!.data as object), elapsedMs: 0 }).toEqual({ ...result, elapsedMs: 0 });
  });

  it("runs ROW_NUMBER() OVER (PARTITION BY …) as written", async () => {
    const admin = await clientFor(room, "admin");
    const result = await admin.sql.query.query({ sql: SEED_WINDOW, readonly: true });
    expect(result.columns).toEqual(["title", "status", "rank"]);
    expect(result.rowCount).toBe(BOARD.length);
    const expected = BOARD.map((task, i) => {
      const sameStatusAfter = BOARD.filter((other, j) => other.status === task.status && ids[j]! > ids[i]!).length;
      return [task.title, task.status, sameStatusAfter + 1];
    });
    expect(result.rows).toEqual(expect.arrayContaining(expected));

    const [answer] = await executeSQL(await seedSocket(room), [{ sql: SEED_WINDOW, readonly: true }]);
    expect((answer!.data as { rows: unknown[] }).rows).toEqual(result.rows);
  });

  it("runs a CTE as written", async () => {
    const admin = await clientFor(room, "admin");
    const result = await admin.sql.query.query({ sql: SEED_CTE });
    expect(result).toMatchObject({ columns: ["status", "count"], rows: [["pending", 7]], rowCount: 1, truncated: false });

    const [answer] = await executeSQL(await seedSocket(room), [{ sql: SEED_CTE, readonly: true }]);
    expect(answer).toMatchObject({ type: "rpc_result", data: { columns: ["status", "count"], rows: [["pending", 7]] } });
  });
});

describe("read-only SQL: queries", () => {
  const room = uniqueRoom("sql-queries");

  beforeAll(async () => {
    const writer = await clientFor(room, "writer");
    for (const task of BOARD) await writer.tasks.create.mutate(task);
    await closeClients();
  });

  it("binds parameters: positional, numbered and named", async () => {
    const admin = await clientFor(room, "admin");
    const positional = await admin.sql.query.query({
      sql: "SELECT count(*) AS n FROM tasks WHERE status = ? AND id > ?",
      params: ["pending", 0],
    });
    expect(positional.rows).toEqual([[7]]);
    const numbered = await admin.sql.query.query({ sql: "SELECT ?2 AS b, ?1 AS a", params: ["first", "second"] });
    expect(numbered.rows).toEqual([["second", "first"]]);
    const named = await admin.sql.query.query({ sql: "SELECT count(*) AS n FROM tasks WHERE status = :status", params: ["in_progress"] });
    expect(named.rows).toEqual([[3]]);
    const nullable = await admin.sql.query.query({ sql: "SELECT ? IS NULL AS is_null", params: [null] });
    expect(nullable.rows).toEqual([[1]]);
  });

  it(`binds up to the platform's ${MAX_SQL_PARAMS} parameters and refuses more`, async () => {
    const admin = await clientFor(room, "admin");
    const params = Array.from({ length: MAX_SQL_PARAMS }, (_, i) => i + 1);
    const sql = `SELECT count(*) AS n FROM tasks WHERE id IN (${params.map(() => "?").join(", ")})`;
    expect((await admin.sql.query.query({ sql, params })).rows).toEqual([[BOARD.length]]);

    const tooMany = await refusal(admin.sql.query.query({ sql, params: [...params, 101] }));
    expect(tooMany.code).toBe("BAD_REQUEST");
    expect(tooMany.message).toMatch(/at most 100 params/);
  });

  it("refuses params that do not match the placeholders", async () => {
    const admin = await clientFor(room, "admin");
    const missing = await refusal(admin.sql.query.query({ sql: "SELECT ?, ?", params: [1] }));
    expect(missing).toEqual({ code: "BAD_REQUEST", message: expect.stringMatching(/number of params does not match/) });
    const extra = await refusal(admin.sql.query.query({ sql: "SELECT 1", params: [1] }));
    expect(extra.code).toBe("BAD_REQUEST");
  });

  it("answers joins, subqueries, json_each and EXPLAIN QUERY PLAN", async () => {
    const admin = await clientFor(room, "admin");
    const joined = await admin.sql.query.query({
      sql: `SELECT a.status, count(*) AS pairs FROM tasks a JOIN tasks b ON a.status = b.status AND a.id < b.id
            WHERE a.id IN (SELECT id FROM tasks WHERE priority = 0) GROUP BY a.status ORDER BY a.status`,
    });
    expect(joined.rows).toEqual([
      ["in_progress", 3],
      ["pending", 21],
    ]);
    const json = await admin.sql.query.query({
      sql: "SELECT value AS status, (SELECT count(*) FROM tasks WHERE status = value) AS n FROM json_each(?)",
      params: ['["pending","completed"]'],
    });
    expect(json.rows).toEqual([
      ["pending", 7],
      ["completed", 1],
    ]);
    const plan = await admin.sql.query.query({ sql: "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE status = 'pending'" });
    expect(JSON.stringify(plan.rows)).toContain("tasks_status_idx");
  });

  it("returns blobs as base64, integers and reals as numbers, and repeated column names in order", async () => {
    const admin = await clientFor(room, "admin");
    const result = await admin.sql.query.query({ sql: "SELECT x'00ff10' AS a, 42 AS a, 1.5 AS b, NULL AS c, 'text' AS d" });
    expect(result.columns).toEqual(["a", "a", "b", "c", "d"]);
    expect(result.rows).toEqual([[{ blob: "AP8Q" }, 42, 1.5, null, "text"]]);
  });

  it("reads _debounced_state and the app's tables", async () => {
    const admin = await clientFor(room, "admin");
    await admin.debounced.update.mutate({ key: "doc:1", value: "draft" });
    await admin.debounced.flush.mutate({});
    const result = await admin.sql.query.query({ sql: "SELECT key, value FROM _debounced_state WHERE key = ?", params: ["doc:1"] });
    expect(result.rows).toEqual([["doc:1", '"draft"']]);
  });

  it("refuses readonly: false — there is no write mode — on both transports", async () => {
    const admin = await clientFor(room, "admin");
    const refused = await refusal(admin.sql.query.query({ sql: "SELECT 1", readonly: false as unknown as true }));
    expect(refused).toEqual({ code: "BAD_REQUEST", message: expect.stringMatching(/there is no write mode/) });

    const [answer] = await executeSQL(await seedSocket(room), [{ sql: "SELECT 1", readonly: false }]);
    expect(answer).toMatchObject({ type: "rpc_error", error: { code: "BAD_REQUEST", field: "readonly" } });
    expect(answer!.error!.message).toMatch(/there is no write mode/);
  });

  it("consumes no seq: the next write follows the last one directly", async () => {
    const admin = await clientFor(room, "admin");
    const first = await admin.tasks.create.mutate({ title: "before the query" });
    await admin.sql.query.query({ sql: "SELECT * FROM tasks ORDER BY id DESC" });
    const second = await admin.tasks.create.mutate({ title: "after the query" });
    expect(second.seq).toBe(first.seq + 1);
  });
});

describe("read-only SQL: roles", () => {
  const room = uniqueRoom("sql-roles");

  it.each([
    { role: "reader", grants: [], allowed: false },
    { role: "writer", grants: [], allowed: false },
    { role: "reader", grants: ["analytics"], allowed: true },
    { role: "writer", grants: ["analytics"], allowed: true },
    { role: "admin", grants: [], allowed: true },
  ] as const)("a $role with grants $grants is allowed: $allowed", async ({ role, grants, allowed }) => {
    const client = await clientFor(room, role, "someone", { grants: [...grants] });
    const call = client.sql.query.query({ sql: "SELECT 1 AS one" });
    if (allowed) expect((await call).rows).toEqual([[1]]);
    else
      expect(await refusal(call)).toEqual({
        code: "FORBIDDEN",
        message: expect.stringMatching(/requires the admin role or the analytics grant/),
      });
  });

  it("ignores grants it does not know and keeps the ones it does", async () => {
    const grants = ["reports-v2", "analytics"] as unknown as "analytics"[];
    const client = await clientFor(room, "reader", "someone", { grants });
    expect((await client.sql.query.query({ sql: "SELECT 2 AS two" })).rows).toEqual([[2]]);
    const unknownOnly = await clientFor(room, "reader", "someone", { grants: ["reports-v2"] as unknown as "analytics"[] });
    expect((await refusal(unknownOnly.sql.query.query({ sql: "SELECT 2 AS two" }))).code).toBe("FORBIDDEN");
  });

  it("refuses a writer over the seed protocol too", async () => {
    const [answer] = await executeSQL(await seedSocket(room, "writer"), [{ sql: "SELECT 1", readonly: true }]);
    expect(answer).toMatchObject({ type: "rpc_error", method: "executeSQL", error: { code: "FORBIDDEN" } });
  });
});

describe("read-only SQL: limits", () => {
  const room = uniqueRoom("sql-limits");
  const series = (rows: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ${rows})`;

  it(`accepts ${MAX_SQL_CHARS} characters of SQL and refuses one more`, async () => {
    const admin = await clientFor(room, "admin");
    const sql = "SELECT 1 AS one -- ".padEnd(MAX_SQL_CHARS, "x");
    expect((await admin.sql.query.query({ sql })).rows).toEqual([[1]]);
    const refused = await refusal(admin.sql.query.query({ sql: `${sql}x` }));
    expect(refused).toEqual({ code: "BAD_REQUEST", message: expect.stringMatching(/at most 10000 characters/) });
  });

  it(`returns at most ${MAX_SQL_RESULT_ROWS} rows and says the result was truncated`, async () => {
    const admin = await clientFor(room, "admin");
    const exact = await admin.sql.query.query({ sql: `${series(MAX_SQL_RESULT_ROWS)} SELECT x FROM c` });
    expect(exact).toMatchObject({ rowCount: MAX_SQL_RESULT_ROWS, truncated: false });
    const cut = await admin.sql.query.query({ sql: `${series(5_000)} SELECT x FROM c` });
    expect(cut).toMatchObject({ rowCount: MAX_SQL_RESULT_ROWS, truncated: true });
    expect(cut.rows.at(-1)).toEqual([MAX_SQL_RESULT_ROWS]);
  });

  it(`returns at most ${MAX_SQL_RESULT_BYTES} bytes and says the result was truncated`, async () => {
    const admin = await clientFor(room, "admin");
    // Each row carries 200,000 hex characters: five fit in 1 MiB, the sixth does not.
    const result = await admin.sql.query.query({ sql: `${series(20)} SELECT x, hex(randomblob(100000)) AS noise FROM c` });
    expect(result).toMatchObject({ rowCount: 5, truncated: true });
    expect(JSON.stringify(result.rows).length).toBeLessThanOrEqual(MAX_SQL_RESULT_BYTES);
  });

  it("stops a query that keeps reading past its work budget, between rows", async () => {
    const admin = await clientFor(room, "admin");
    // 6.25 million pairs (under the plan's budget), one result row per 100,000: the budget (5 million rows read) runs out after ~50 rows.
    const refused = await refusal(
      admin.sql.query.query({ sql: `${series(2_500)} SELECT a.x, b.x FROM c AS a, c AS b WHERE (a.x * 2500 + b.x) % 100000 = 0` }),
    );
    expect(refused).toEqual({ code: "TIMEOUT", message: expect.stringMatching(/read more than 5000000 rows/) });
  });

  it("stops a query that runs past its time budget, between rows", async () => {
    const outcome = await runInDurableObject(stub(room), (_instance, state) => {
      let clock = 0;
      // Every look at the clock is one second later.
      const sql = new ReadOnlySql(state.storage, { readableTables: READABLE_TABLES, now: () => (clock += 1_000) });
      try {
        return sql.query({ sql: `${series(100)} SELECT x FROM c` });
      } catch (error) {
        return { name: (error as Error).name, reason: (error as { reason?: string }).reason, message: (error as Error).message };
      }
    });
    expect(outcome).toEqual({ name: "SqlRefused", reason: "budget", message: expect.stringMatching(/ran longer than 5000 ms/) });
  });

  it(`runs a recursive CTE with a literal LIMIT up to ${MAX_RECURSIVE_CTE_ROWS} and refuses one without`, async () => {
    const admin = await clientFor(room, "admin");
    const days = await admin.sql.query.query({
      sql: `WITH RECURSIVE d(day) AS (SELECT date('2026-01-01') UNION ALL SELECT date(day, '+1 day') FROM d LIMIT 31) SELECT count(*), max(day) FROM d`,
    });
    expect(days.rows).toEqual([[31, "2026-01-31"]]);
    const unbounded = await refusal(
      admin.sql.query.query({ sql: "WITH d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 10) SELECT count(*) FROM d" }),
    );
    expect(unbounded).toEqual({ code: "BAD_REQUEST", message: expect.stringMatching(/recursive CTE "d" needs a literal LIMIT/) });
    const tooLarge = await refusal(admin.sql.query.query({ sql: `${series(MAX_RECURSIVE_CTE_ROWS + 1)} SELECT count(*) FROM c` }));
    expect(tooLarge.message).toMatch(/this one allows 100001/);
  });
});

describe("read-only SQL: the cost estimate, before the query runs", () => {
  const room = uniqueRoom("sql-cost");
  const series = (rows: number, name = "c") => `WITH RECURSIVE ${name}(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM ${name} LIMIT ${rows})`;
  const TASKS = 3_000;

  beforeAll(async () => {
    // 3,000 tasks with 200-character descriptions, written directly: the plan's table sizes are the room's current ones.
    await runInDurableObject(stub(room), (_instance, state) => {
      state.storage.sql.exec(
        `INSERT INTO tasks (title, description, status, priority, position, created_by, created_at, updated_at)
         ${series(TASKS)} SELECT 'task ' || x, printf('%.200c', 'd'), CASE x % 3 WHEN 0 THEN 'pending' WHEN 1 THEN 'in_progress' ELSE 'completed' END,
         x % 4, x, 'user' || (x % 50), x, x FROM c`,
      );
    });
  });

  /** Runs `sql` inside the room with ReadOnlySql: its outcome and how long the room was held (ms). */
  function timed(sql: string, params: SqlParam[] = []) {
    return runInDurableObject(stub(room), (_instance, state) => {
      const readOnly = new ReadOnlySql(state.storage, { readableTables: READABLE_TABLES });
      const startedAt = Date.now();
      try {
        const result = readOnly.query({ sql, params });
        return { outcome: "ran", rows: result.rows, ms: Date.now() - startedAt };
      } catch (error) {
        const reason = (error as { reason?: string }).reason;
        return {
          outcome: reason === "budget" ? "ran" : `refused (${reason})`,
          message: (error as Error).message,
          ms: Date.now() - startedAt,
        };
      }
    });
  }

  /** The plan's worst case for `sql` in the room (the query does not run), or the refusal's message. */
  function estimate(sql: string): Promise<number | string> {
    return runInDurableObject(stub(room), (_instance, state) => {
      try {
        return new ReadOnlySql(state.storage, { readableTables: READABLE_TABLES }).estimate({ sql })?.cost ?? 0;
      } catch (error) {
        return (error as Error).message;
      }
    });
  }

  // Before the estimate this passed every check and held the room (locally the whole process) for 43.5 s in one SQLite step.
  it("refuses the cross join of two 100,000-row CTEs under count(*) at once, naming the loops and the budget", async () => {
    const admin = await clientFor(room, "admin");
    const startedAt = Date.now();
    const refused = await refusal(
      admin.sql.query.query({
        sql:
          "WITH RECURSIVE a(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM a LIMIT 100000), " +
          "b(y) AS (SELECT 1 UNION ALL SELECT y+1 FROM b LIMIT 100000) SELECT count(*) FROM a, b",
      }),
    );
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(refused.code).toBe("BAD_REQUEST");
    expect(refused.message).toMatch(
      /^the query may take up to [\d,]{14} row visits \(weighted by the work each does\), over the 10,000,000 a query may \(MAX_SQL_PLAN_COST\)/,
    );
    expect(refused.message).toContain("SCAN a (100,000 rows) × SCAN b (100,000 rows)");
    expect((await admin.sql.query.query({ sql: "SELECT count(*) FROM tasks" })).rows).toEqual([[TASKS]]);
  });

  it.each([
    {
      name: "a 100,000-row CTE joined with itself",
      sql: `${series(100_000)} SELECT count(*) FROM c AS a, c AS b`,
      worst: /SCAN a \(100,000 rows\) × SCAN b/,
    },
    { name: "three 1,000-row CTEs", sql: `${series(1_000)} SELECT count(*) FROM c a, c b, c d`, worst: /× SCAN d \(1,000 rows\)/ },
    {
      name: "the room's table three times",
      sql: "SELECT count(*) FROM tasks a, tasks b, tasks d WHERE a.title < b.title",
      worst: /SCAN a \(3,000 rows\) × SCAN b/,
    },
    {
      name: "a sort of a cross join",
      sql: `${series(5_000)} SELECT a.x FROM c a, c b ORDER BY a.x * b.x LIMIT 1`,
      worst: /sorting 25,000,000 rows/,
    },
    {
      name: "a correlated subquery per row",
      sql: `${series(100_000)} SELECT count(*) FROM c a WHERE (SELECT count(*) FROM c b WHERE b.x < a.x) > 0`,
      worst: /a correlated subquery run 100,000 times/,
    },
    {
      name: "json_each of a computed value, twice",
      sql: `${series(1_000)}, j(a) AS (SELECT json_group_array(x) FROM c) SELECT count(*) FROM j, json_each(j.a) p, json_each(j.a) q`,
      worst: /SCAN p VIRTUAL TABLE INDEX .*json_each/,
    },
    {
      name: "a megabyte-sized value built per row",
      sql: `${series(100_000)} SELECT sum(length(hex(zeroblob(1000000 + x)))) FROM c`,
      worst: /recursive CTE c/,
    },
    {
      name: "a value doubled at each recursive step",
      sql: "WITH RECURSIVE c(i, s) AS (SELECT 1, 'x' UNION ALL SELECT i + 1, substr(s || s, 1, 4000000) FROM c LIMIT 1000) SELECT max(length(s)) FROM c",
      worst: /recursive CTE c, 1,001 steps/,
    },
    {
      name: "a cross join whose aliases mimic unique lookups",
      sql: `${series(100_000)} SELECT count(*) FROM c AS "a USING INTEGER PRIMARY KEY (rowid=?)", c AS "b USING INTEGER PRIMARY KEY (rowid=?)"`,
      worst: /SCAN a USING INTEGER PRIMARY KEY .*\(100,000 rows\) × SCAN b/,
    },
    {
      name: "a cross join whose aliases mimic a constant row and a virtual table",
      sql: `${series(100_000)} SELECT count(*) FROM c AS "CONSTANT ROW", c AS "b VIRTUAL TABLE INDEX 1:"`,
      worst: /SCAN CONSTANT ROW \(100,000 rows\) × SCAN b VIRTUAL TABLE INDEX 1: \(100,000 rows\)/,
    },
    {
      name: "a half-megabyte parameter concatenated per row",
      sql: "SELECT sum(length(?1 || ?1 || ?1 || title)) FROM tasks",
      params: ["x".repeat(500_000)],
      worst: /SCAN tasks \(3,000 rows\)/,
    },
  ] as { name: string; sql: string; params?: SqlParam[]; worst: RegExp }[])(
    "refuses $name before it runs",
    async ({ sql, params, worst }) => {
      const { outcome, message, ms } = await timed(sql, params);
      expect(outcome).toBe("refused (tooCostly)");
      expect(message).toMatch(/MAX_SQL_PLAN_COST/);
      expect(message).toMatch(worst);
      expect(ms).toBeLessThan(1_000);
    },
  );

  it(`still runs what analysts write over ${TASKS} tasks`, async () => {
    const admin = await clientFor(room, "admin");
    const queries: { sql: string; params?: SqlParam[] }[] = [
      { sql: SEED_GROUP_BY },
      { sql: SEED_WINDOW },
      { sql: SEED_CTE },
      { sql: "SELECT t.title, u.title FROM tasks t JOIN tasks u ON u.id = t.position WHERE t.priority = 3" },
      {
        sql: "WITH s AS (SELECT status, count(*) AS n FROM tasks GROUP BY status) SELECT tasks.id, s.n FROM tasks JOIN s ON s.status = tasks.status",
      },
      {
        sql: "WITH top AS (SELECT id FROM tasks ORDER BY updated_at DESC LIMIT 10) SELECT count(*) FROM tasks, top WHERE tasks.id > top.id",
      },
      {
        sql: "SELECT value, (SELECT count(*) FROM tasks WHERE status = value) AS n FROM json_each(?)",
        params: ['["pending","completed"]'],
      },
      { sql: "SELECT created_by, count(*), max(priority) FROM tasks WHERE id IN (1, 2, 3, 500) GROUP BY created_by" },
      { sql: "SELECT DISTINCT printf('%s (%d)', status, priority) AS label FROM tasks ORDER BY label" },
      { sql: `${series(31)} SELECT c.x AS day, count(t.id) FROM c LEFT JOIN tasks t ON t.priority = c.x % 4 GROUP BY c.x` },
    ];
    for (const query of queries) {
      const result = await admin.sql.query.query(query);
      expect(result.rowCount, query.sql).toBeGreaterThan(0);
    }
  });

  /** The largest n whose query the estimate lets through (it grows with n), found without running anything. */
  async function edge(query: (n: number) => string, high: number): Promise<number> {
    let low = 1;
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      const cost = await estimate(query(mid));
      if (typeof cost === "number" && cost <= MAX_SQL_PLAN_COST) low = mid;
      else high = mid;
    }
    return low;
  }

  // A correctness bound, not a benchmark: the slowest kinds of work at the edge of the budget still end within the time limit.
  it.each([
    {
      name: "a CTE against a table scan, comparing text",
      query: (n: number) => `${series(n)} SELECT count(*) FROM c, tasks t WHERE t.title < c.x`,
      high: 100_000,
    },
    {
      name: "a correlated subquery scanning the table",
      query: (n: number) => `${series(n)} SELECT count(*) FROM c WHERE (SELECT count(*) FROM tasks t WHERE t.description > c.x) > 0`,
      high: 100_000,
    },
    {
      name: "8-megabyte values built per row",
      query: (n: number) => `${series(n)} SELECT sum(length(hex(zeroblob(4000000 + x)))) FROM c`,
      high: 1_000,
    },
    {
      name: "a cross join of CTEs",
      query: (n: number) => `${series(n)} SELECT count(*) FROM c a, c b WHERE a.x % 7 = b.x % 5`,
      high: 100_000,
    },
  ])(
    `runs $name at the budget's edge within ${SQL_TIME_BUDGET_MS} ms, and refuses one row more`,
    { timeout: 60_000 },
    async ({ query, high }) => {
      const n = await edge(query, high);
      expect(n).toBeLessThan(high - 1);
      const atEdge = await timed(query(n));
      expect(atEdge.outcome).toBe("ran");
      expect(atEdge.ms).toBeLessThan(SQL_TIME_BUDGET_MS);
      console.log(`${query(n)}: ${atEdge.ms} ms at the edge (n = ${n})`);
      expect((await timed(query(n + 1))).outcome).toBe("refused (tooCostly)");
    },
  );
});

describe("read-only SQL: the text is read as SQLite's tokenizer reads it", () => {
  const room = uniqueRoom("sql-tokenizer");

  beforeAll(async () => {
    const writer = await clientFor(room, "writer");
    for (const task of BOARD) await writer.tasks.create.mutate(task);
    await closeClients();
  });

  // Before the fix this query ran forever in one SQLite step and hung the room: the tokenizer read `$a(` + a string, SQLite read `$a(')`.
  it("refuses a recursive CTE hidden behind TCL-style parameters at once, and the room keeps answering", { timeout: 15_000 }, async () => {
    const admin = await clientFor(room, "admin");
    const startedAt = Date.now();
    const refused = await refusal(
      admin.sql.query.query({
        sql: "WITH c(x) AS (SELECT 1 UNION ALL SELECT x + $a(') FROM c WHERE $b(') IS NULL) SELECT count(*) FROM c",
        params: [1, null],
      }),
    );
    expect(refused).toEqual({ code: "BAD_REQUEST", message: expect.stringMatching(/recursive CTE "c" needs a literal LIMIT/) });
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect((await admin.sql.query.query({ sql: "SELECT count(*) FROM tasks" })).rows).toEqual([[BOARD.length]]);
  });

  it("refuses pragma_table_list and pragma_table_info behind TCL-style parameters, listing no internal table", async () => {
    const admin = await clientFor(room, "admin");
    for (const table of ["pragma_table_list", "pragma_table_info(char(95,99,104,97,110,103,101,115))"]) {
      const refused = await refusal(
        admin.sql.query.query({ sql: `SELECT name, $a(json_each()+$b(') FROM ${table} WHERE $c(') IS NULL`, params: [1, 2, null] }),
      );
      expect(refused).toEqual({ code: "FORBIDDEN", message: expect.stringMatching(/pragma functions are not available/) });
      expect(refused.message).not.toMatch(/_changes|_cf_|sqlite_schema|seq/);
    }
  });

  it("refuses any virtual table but json_each and json_tree from the compiled program, whatever the text says", async () => {
    const admin = await clientFor(room, "admin");
    // The text names no pragma function and makes a json_each call that SQLite compiles away (`0 AND …`).
    const refused = await refusal(
      admin.sql.query.query({ sql: "SELECT name, 0 AND EXISTS (SELECT 1 FROM json_each('[]')) AS never FROM 'pragma_table_list'" }),
    );
    expect(refused).toEqual({
      code: "FORBIDDEN",
      message: expect.stringMatching(/opens a virtual table other than json_each or json_tree/),
    });
    const both = await admin.sql.query.query({
      sql: "SELECT count(*) AS n FROM json_each(?) AS a, json_tree(?) AS b, json_each('[0]') AS c",
      params: ["[1,2]", '{"x":1}'],
    });
    expect(both.rows).toEqual([[4]]);
  });

  it("refuses a recursive CTE named by a string, which the LIMIT rule used to skip", async () => {
    const admin = await clientFor(room, "admin");
    const refused = await refusal(
      admin.sql.query.query({ sql: "WITH 'c'(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM 'c' WHERE x < 10) SELECT count(*) FROM c" }),
    );
    expect(refused).toEqual({ code: "BAD_REQUEST", message: expect.stringMatching(/recursive CTE "c" needs a literal LIMIT/) });
    const bounded = await admin.sql.query.query({
      sql: "WITH 'c'(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM 'c' LIMIT 10) SELECT count(*) FROM c",
    });
    expect(bounded.rows).toEqual([[10]]);
  });

  it("checks SQLite's own query plan: a recursive CTE the text check did not bound is refused", async () => {
    const outcome = await runInDurableObject(stub(room), (_instance, state) => {
      const sql = "SELECT (WITH c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5) SELECT max(x) FROM c) AS top";
      const plan = state.storage.sql.exec<PlanRow & Record<string, SqlStorageValue>>(`EXPLAIN QUERY PLAN ${sql}`).toArray();
      const verdict = (bounded: string[]) => {
        try {
          checkRecursion(plan, new Set(bounded));
          return "passes";
        } catch (error) {
          return `${(error as { reason?: string }).reason}: ${(error as Error).message}`;
        }
      };
      return { unseen: verdict([]), seen: verdict(["c"]), other: verdict(["d"]) };
    });
    expect(outcome).toEqual({
      unseen: expect.stringMatching(/^unboundedRecursion: SQLite compiled a recursive CTE "c" that has no literal LIMIT/),
      seen: "passes",
      other: expect.stringMatching(/^unboundedRecursion/),
    });
  });

  it("binds TCL-style parameters as SQLite names them", async () => {
    const admin = await clientFor(room, "admin");
    const result = await admin.sql.query.query({ sql: "SELECT $a(') AS a, :b::c AS b, #d AS d, $a(') AS again", params: ["quote", 2, 3] });
    expect(result.rows).toEqual([["quote", 2, 3, "quote"]]);
  });
});

/** Write and escape attempts: each must be refused with this code and a message matching `message`. */
const ATTEMPTS: { name: string; sql: string; code: string; message: RegExp }[] = [
  // DML
  {
    name: "INSERT",
    sql: "INSERT INTO tasks (title, created_by, created_at, updated_at) VALUES ('x', 'y', 1, 1)",
    code: "FORBIDDEN",
    message: /INSERT writes rows/,
  },
  {
    name: "INSERT … RETURNING",
    sql: "INSERT INTO tasks (title, created_by, created_at, updated_at) VALUES ('x', 'y', 1, 1) RETURNING *",
    code: "FORBIDDEN",
    message: /INSERT writes rows/,
  },
  {
    name: "INSERT … SELECT with upsert",
    sql: "INSERT INTO tasks SELECT * FROM tasks WHERE true ON CONFLICT DO NOTHING",
    code: "FORBIDDEN",
    message: /INSERT writes rows/,
  },
  { name: "UPDATE", sql: "UPDATE tasks SET title = 'pwned'", code: "FORBIDDEN", message: /UPDATE writes rows/ },
  { name: "DELETE", sql: "DELETE FROM tasks", code: "FORBIDDEN", message: /DELETE deletes rows/ },
  { name: "DELETE … RETURNING", sql: "DELETE FROM tasks WHERE id > 0 RETURNING id", code: "FORBIDDEN", message: /DELETE deletes rows/ },
  {
    name: "REPLACE",
    sql: "REPLACE INTO tasks (id, title, created_by, created_at, updated_at) VALUES (1, 'x', 'y', 1, 1)",
    code: "FORBIDDEN",
    message: /REPLACE writes rows/,
  },
  {
    name: "a write into the change log",
    sql: "INSERT INTO _changes (tbl, op, pk, at) VALUES ('tasks', 'insert', 1, 1)",
    code: "FORBIDDEN",
    message: /INSERT writes rows/,
  },
  { name: "a write into sqlite_sequence", sql: "UPDATE sqlite_sequence SET seq = 0", code: "FORBIDDEN", message: /UPDATE writes rows/ },
  // CTE-wrapped DML
  { name: "WITH … DELETE", sql: "WITH x AS (SELECT 1) DELETE FROM tasks", code: "FORBIDDEN", message: /WITH … DELETE deletes rows/ },
  {
    name: "WITH … UPDATE",
    sql: "WITH x AS (SELECT id FROM tasks) UPDATE tasks SET status = 'completed' WHERE id IN (SELECT id FROM x)",
    code: "FORBIDDEN",
    message: /WITH … UPDATE writes rows/,
  },
  {
    name: "WITH RECURSIVE … INSERT",
    sql: "WITH RECURSIVE x(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x LIMIT 5) INSERT INTO tasks (title, created_by, created_at, updated_at) SELECT 'x', 'y', n, n FROM x",
    code: "FORBIDDEN",
    message: /WITH … INSERT writes rows/,
  },
  {
    name: 'WITH "x" … REPLACE',
    sql: "WITH \"x\" AS (SELECT 1) REPLACE INTO tasks (id, title, created_by, created_at, updated_at) VALUES (1, 'x', 'y', 1, 1)",
    code: "FORBIDDEN",
    message: /WITH … REPLACE writes rows/,
  },
  // DDL
  { name: "CREATE TABLE", sql: "CREATE TABLE evil (x)", code: "FORBIDDEN", message: /CREATE changes the schema/ },
  { name: "CREATE TEMP TABLE", sql: "CREATE TEMP TABLE evil (x)", code: "FORBIDDEN", message: /CREATE changes the schema/ },
  { name: "CREATE INDEX", sql: "CREATE INDEX evil ON tasks (title)", code: "FORBIDDEN", message: /CREATE changes the schema/ },
  {
    name: "CREATE VIEW over the change log",
    sql: "CREATE VIEW v AS SELECT * FROM _changes",
    code: "FORBIDDEN",
    message: /CREATE changes the schema/,
  },
  {
    name: "CREATE TRIGGER with a body",
    sql: "CREATE TRIGGER t AFTER INSERT ON tasks BEGIN DELETE FROM tasks; END",
    code: "FORBIDDEN",
    message: /CREATE changes the schema/,
  },
  { name: "CREATE VIRTUAL TABLE", sql: "CREATE VIRTUAL TABLE f USING fts5(x)", code: "FORBIDDEN", message: /CREATE changes the schema/ },
  { name: "DROP TABLE", sql: "DROP TABLE tasks", code: "FORBIDDEN", message: /DROP changes the schema/ },
  { name: "ALTER TABLE", sql: "ALTER TABLE tasks ADD COLUMN evil TEXT", code: "FORBIDDEN", message: /ALTER changes the schema/ },
  // Several statements
  { name: "a read, then a write", sql: "SELECT 1; DELETE FROM tasks", code: "BAD_REQUEST", message: /found 2 statements/ },
  { name: "no space and a trailing semicolon", sql: "SELECT 1;DELETE FROM tasks;", code: "BAD_REQUEST", message: /found 2 statements/ },
  { name: "a semicolon inside a string first", sql: "SELECT ';'; DELETE FROM tasks", code: "BAD_REQUEST", message: /found 2 statements/ },
  {
    name: "a semicolon after a line comment",
    sql: "SELECT 1 -- comment\n; DROP TABLE tasks",
    code: "BAD_REQUEST",
    message: /found 2 statements/,
  },
  {
    name: "a semicolon after a block comment",
    sql: "SELECT 1 /* ; */ ; DROP TABLE tasks",
    code: "BAD_REQUEST",
    message: /found 2 statements/,
  },
  { name: "VALUES, then a write", sql: "VALUES (1); UPDATE tasks SET title = 'x'", code: "BAD_REQUEST", message: /found 2 statements/ },
  {
    name: "a quote-closing injection",
    sql: "SELECT * FROM tasks WHERE title = ''; UPDATE tasks SET title = 'x' --'",
    code: "BAD_REQUEST",
    message: /found 2 statements/,
  },
  // Comment, quoting, case and whitespace tricks
  {
    name: "a block comment that looks like SELECT",
    sql: "/* SELECT */ DELETE FROM tasks",
    code: "FORBIDDEN",
    message: /DELETE deletes rows/,
  },
  { name: "a line comment that looks like SELECT", sql: "-- SELECT\nDELETE FROM tasks", code: "FORBIDDEN", message: /DELETE deletes rows/ },
  { name: "mixed case and whitespace", sql: " \n\t DeLeTe\n\tFrOm tasks", code: "FORBIDDEN", message: /DELETE deletes rows/ },
  { name: "a quoted keyword", sql: '"DELETE" FROM tasks', code: "FORBIDDEN", message: /starts with "DELETE"/ },
  {
    name: "a NUL byte hiding a second statement",
    sql: "SELECT 1\u0000; DELETE FROM tasks",
    code: "BAD_REQUEST",
    message: /unexpected character NUL/,
  },
  { name: "a non-breaking space", sql: "SELECT\u00a01; DELETE FROM tasks", code: "FORBIDDEN", message: /is not a read/ },
  { name: "an unterminated string", sql: "SELECT 'x; DELETE FROM tasks", code: "BAD_REQUEST", message: /unterminated string/ },
  { name: "EXPLAIN of a DELETE", sql: "EXPLAIN DELETE FROM tasks", code: "FORBIDDEN", message: /DELETE deletes rows/ },
  {
    name: "EXPLAIN QUERY PLAN of a DROP",
    sql: "EXPLAIN QUERY PLAN DROP TABLE tasks",
    code: "FORBIDDEN",
    message: /DROP changes the schema/,
  },
  // Pragmas, attach, maintenance, transactions, extensions
  {
    name: "PRAGMA table_info",
    sql: "PRAGMA table_info(_changes)",
    code: "FORBIDDEN",
    message: /PRAGMA reads or changes database settings/,
  },
  { name: "PRAGMA writable_schema", sql: "PRAGMA writable_schema = 1", code: "FORBIDDEN", message: /PRAGMA/ },
  { name: "PRAGMA foreign_keys", sql: "pragma foreign_keys = OFF", code: "FORBIDDEN", message: /PRAGMA/ },
  {
    name: "PRAGMA reverse_unordered_selects (connection state)",
    sql: "PRAGMA reverse_unordered_selects = 1",
    code: "FORBIDDEN",
    message: /PRAGMA/,
  },
  {
    name: "a pragma function",
    sql: "SELECT * FROM pragma_table_info('_changes')",
    code: "FORBIDDEN",
    message: /pragma functions are not available/,
  },
  {
    name: "a pragma function behind json_each",
    sql: "SELECT * FROM json_each('[1]'), \"pragma_quick_check\"",
    code: "FORBIDDEN",
    message: /pragma functions/,
  },
  { name: "ATTACH", sql: "ATTACH DATABASE ':memory:' AS other", code: "FORBIDDEN", message: /ATTACH opens another database/ },
  { name: "DETACH", sql: "DETACH DATABASE other", code: "FORBIDDEN", message: /DETACH/ },
  { name: "VACUUM", sql: "VACUUM", code: "FORBIDDEN", message: /VACUUM rewrites the database/ },
  { name: "VACUUM INTO", sql: "VACUUM INTO '/tmp/copy.db'", code: "FORBIDDEN", message: /VACUUM/ },
  { name: "REINDEX", sql: "REINDEX", code: "FORBIDDEN", message: /REINDEX rewrites indexes/ },
  { name: "ANALYZE", sql: "ANALYZE", code: "FORBIDDEN", message: /ANALYZE writes statistics/ },
  { name: "BEGIN", sql: "BEGIN IMMEDIATE", code: "FORBIDDEN", message: /BEGIN controls transactions/ },
  { name: "COMMIT", sql: "COMMIT", code: "FORBIDDEN", message: /COMMIT controls transactions/ },
  { name: "ROLLBACK", sql: "ROLLBACK", code: "FORBIDDEN", message: /ROLLBACK controls transactions/ },
  { name: "SAVEPOINT", sql: "SAVEPOINT s", code: "FORBIDDEN", message: /SAVEPOINT controls transactions/ },
  { name: "RELEASE", sql: "RELEASE s", code: "FORBIDDEN", message: /RELEASE controls transactions/ },
  { name: "END TRANSACTION", sql: "END TRANSACTION", code: "FORBIDDEN", message: /END controls transactions/ },
  { name: "load_extension", sql: "SELECT load_extension('/tmp/evil.so')", code: "FORBIDDEN", message: /load_extension is not available/ },
  { name: "a file-writing function", sql: "SELECT writefile('/tmp/x', 'y')", code: "BAD_REQUEST", message: /no such function: writefile/ },
  // Internal tables
  { name: "the change log", sql: "SELECT * FROM _changes", code: "FORBIDDEN", message: /table "_changes" is internal/ },
  { name: "the change log, quoted", sql: 'SELECT * FROM "_changes"', code: "FORBIDDEN", message: /table "_changes" is internal/ },
  {
    name: "the change log, in a join",
    sql: "SELECT t.title FROM tasks t JOIN _changes c ON c.pk = t.id",
    code: "FORBIDDEN",
    message: /table "_changes" is internal/,
  },
  {
    name: "the change log, in a scalar subquery",
    sql: "SELECT (SELECT count(*) FROM _changes) AS n",
    code: "FORBIDDEN",
    message: /table "_changes" is internal/,
  },
  {
    name: "the change log, in a CTE",
    sql: "WITH c AS (SELECT * FROM _changes) SELECT * FROM c",
    code: "FORBIDDEN",
    message: /table "_changes" is internal/,
  },
  {
    name: "migration bookkeeping",
    sql: "SELECT * FROM [__drizzle_migrations]",
    code: "FORBIDDEN",
    message: /table "__drizzle_migrations" is internal/,
  },
  {
    name: "sqlite_master",
    sql: "SELECT * FROM sqlite_master",
    code: "FORBIDDEN",
    message: /"sqlite_master" is one of SQLite's internal tables/,
  },
  {
    name: "sqlite_schema, schema-qualified",
    sql: "SELECT sql FROM main.sqlite_schema",
    code: "FORBIDDEN",
    message: /SQLite's internal tables/,
  },
  { name: "sqlite_sequence", sql: "SELECT * FROM sqlite_sequence", code: "FORBIDDEN", message: /SQLite's internal tables/ },
  { name: "sqlite_temp_master", sql: "SELECT * FROM sqlite_temp_master", code: "FORBIDDEN", message: /SQLite's internal tables/ },
  {
    name: "the platform's _cf_KV",
    sql: "SELECT * FROM _cf_KV",
    code: "FORBIDDEN",
    message: /"_cf_kv" is one of the platform's internal tables/,
  },
  {
    name: "the platform's _cf_METADATA, quoted",
    sql: 'SELECT * FROM "_cf_METADATA"',
    code: "FORBIDDEN",
    message: /the platform's internal tables/,
  },
  // Text that SQLite lexes differently from a naive tokenizer (issue 15, finding 2)
  {
    name: "a recursive CTE hidden behind TCL-style parameters holding quotes",
    sql: "WITH c(x) AS (SELECT 1 UNION ALL SELECT x + $a(') FROM c WHERE $b(') IS NULL) SELECT count(*) FROM c",
    code: "BAD_REQUEST",
    message: /recursive CTE "c" needs a literal LIMIT/,
  },
  {
    name: "a recursive reference hidden behind a byte-order mark",
    sql: "WITH c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM \uFEFFc) SELECT count(*) FROM c",
    code: "BAD_REQUEST",
    message: /recursive CTE "c" needs a literal LIMIT/,
  },
  {
    name: "a recursive CTE named by a string",
    sql: "WITH 'c'(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM 'c' WHERE x < 10) SELECT count(*) FROM c",
    code: "BAD_REQUEST",
    message: /recursive CTE "c" needs a literal LIMIT/,
  },
  {
    name: "a WITH clause that cannot be read",
    sql: "WITH c AS (SELECT 1), SELECT 1",
    code: "BAD_REQUEST",
    message: /WITH clause at offset 0 could not be read/,
  },
  {
    name: "pragma_table_list behind TCL-style parameters",
    sql: "SELECT name, $a(json_each()+$b(') FROM pragma_table_list WHERE $c(') IS NULL",
    code: "FORBIDDEN",
    message: /"pragma_table_list": pragma functions are not available/,
  },
  {
    name: "pragma_table_info behind TCL-style parameters",
    sql: "SELECT name, $a(json_each()+$b(') FROM pragma_table_info(char(95,99,104,97,110,103,101,115)) WHERE $c(') IS NULL",
    code: "FORBIDDEN",
    message: /"pragma_table_info": pragma functions are not available/,
  },
  {
    name: "a pragma table named by a string, with a json_each call compiled away",
    sql: "SELECT name, 0 AND EXISTS (SELECT 1 FROM json_each('[]')) AS never FROM 'pragma_table_list'",
    code: "FORBIDDEN",
    message: /opens a virtual table other than json_each or json_tree/,
  },
  // Runaway and oversized input
  {
    name: "an unbounded recursive CTE under an aggregate",
    sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    code: "BAD_REQUEST",
    message: /recursive CTE "c" needs a literal LIMIT/,
  },
  {
    name: "a recursive CTE bounded by a parameter",
    sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ?) SELECT count(*) FROM c",
    code: "BAD_REQUEST",
    message: /needs a literal LIMIT/,
  },
  {
    name: "oversized input",
    sql: `SELECT 1; ${"DELETE FROM tasks; ".repeat(600)}`,
    code: "BAD_REQUEST",
    message: /at most 10000 characters/,
  },
  { name: "empty input", sql: " -- nothing here\n", code: "BAD_REQUEST", message: /holds no statement/ },
];

describe("read-only SQL: write and escape attempts", () => {
  const room = uniqueRoom("sql-attempts");

  beforeAll(async () => {
    const writer = await clientFor(room, "writer");
    for (const task of BOARD) await writer.tasks.create.mutate(task);
    // Replicate now, so no background push changes _sync_status between checksums.
    await (await clientFor(room, "admin")).sync.forceSyncAll.mutate();
    await closeClients();
  });

  it("has a corpus of at least 40 attempts", () => {
    expect(ATTEMPTS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(ATTEMPTS)("refuses $name, and every table is unchanged", async ({ sql, code, message }) => {
    const before = await checksum(room);
    const admin = await clientFor(room, "admin");
    const refused = await refusal(admin.sql.query.query({ sql }));
    expect(refused.code).toBe(code);
    expect(refused.message).toMatch(message);
    expect(await checksum(room)).toBe(before);
  });

  it("refuses every attempt over the seed protocol too, and every table is unchanged", async () => {
    const before = await checksum(room);
    const answers = await executeSQL(
      await seedSocket(room),
      ATTEMPTS.map(({ sql }) => ({ sql, readonly: true })),
    );
    expect(answers.map((answer) => [answer.type, answer.error?.code])).toEqual(ATTEMPTS.map(({ code }) => ["rpc_error", code]));
    expect(await checksum(room)).toBe(before);
  });

  it("has a checksum that notices a change to any table, internal ones included", async () => {
    const before = await checksum(room);
    await runInDurableObject(stub(room), (_instance, state) => {
      state.storage.sql.exec("UPDATE _changes SET at = at + 1 WHERE seq = (SELECT max(seq) FROM _changes)");
    });
    expect(await checksum(room)).not.toBe(before);
  });
});

describe("read-only SQL: the rollback layer", () => {
  const room = uniqueRoom("sql-rollback");

  it("rolls back whatever runs inside it, even a write, and returns its result", async () => {
    await clientFor(room, "writer").then((writer) => writer.tasks.create.mutate({ title: "kept" }));
    const before = await checksum(room);
    const seen = await runInDurableObject(stub(room), (_instance, state) =>
      rolledBack(state.storage, () => {
        state.storage.sql.exec("INSERT INTO tasks (title, created_by, created_at, updated_at) VALUES ('gone', 'x', 1, 1)");
        return state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM tasks").one().n;
      }),
    );
    expect(seen).toBe(2);
    expect(await checksum(room)).toBe(before);
  });

  it("rolls back and rethrows when the function throws", async () => {
    const before = await checksum(room);
    const message = await runInDurableObject(stub(room), (_instance, state) => {
      try {
        rolledBack(state.storage, () => {
          state.storage.sql.exec("DELETE FROM tasks");
          throw new Error("boom");
        });
        return "no error";
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(message).toBe("boom");
    expect(await checksum(room)).toBe(before);
  });
});
