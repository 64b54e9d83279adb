/**
 * What the cost estimate reads from a statement's text: which names an alias
 * may stand for (EXPLAIN QUERY PLAN names a loop by its alias), which names
 * are subquery aliases, how long the longest literal IN list is, and how large
 * the input of each json_each / json_tree may be. Over-reading is harmless
 * (an extra candidate only raises an estimate). Used by read-only-sql.ts; pure.
 */
import { closingParen, isSymbol, isWord, type Token } from "./sql-tokenizer";

/** What the text says that the query plan does not. */
export interface StatementShape {
  /** Alias → every name written right before it (`tasks AS t`, `tasks t`). */
  aliases: ReadonlyMap<string, ReadonlySet<string>>;
  /** Names given to a parenthesized subquery or a table function (`(SELECT …) AS x`): never a CTE's name there. */
  subqueryAliases: ReadonlySet<string>;
  /** Most values in one literal `IN (a, b, …)` list (0 when there is none). */
  inListItems: number;
  /** True when some `IN` is followed by a name (`IN tbl`, `IN json_each(…)`): its size is a table's or unknown. */
  opaqueIn: boolean;
  /**
   * The longest text a json_each / json_tree call reads, in characters, when
   * each call's first argument is a string literal or a parameter; null when
   * some call reads anything else (a column, an expression).
   */
  jsonInputChars: number | null;
  /** The longest string or blob literal in the text or bound parameter, in characters: what an expression may read. */
  longestValueChars: number;
}

/**
 * SQLite's reserved words: never a bare name (SQLite's grammar falls back to
 * reading every other keyword as an identifier), so never a source or an alias
 * unless quoted. Anything else right after a name is read as an alias: reading
 * too many is harmless, missing one is not.
 */
const RESERVED = new Set(
  (
    "all and as between case check collate commit constraint create cross default deferrable delete distinct drop else escape except " +
    "exists foreign from full group having in index indexed inner insert intersect into is isnull join left limit natural not notnull " +
    "null on or order outer primary references returning right select set table then to transaction union unique update using values when where"
  ).split(" "),
);

/** Join keywords: reserved, yet SQLite's grammar takes them as a table or CTE name (`nm ::= JOIN_KW`). */
const JOIN_WORDS = new Set(["cross", "full", "inner", "left", "natural", "outer", "right"]);

const isName = (token: Token | undefined): token is Token => token?.kind === "word" || token?.kind === "quoted" || token?.kind === "string";

/**
 * Reads the shape of a checked statement's tokens.
 *
 * @example
 * readShape(tokenize("SELECT * FROM tasks AS t WHERE id IN (1, 2)"), []);
 * // → aliases t → {tasks}, inListItems 2, …
 */
export function readShape(tokens: readonly Token[], params: readonly unknown[]): StatementShape {
  const aliases = new Map<string, Set<string>>();
  const subqueryAliases = new Set<string>();
  let inListItems = 0;
  let opaqueIn = false;
  let jsonInputChars: number | null = 0;
  const longestParam = Math.max(0, ...params.map((param) => (typeof param === "string" ? param.length : String(param).length)));

  tokens.forEach((token, i) => {
    const alias = aliasAfter(tokens, i);
    if (alias !== undefined && isSymbol(token, ")")) subqueryAliases.add(alias);
    else if (alias !== undefined && isName(token) && !(token.kind === "word" && RESERVED.has(token.name) && !JOIN_WORDS.has(token.name)))
      aliases.set(alias, (aliases.get(alias) ?? new Set()).add(token.name));

    if (isWord(token, "in")) {
      const next = tokens[i + 1];
      if (isSymbol(next, "(")) {
        const first = tokens[i + 2];
        if (!(isWord(first, "select") || isWord(first, "with") || isWord(first, "values"))) {
          inListItems = Math.max(inListItems, listItems(tokens, i + 1));
        }
      } else if (next !== undefined) opaqueIn = true;
    }

    if ((token.name === "json_each" || token.name === "json_tree") && isName(token) && isSymbol(tokens[i + 1], "(")) {
      const input = firstArgument(tokens, i + 1);
      const only = input.length === 1 ? input[0] : undefined;
      if (only?.kind === "string") jsonInputChars = jsonInputChars === null ? null : Math.max(jsonInputChars, only.text.length);
      else if (only?.kind === "variable") jsonInputChars = jsonInputChars === null ? null : Math.max(jsonInputChars, longestParam);
      else if (input.length > 0) jsonInputChars = null;
    }
  });
  const longestLiteral = Math.max(
    0,
    ...tokens.filter((token) => token.kind === "string" || token.kind === "blob").map((token) => token.text.length),
  );
  return { aliases, subqueryAliases, inListItems, opaqueIn, jsonInputChars, longestValueChars: Math.max(longestParam, longestLiteral) };
}

/** The alias written after the token at `at` (`AS name`, or a bare name that cannot be a keyword there), if any. */
function aliasAfter(tokens: readonly Token[], at: number): string | undefined {
  const next = tokens[at + 1];
  if (isWord(next, "as")) return isName(tokens[at + 2]) ? tokens[at + 2]!.name : undefined;
  if (!isName(next)) return undefined;
  if (next.kind === "word" && RESERVED.has(next.name)) return undefined;
  return next.name;
}

/** Values in the parenthesized list opening at `open`: top-level commas + 1 (0 for `()`). */
function listItems(tokens: readonly Token[], open: number): number {
  const close = closingParen(tokens, open);
  if (close === -1 || close === open + 1) return 0;
  let depth = 0;
  let items = 1;
  for (let i = open + 1; i < close; i++) {
    const token = tokens[i];
    if (isSymbol(token, "(")) depth += 1;
    else if (isSymbol(token, ")")) depth -= 1;
    else if (depth === 0 && isSymbol(token, ",")) items += 1;
  }
  return items;
}

/** The tokens of the first argument of the call whose `(` is at `open`. */
function firstArgument(tokens: readonly Token[], open: number): Token[] {
  const close = closingParen(tokens, open);
  const end = close === -1 ? tokens.length : close;
  const argument: Token[] = [];
  let depth = 0;
  for (let i = open + 1; i < end; i++) {
    const token = tokens[i]!;
    if (isSymbol(token, "(")) depth += 1;
    else if (isSymbol(token, ")")) depth -= 1;
    else if (depth === 0 && isSymbol(token, ",")) break;
    argument.push(token);
  }
  return argument;
}
