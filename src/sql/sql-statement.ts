/**
 * The text-level checks of read-only SQL, run before SQLite sees anything:
 * exactly one statement, of a reading kind (SELECT, VALUES, WITH … SELECT, or
 * EXPLAIN [QUERY PLAN] of one), no internal names, every recursive CTE bounded
 * by a literal LIMIT. They give clear refusals; the guarantee itself comes from
 * the compiled program (program-check.ts) and the rolled-back transaction.
 */
import { MAX_RECURSIVE_CTE_ROWS } from "../lib/limits";
import { SqlRefused } from "./sql-errors";
import { closingParen, isSymbol, isWord, tokenize, type Token } from "./sql-tokenizer";

/** A statement that passed the text-level checks. */
export interface CheckedStatement {
  /** What runs: the source from its first token to its last, without trailing `;` or comments. */
  text: string;
  /** Offset of `text` in the source (to point SQLite's error offsets at the caller's text). */
  textOffset: number;
  /** What EXPLAIN compiles for the program check: `text` without a leading EXPLAIN [QUERY PLAN]. */
  program: string;
  /** Offset of `program` in the source. */
  programOffset: number;
  /** How many `json_each(` / `json_tree(` calls the text makes: the virtual tables it may open. */
  jsonTableCalls: number;
}

/** Statement kinds that read. */
const READING = new Set(["select", "values"]);

/** What a refused statement kind does, for the message. */
const REFUSED_KINDS: Record<string, string> = {
  insert: "writes rows",
  replace: "writes rows",
  update: "writes rows",
  delete: "deletes rows",
  create: "changes the schema",
  drop: "changes the schema",
  alter: "changes the schema",
  pragma: "reads or changes database settings",
  attach: "opens another database",
  detach: "closes a database",
  begin: "controls transactions",
  commit: "controls transactions",
  end: "controls transactions",
  rollback: "controls transactions",
  savepoint: "controls transactions",
  release: "controls transactions",
  vacuum: "rewrites the database",
  reindex: "rewrites indexes",
  analyze: "writes statistics tables",
};

const JSON_TABLES = new Set(["json_each", "json_tree"]);

/** Name prefixes that are never readable, with what they are. */
const INTERNAL_PREFIXES: readonly [string, string][] = [
  ["_cf_", "the platform's internal tables"],
  ["sqlite_", "SQLite's internal tables and functions"],
  ["pragma_", "pragma functions"],
];

const ONLY_READS = "read-only SQL runs one SELECT, VALUES or WITH … SELECT statement";

/**
 * Checks one read-only SQL request's text. Throws SqlRefused with a clear
 * message for anything that is not a single reading statement.
 */
export function checkStatement(sql: string): CheckedStatement {
  const all = tokenize(sql);
  if (all.length === 0) throw new SqlRefused("empty", "the SQL text holds no statement");

  const firstSemicolon = all.findIndex((token) => isSymbol(token, ";"));
  const tokens = firstSemicolon === -1 ? all : all.slice(0, firstSemicolon);
  if (tokens.length === 0) throw new SqlRefused("empty", "the SQL text starts with an empty statement");

  let first = 0;
  if (isWord(tokens[0], "explain")) {
    first = isWord(tokens[1], "query") && isWord(tokens[2], "plan") ? 3 : 1;
    if (first >= tokens.length) throw new SqlRefused("empty", "EXPLAIN needs a statement to explain");
  }
  // The kind first: "CREATE TRIGGER … BEGIN …; END" is refused as a schema change, not as two statements.
  checkKind(tokens, first);
  const statements = countStatements(all);
  if (statements > 1) {
    throw new SqlRefused("multipleStatements", `found ${statements} statements separated by ";"; ${ONLY_READS}`);
  }
  checkNames(tokens);
  checkRecursiveCtes(tokens);

  const last = tokens[tokens.length - 1]!;
  const head = tokens[0]!;
  const programHead = tokens[first]!;
  return {
    text: sql.slice(head.start, last.end),
    textOffset: head.start,
    program: sql.slice(programHead.start, last.end),
    programOffset: programHead.start,
    jsonTableCalls: tokens.filter((token, i) => JSON_TABLES.has(token.name) && isSymbol(tokens[i + 1], "(")).length,
  };
}

/** Statements in the text: runs of tokens separated by `;` (empty ones do not count). */
function countStatements(tokens: readonly Token[]): number {
  let count = 0;
  let inStatement = false;
  for (const token of tokens) {
    if (isSymbol(token, ";")) inStatement = false;
    else if (!inStatement) {
      inStatement = true;
      count += 1;
    }
  }
  return count;
}

