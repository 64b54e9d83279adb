/** Unit tests of the text-level checks (pure: no room needed). */
import { describe, expect, it } from "vitest";
import { checkStatement } from "../../src/sql/sql-statement";
import { tokenize } from "../../src/sql/sql-tokenizer";

const refusalOf = (sql: string) => {
  try {
    checkStatement(sql);
    return null;
  } catch (error) {
    return { reason: (error as { reason?: string }).reason, message: (error as Error).message };
  }
};

describe("the SQL tokenizer", () => {
  it("keeps strings, quoted identifiers and blobs whole, and drops comments", () => {
    const tokens = tokenize(`SELECT 'a;''b' AS "x"";y", [c;d], \`e\`, x'0aff' -- tail ;\n /* ; */ FROM t`);
    expect(tokens.map((token) => [token.kind, token.text])).toEqual([
      ["word", "SELECT"],
      ["string", "'a;''b'"],
      ["word", "AS"],
      ["quoted", '"x"";y"'],
      ["symbol", ","],
      ["quoted", "[c;d]"],
      ["symbol", ","],
      ["quoted", "`e`"],
      ["symbol", ","],
      ["blob", "x'0aff'"],
      ["word", "FROM"],
      ["word", "t"],
    ]);
    expect(tokens[3]!.name).toBe('x";y');
  });

  it("reads numbers, parameters and multi-character operators like SQLite", () => {
    const tokens = tokenize("SELECT 1_000, .5e3, 0xFF, ?, ?12, :name, @at, $dollar, a->>'$.b', x<>y, a||b");
    expect(tokens.filter((token) => token.kind === "number").map((token) => token.text)).toEqual(["1_000", ".5e3", "0xFF"]);
    expect(tokens.filter((token) => token.kind === "variable").map((token) => token.text)).toEqual(["?", "?12", ":name", "@at", "$dollar"]);
    expect(tokens.filter((token) => token.kind === "symbol" && token.text.length > 1).map((token) => token.text)).toEqual([
      "->>",
      "<>",
      "||",
    ]);
  });

  it("treats an unterminated block comment as running to the end, as SQLite does", () => {
    expect(tokenize("SELECT 1 /* ; DELETE FROM t").map((token) => token.text)).toEqual(["SELECT", "1"]);
  });

  it("refuses unterminated quotes and characters SQLite does not accept", () => {
    expect(() => tokenize("SELECT 'x")).toThrow(/unterminated string literal at offset 7/);
    expect(() => tokenize('SELECT "x')).toThrow(/unterminated quoted identifier/);
    expect(() => tokenize("SELECT 1 # x")).toThrow(/unexpected character "#"/);
    expect(() => tokenize("SELECT\u000b1")).toThrow(/unexpected character/);
  });
});

describe("the statement check", () => {
  it("runs exactly the statement, without surrounding comments and trailing semicolons", () => {
    const checked = checkStatement("  -- lead\n SELECT 1 AS one ;; -- trail");
    expect(checked).toMatchObject({ text: "SELECT 1 AS one", textOffset: 11, program: "SELECT 1 AS one" });
  });

  it("explains the statement under EXPLAIN [QUERY PLAN]", () => {
    expect(checkStatement("EXPLAIN QUERY PLAN SELECT * FROM tasks")).toMatchObject({
      text: "EXPLAIN QUERY PLAN SELECT * FROM tasks",
      program: "SELECT * FROM tasks",
      programOffset: 19,
    });
  });

  it("finds the main statement after any number of CTEs", () => {
    expect(refusalOf("WITH a(x) AS (SELECT 1), b AS MATERIALIZED (SELECT (2)) SELECT * FROM a, b")).toBeNull();
    expect(refusalOf("WITH a AS NOT MATERIALIZED (SELECT 1), b AS (SELECT 2) DELETE FROM t")).toMatchObject({
      reason: "notARead",
      message: expect.stringMatching(/^WITH … DELETE deletes rows/),
    });
  });

  it("counts only the json_each and json_tree calls as virtual tables", () => {
    expect(checkStatement("SELECT json_each FROM t, json_each(?) j, json_tree('{}')").jsonTableCalls).toBe(2);
  });

  it("treats a CTE that names itself as recursive, with or without RECURSIVE, and bounds it by a literal LIMIT", () => {
    expect(refusalOf("WITH c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c")?.reason).toBe("unboundedRecursion");
    expect(refusalOf('WITH "C"(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10) SELECT x FROM c')).toBeNull();
    expect(
      refusalOf("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10 OFFSET 99995) SELECT x FROM c"),
    ).toMatchObject({
      reason: "unboundedRecursion",
      message: expect.stringMatching(/allows 100005/),
    });
    expect(refusalOf("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5, 10) SELECT x FROM c")).toBeNull();
    // A LIMIT inside a subquery of the body does not bound the recursion.
    expect(
      refusalOf("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x IN (SELECT 1 LIMIT 1)) SELECT x FROM c")?.reason,
    ).toBe("unboundedRecursion");
    // Nested WITH clauses are checked too.
    expect(refusalOf("SELECT * FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x FROM c) SELECT x FROM c)")?.reason).toBe(
      "unboundedRecursion",
    );
  });

  it("does not mistake names in strings for internal names", () => {
    expect(refusalOf("SELECT 'sqlite_master', '_cf_KV', 'pragma_table_info' FROM tasks")).toBeNull();
  });
});
