/**
 * The text-level checks of read-only SQL, run before SQLite sees anything:
 * exactly one statement, of a reading kind (SELECT, VALUES, WITH … SELECT, or
 * EXPLAIN [QUERY PLAN] of one), no internal names, every WITH clause fully
 * read and every recursive CTE bounded by a literal LIMIT. The tokens are
 * SQLite's own (sql-tokenizer.ts); the guarantee itself comes from the
 * compiled program (program-check.ts) and the rolled-back transaction.
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
  /** Names of the recursive CTEs found and bounded by a literal LIMIT (ASCII lower-case), for the query-plan check. */
  boundedRecursion: ReadonlySet<string>;
  /**
   * Every CTE name → the rows its body's trailing literal LIMIT allows, or null
   * when some CTE of that name has none: a row bound for the cost estimate.
   */
  cteLimits: ReadonlyMap<string, number | null>;
  /** The statement's tokens (without a trailing `;`), for the cost estimate's reading of the text. */
  tokens: readonly Token[];
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
  const { bounded: boundedRecursion, limits: cteLimits } = checkRecursiveCtes(tokens, first);

  const last = tokens[tokens.length - 1]!;
  const head = tokens[0]!;
  const programHead = tokens[first]!;
  return {
    text: sql.slice(head.start, last.end),
    textOffset: head.start,
    program: sql.slice(programHead.start, last.end),
    programOffset: programHead.start,
    boundedRecursion,
    cteLimits,
    tokens,
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
    const main = readWith(tokens, first).main;
    if (main.kind === "word" && READING.has(main.name)) return;
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

/** What a WITH clause is made of, for the message of one that cannot be read. */
const WITH_SHAPE = "WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (select), … SELECT …";

/** Tokens that can name a CTE: SQLite's `nm` (an identifier, a quoted one, or a string). */
function isName(token: Token | undefined): token is Token {
  return token?.kind === "word" || token?.kind === "quoted" || token?.kind === "string";
}

/**
 * Reads `WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (body), …`
 * from the WITH at `at` and returns its CTEs and the token after them (the
 * main statement's first). Throws SqlRefused("syntax") for anything else: a
 * WITH clause that is not fully read is never left to SQLite, as a CTE the
 * checks did not see would escape the recursion bound.
 */
function readWith(tokens: readonly Token[], at: number): { ctes: Cte[]; main: Token } {
  const unreadable = (what: string, token: Token | undefined): SqlRefused =>
    new SqlRefused(
      "syntax",
      `the WITH clause at offset ${tokens[at]!.start} could not be read: ${what} ${token ? `at offset ${token.start}` : "at the end"}; ` +
        `expected ${WITH_SHAPE}`,
    );
  let i = at + 1;
  if (isWord(tokens[i], "recursive")) i += 1;
  const ctes: Cte[] = [];
  for (;;) {
    const name = tokens[i];
    if (!isName(name)) throw unreadable("expected a CTE name", name);
    i += 1;
    if (isSymbol(tokens[i], "(")) {
      const close = closingParen(tokens, i);
      if (close === -1) throw unreadable("unclosed column list", tokens[i]);
      i = close + 1;
    }
    if (!isWord(tokens[i], "as")) throw unreadable("expected AS", tokens[i]);
    i += 1;
    if (isWord(tokens[i], "not") && !isWord(tokens[i + 1], "materialized")) throw unreadable("expected MATERIALIZED", tokens[i + 1]);
    if (isWord(tokens[i], "not")) i += 1;
    if (isWord(tokens[i], "materialized")) i += 1;
    if (!isSymbol(tokens[i], "(")) throw unreadable("expected ( before the CTE's body", tokens[i]);
    const close = closingParen(tokens, i);
    if (close === -1) throw unreadable("unclosed CTE body", tokens[i]);
    ctes.push({ name: name.name, open: i, close });
    i = close + 1;
    if (isSymbol(tokens[i], ",")) {
      i += 1;
      continue;
    }
    const main = tokens[i];
    if (!main) throw unreadable("expected a statement after the CTEs", main);
    return { ctes, main };
  }
}

/**
 * Where SQLite's grammar lets a WITH clause start: the statement's head, or
 * right after `(` (a subquery). Anywhere else `with` can only be a name
 * (SQLite falls back to reading the keyword as an identifier).
 */
function startsWithClause(tokens: readonly Token[], at: number, head: number): boolean {
  return isWord(tokens[at], "with") && (at === head || isSymbol(tokens[at - 1], "("));
}

/**
 * Every CTE whose body names itself is recursive (SQLite does not need the
 * RECURSIVE keyword); each must end with a literal `LIMIT n [OFFSET m]` whose
 * n + m is at most MAX_RECURSIVE_CTE_ROWS, so a forgotten stop condition
 * cannot run forever inside one SQLite step. Returns the recursive CTEs' names,
 * and every CTE's literal LIMIT (null for a name some CTE uses without one).
 */
function checkRecursiveCtes(tokens: readonly Token[], head: number): { bounded: Set<string>; limits: Map<string, number | null> } {
  const bounded = new Set<string>();
  const limits = new Map<string, number | null>();
  tokens.forEach((_, at) => {
    if (!startsWithClause(tokens, at, head)) return;
    const { ctes, main } = readWith(tokens, at);
    if (at !== head && !(main.kind === "word" && READING.has(main.name))) {
      throw new SqlRefused("syntax", `a WITH clause inside parentheses must be followed by SELECT or VALUES, not ${main.text}`);
    }
    for (const cte of ctes) {
      const body = tokens.slice(cte.open + 1, cte.close);
      const limit = literalLimit(body);
      const known = limits.get(cte.name);
      limits.set(cte.name, limit === null || known === null ? null : Math.max(limit, known ?? 0));
      // A string names a table too (FROM 'c'), so it counts as a reference: at worst a LIMIT is asked for needlessly.
      if (!body.some((item) => isName(item) && item.name === cte.name)) continue;
      const rows = limit;
      if (rows === null || rows > MAX_RECURSIVE_CTE_ROWS) {
        throw new SqlRefused(
          "unboundedRecursion",
          `recursive CTE "${cte.name}" needs a literal LIMIT of at most ${MAX_RECURSIVE_CTE_ROWS} rows at the end of its body` +
            (rows === null ? "" : ` (this one allows ${rows})`),
        );
      }
      bounded.add(cte.name);
    }
  });
  return { bounded, limits };
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
