/** Unit tests of the text-level checks (pure: no room needed). */
import { describe, expect, it } from "vitest";
import { checkRecursion } from "../../src/sql/recursion-check";
import { checkStatement } from "../../src/sql/sql-statement";
import { tokenize } from "../../src/sql/sql-tokenizer";
import { readShape } from "../../src/sql/statement-shape";

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

  // Each input is split where SQLite's tokenize.c splits it (checked against this runtime's SQLite).
  it.each([
    { sql: "SELECT $a(')+x FROM c WHERE $b(')", tokens: ["SELECT", "$a(')", "+", "x", "FROM", "c", "WHERE", "$b(')"] },
    { sql: 'SELECT :a(x),@b("y"),#c(\') FROM t', tokens: ["SELECT", ":a(x)", ",", '@b("y")', ",", "#c(')", "FROM", "t"] },
    { sql: "SELECT $a((')) )", tokens: ["SELECT", "$a((')", ")", ")"] },
    { sql: "SELECT $a::b::c, $::x, $a:::b", tokens: ["SELECT", "$a::b::c", ",", "$::x", ",", "$a::", ":b"] },
    { sql: "SELECT $a$b, a$b, ?, ?12a", tokens: ["SELECT", "$a$b", ",", "a$b", ",", "?", ",", "?12", "a"] },
    {
      sql: "SELECT x'00ff', X'', 1e5, 1.e-3, .5, 0x1_F, 1_000.5_5",
      tokens: ["SELECT", "x'00ff'", ",", "X''", ",", "1e5", ",", "1.e-3", ",", ".5", ",", "0x1_F", ",", "1_000.5_5"],
    },
    { sql: "SELECT [a'b], `c``d`, \"e\"\"f\", 'g''h'", tokens: ["SELECT", "[a'b]", ",", "`c``d`", ",", '"e""f"', ",", "'g''h'"] },
    { sql: "\uFEFFSELECT\uFEFF1 FROM\t\u000bt", tokens: ["SELECT\uFEFF1", "FROM", "t"] },
    { sql: "SELECT (\uFEFFc)", tokens: ["SELECT", "(", "c", ")"] },
    { sql: "SELECT 1 /*", tokens: ["SELECT", "1", "/", "*"] },
    {
      sql: "SELECT a->>'x', b->'y', c-->d\n, e!=f, g==h, i<<j, k>>l, m<>n, o||p",
      tokens: [
        "SELECT",
        "a",
        "->>",
        "'x'",
        ",",
        "b",
        "->",
        "'y'",
        ",",
        "c",
        ",",
        "e",
        "!=",
        "f",
        ",",
        "g",
        "==",
        "h",
        ",",
        "i",
        "<<",
        "j",
        ",",
        "k",
        ">>",
        "l",
        ",",
        "m",
        "<>",
        "n",
        ",",
        "o",
        "||",
        "p",
      ],
    },
  ])("splits $sql where SQLite does", ({ sql, tokens }) => {
    expect(tokenize(sql).map((token) => token.text)).toEqual(tokens);
  });

  it("refuses what SQLite's lexer marks illegal", () => {
    expect(() => tokenize("SELECT $a(' ')")).toThrow(/unrecognized token "\$a\('" at offset 7/);
    expect(() => tokenize("SELECT $a(x")).toThrow(/unrecognized token/);
    expect(() => tokenize("SELECT $")).toThrow(/a parameter needs a name/);
    expect(() => tokenize("SELECT @(x)")).toThrow(/unrecognized token/);
    expect(() => tokenize("SELECT 1e, 2")).toThrow(/unrecognized token "1e"/);
    expect(() => tokenize("SELECT 0x")).toThrow(/unrecognized token "0x"/);
    expect(() => tokenize("SELECT x'0g'")).toThrow(/unrecognized token "x'0g'"/);
    expect(() => tokenize("SELECT x'abc'")).toThrow(/unrecognized token/);
    expect(() => tokenize("SELECT !1")).toThrow(/unexpected character "!"/);
    expect(() => tokenize("SELECT [x")).toThrow(/unterminated \[identifier\]/);
  });

  it("names strings as well as identifiers, folding ASCII case only", () => {
    expect(tokenize(`'C' "Ab" [É]`).map((token) => token.name)).toEqual(["c", "ab", "É"]);
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

  it("refuses a WITH clause it cannot read fully, instead of leaving it to SQLite", () => {
    for (const sql of [
      "WITH c AS (SELECT 1) , SELECT 1",
      "WITH c AS (SELECT 1",
      "WITH c(x AS (SELECT 1) SELECT 1",
      "WITH c AS NOT (SELECT 1) SELECT 1",
      "WITH $a AS (SELECT 1) SELECT 1",
      "WITH c AS (SELECT 1)",
      "SELECT * FROM (WITH c AS SELECT 1)",
      "SELECT count(with) FROM t",
    ]) {
      expect(refusalOf(sql), sql).toMatchObject({ reason: "syntax", message: expect.stringMatching(/WITH clause/) });
    }
    expect(refusalOf("SELECT * FROM (WITH c AS (SELECT 1) DELETE FROM t)")?.reason).toBe("syntax");
    // Where the grammar allows no WITH clause, `with` is a name.
    expect(refusalOf("SELECT with FROM (SELECT 2 AS with)")).toBeNull();
  });

  it("sees a recursive CTE that a TCL-style parameter, a BOM or a string name would hide", () => {
    for (const sql of [
      "WITH c(x) AS (SELECT 1 UNION ALL SELECT x + $a(') FROM c WHERE $b(') IS NULL) SELECT count(*) FROM c",
      "WITH c(x) AS (SELECT 1 UNION ALL SELECT x + :a(') FROM c WHERE @b(') IS NULL) SELECT count(*) FROM c",
      "WITH c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM \uFEFFc) SELECT count(*) FROM c",
      "WITH 'c'(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM 'c' WHERE x < 10) SELECT count(*) FROM c",
      "SELECT (WITH c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM [c]) SELECT max(x) FROM c)",
    ]) {
      expect(refusalOf(sql), sql).toMatchObject({ reason: "unboundedRecursion" });
    }
    // After `$l(')` SQLite starts a string at the next quote: the LIMIT inside it bounds nothing.
    expect(
      refusalOf("WITH c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE $l(') IS NULL OR ' LIMIT 5' = $m(')) SELECT x FROM c"),
    ).toMatchObject({
      reason: "unboundedRecursion",
    });
  });

  it("sees pragma functions that a TCL-style parameter would hide", () => {
    expect(refusalOf("SELECT name, $a(json_each()+$b(') FROM pragma_table_list WHERE $c(') IS NULL")).toMatchObject({
      reason: "virtualTable",
      message: expect.stringMatching(/"pragma_table_list": pragma functions/),
    });
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

  it("lists the recursive CTEs it bounded, for the query-plan check", () => {
    expect([
      ...checkStatement('WITH "C"(x) AS (SELECT 1 UNION ALL SELECT x FROM c LIMIT 3), d AS (SELECT 1) SELECT 1').boundedRecursion,
    ]).toEqual(["c"]);
  });

  it("does not mistake names in strings for internal names", () => {
    expect(refusalOf("SELECT 'sqlite_master', '_cf_KV', 'pragma_table_info' FROM tasks")).toBeNull();
  });
});

describe("the query-plan recursion check", () => {
  const plan = (holder: string) => [
    { id: 2, parent: 0, detail: holder },
    { id: 6, parent: 2, detail: "SETUP" },
    { id: 19, parent: 2, detail: "RECURSIVE STEP" },
    { id: 29, parent: 0, detail: "SCAN c" },
  ];

  it("passes a recursive CTE the text check bounded, by its name in any ASCII case", () => {
    expect(() => checkRecursion(plan("CO-ROUTINE C"), new Set(["c"]))).not.toThrow();
    expect(() => checkRecursion(plan("MATERIALIZE my c"), new Set(["my c"]))).not.toThrow();
  });

  it("refuses a recursive step the text check did not bound, or whose CTE it cannot name", () => {
    expect(() => checkRecursion(plan("CO-ROUTINE c"), new Set())).toThrow(/recursive CTE "c" that has no literal LIMIT/);
    expect(() => checkRecursion(plan("SCALAR SUBQUERY 3"), new Set(["c"]))).toThrow(/recursive CTE that has no literal LIMIT/);
  });
});

describe("what the cost estimate reads from the text", () => {
  it("records every CTE's literal LIMIT, and none for a name some CTE uses without one", () => {
    const { cteLimits } = checkStatement(
      "WITH a AS (SELECT 1 LIMIT 5), b AS (SELECT 1 LIMIT 2 OFFSET 3), c AS (SELECT 1) SELECT (WITH a AS (SELECT 1 LIMIT 9) SELECT 1), (WITH c AS (SELECT 1 LIMIT 1) SELECT 1)",
    );
    expect(Object.fromEntries(cteLimits)).toEqual({ a: 9, b: 5, c: null });
  });

  it("maps aliases to the names written before them, and reads IN lists and json_each inputs", () => {
    const shape = readShape(
      tokenize(
        `SELECT * FROM tasks AS t, "Tasks" u JOIN (SELECT 1) AS s ON 1 WHERE t.id IN (1, 2, (3)) AND EXISTS (SELECT 1 FROM json_each(?) AS j, json_tree('[1,2]'))`,
      ),
      ["[1,2,3,4,5]"],
    );
    expect(Object.fromEntries([...shape.aliases].map(([alias, names]) => [alias, [...names]]))).toEqual({ t: ["tasks"], u: ["tasks"] });
    expect([...shape.subqueryAliases].sort()).toEqual(["j", "s"]);
    expect(shape).toMatchObject({ inListItems: 3, opaqueIn: false, jsonInputChars: 11 });
    expect(readShape(tokenize("SELECT 1 FROM tasks, json_each(tasks.title) WHERE id IN tasks"), []).jsonInputChars).toBeNull();
    expect(readShape(tokenize("SELECT 1 FROM tasks WHERE id IN tasks"), []).opaqueIn).toBe(true);
  });
});