function checkKind(tokens: readonly Token[], first: number): void {
  const head = tokens[first]!;
  if (head.kind !== "word") throw new SqlRefused("notARead", `the statement starts with ${head.text}; ${ONLY_READS}`);
  if (READING.has(head.name)) return;
  if (head.name === "with") {
    const main = parseWith(tokens, first)?.main;
    // An unreadable WITH clause is left to SQLite, which reports the syntax error.
    if (!main || (main.kind === "word" && READING.has(main.name))) return;
    const does = REFUSED_KINDS[main.name];
    throw new SqlRefused("notARead", `WITH … ${main.text.toUpperCase()}${does ? ` ${does}` : " is not a read"}; ${ONLY_READS}`);
  }
  const does = REFUSED_KINDS[head.name];
  throw new SqlRefused("notARead", `${head.text.toUpperCase()} ${does ?? "is not a read"}; ${ONLY_READS}`);
}

function checkNames(tokens: readonly Token[]): void {
  for (const token of tokens) {
    if (token.kind !== "word" && token.kind !== "quoted") continue;
    if (token.name === "load_extension") throw new SqlRefused("notARead", "load_extension is not available");
    for (const [prefix, what] of INTERNAL_PREFIXES) {
      if (!token.name.startsWith(prefix)) continue;
      if (prefix === "pragma_") throw new SqlRefused("virtualTable", `"${token.name}": ${what} are not available; use the app's tables`);
      throw new SqlRefused("internalTable", `"${token.name}" is one of ${what}, which are not available`);
    }
  }
}

interface Cte {
  name: string;
  /** Index of the body's `(` and `)`. */
  open: number;
  close: number;
}

/** Reads `WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (body), …` from the WITH at `at`. */
function parseWith(tokens: readonly Token[], at: number): { ctes: Cte[]; main: Token | undefined } | null {
  let i = at + 1;
  if (isWord(tokens[i], "recursive")) i += 1;
  const ctes: Cte[] = [];
  for (;;) {
    const name = tokens[i];
    if (!name || (name.kind !== "word" && name.kind !== "quoted")) return null;
    i += 1;
    if (isSymbol(tokens[i], "(")) {
      const close = closingParen(tokens, i);
      if (close === -1) return null;
      i = close + 1;
    }
    if (!isWord(tokens[i], "as")) return null;
    i += 1;
    if (isWord(tokens[i], "not")) i += 1;
    if (isWord(tokens[i], "materialized")) i += 1;
    if (!isSymbol(tokens[i], "(")) return null;
    const close = closingParen(tokens, i);
    if (close === -1) return null;
    ctes.push({ name: name.name, open: i, close });
    i = close + 1;
    if (!isSymbol(tokens[i], ",")) return { ctes, main: tokens[i] };
    i += 1;
  }
}

/**
 * Every CTE whose body names itself is recursive (SQLite does not need the
 * RECURSIVE keyword); each must end with a literal `LIMIT n [OFFSET m]` whose
 * n + m is at most MAX_RECURSIVE_CTE_ROWS, so a forgotten stop condition
 * cannot run forever inside one SQLite step.
 */
function checkRecursiveCtes(tokens: readonly Token[]): void {
  tokens.forEach((token, at) => {
    if (!isWord(token, "with")) return;
    for (const cte of parseWith(tokens, at)?.ctes ?? []) {
      const body = tokens.slice(cte.open + 1, cte.close);
      if (!body.some((item) => (item.kind === "word" || item.kind === "quoted") && item.name === cte.name)) continue;
      const rows = literalLimit(body);
      if (rows === null || rows > MAX_RECURSIVE_CTE_ROWS) {
        throw new SqlRefused(
          "unboundedRecursion",
          `recursive CTE "${cte.name}" needs a literal LIMIT of at most ${MAX_RECURSIVE_CTE_ROWS} rows at the end of its body` +
            (rows === null ? "" : ` (this one allows ${rows})`),
        );
      }
    }
  });
}

/** Rows a body's own trailing `LIMIT n [OFFSET m]` / `LIMIT m, n` lets it produce (n + m), or null when it has none that is literal. */
function literalLimit(body: readonly Token[]): number | null {
  let depth = 0;
  let limitAt = -1;
  body.forEach((token, i) => {
    if (isSymbol(token, "(")) depth += 1;
    else if (isSymbol(token, ")")) depth -= 1;
    else if (depth === 0 && isWord(token, "limit")) limitAt = i;
  });
  if (limitAt === -1) return null;
  const rest = body.slice(limitAt + 1);
  const numbers = rest.filter((_, i) => i % 2 === 0).map(integerLiteral);
  const separators = rest.filter((_, i) => i % 2 === 1);
  if (numbers.length === 0 || numbers.length > 2 || numbers.includes(null)) return null;
  if (separators.length !== numbers.length - 1) return null;
  if (separators[0] && !isSymbol(separators[0], ",") && !isWord(separators[0], "offset")) return null;
  return numbers.reduce<number>((sum, value) => sum + value!, 0);
}

function integerLiteral(token: Token): number | null {
  if (token.kind !== "number") return null;
  const digits = token.text.replaceAll("_", "");
  if (/^[0-9]+$/.test(digits)) return Number(digits);
  if (/^0x[0-9a-f]+$/i.test(digits)) return Number.parseInt(digits.slice(2), 16);
  return null;
}
