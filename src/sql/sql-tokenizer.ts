/**
 * A tokenizer that follows SQLite's own lexer (tokenize.c): strings, quoted
 * identifiers ("x", `x`, [x]), blobs, numbers, parameters, `--` and `/* *\/`
 * comments (not nested; an unterminated block comment runs to the end). Used by
 * sql-statement.ts to count statements and give clear refusals; the statement
 * itself is always compiled by SQLite (EXPLAIN), which stays the real parser.
 */
import { SqlRefused } from "./sql-errors";

export type TokenKind =
  /** A bare word: a keyword or an unquoted identifier. */
  | "word"
  /** A quoted identifier: "x", `x` or [x]. */
  | "quoted"
  | "string"
  | "number"
  | "blob"
  /** A bound parameter: ?, ?NNN, :name, @name, $name. */
  | "variable"
  /** Punctuation and operators: ( ) , ; . + - * / || <= … */
  | "symbol";

export interface Token {
  kind: TokenKind;
  /** The token exactly as written. */
  text: string;
  /** For words and quoted identifiers: the name, unquoted and lower-cased (SQLite compares names case-insensitively). */
  name: string;
  /** Offset of the first character in the source text. */
  start: number;
  /** Offset just after the last character. */
  end: number;
}

const SPACE = new Set([" ", "\t", "\n", "\f", "\r"]);
const TWO_CHAR_SYMBOLS = new Set(["||", "<=", ">=", "<>", "!=", "==", "<<", ">>", "->"]);
const ONE_CHAR_SYMBOLS = new Set(["(", ")", ",", ";", ".", "+", "-", "*", "/", "%", "&", "|", "~", "<", ">", "="]);

/** SQLite treats every non-ASCII character as part of an identifier. */
function isIdentifierStart(char: string): boolean {
  return /[A-Za-z_]/.test(char) || char.charCodeAt(0) >= 0x80;
}

function isIdentifierPart(char: string): boolean {
  return isIdentifierStart(char) || /[0-9$]/.test(char);
}

function syntax(message: string, offset: number): SqlRefused {
  return new SqlRefused("syntax", `${message} at offset ${offset}`);
}

/** Index just after the closing `close`, where a doubled `close` is an escaped one. */
function closeQuote(sql: string, from: number, close: string, doubled: boolean): number {
  let at = from + 1;
  for (;;) {
    const found = sql.indexOf(close, at);
    if (found === -1) return -1;
    if (doubled && sql[found + 1] === close) {
      at = found + 2;
      continue;
    }
    return found + 1;
  }
}

/**
 * Splits SQL text into tokens, dropping whitespace and comments.
 * Throws SqlRefused("syntax") for characters or quotes SQLite would not accept.
 *
 * @example
 * tokenize("SELECT 'a;b' -- c").map((t) => t.text); // ["SELECT", "'a;b'"]
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, start: number, end: number, name = "") =>
    tokens.push({ kind, text: sql.slice(start, end), name, start, end });
  let i = 0;
  while (i < sql.length) {
    const char = sql[i]!;
    const next = sql[i + 1];
    if (SPACE.has(char)) {
      i += 1;
    } else if (char === "-" && next === "-") {
      const newline = sql.indexOf("\n", i);
      i = newline === -1 ? sql.length : newline + 1;
    } else if (char === "/" && next === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close === -1 ? sql.length : close + 2;
    } else if (char === "'") {
      const end = closeQuote(sql, i, "'", true);
      if (end === -1) throw syntax("unterminated string literal", i);
      push("string", i, end);
      i = end;
    } else if (char === '"' || char === "`") {
      const end = closeQuote(sql, i, char, true);
      if (end === -1) throw syntax(`unterminated quoted identifier`, i);
      push(
        "quoted",
        i,
        end,
        sql
          .slice(i + 1, end - 1)
          .replaceAll(char + char, char)
          .toLowerCase(),
      );
      i = end;
    } else if (char === "[") {
      const end = closeQuote(sql, i, "]", false);
      if (end === -1) throw syntax("unterminated [identifier]", i);
      push("quoted", i, end, sql.slice(i + 1, end - 1).toLowerCase());
      i = end;
    } else if ((char === "x" || char === "X") && next === "'") {
      const end = closeQuote(sql, i + 1, "'", false);
      if (end === -1) throw syntax("unterminated blob literal", i);
      push("blob", i, end);
      i = end;
    } else if (/[0-9]/.test(char) || (char === "." && next !== undefined && /[0-9]/.test(next))) {
      const match = /^(0[xX][0-9A-Fa-f_]+|[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?)/.exec(sql.slice(i))!;
      const end = i + match[0].length;
      if (end < sql.length && isIdentifierPart(sql[end]!)) throw syntax(`malformed number "${sql.slice(i, end + 1)}"`, i);
      push("number", i, end);
      i = end;
    } else if (char === "?") {
      let end = i + 1;
      while (end < sql.length && /[0-9]/.test(sql[end]!)) end += 1;
      push("variable", i, end);
      i = end;
    } else if ((char === ":" || char === "@" || char === "$") && next !== undefined && isIdentifierPart(next)) {
      let end = i + 1;
      while (end < sql.length && isIdentifierPart(sql[end]!)) end += 1;
      push("variable", i, end);
      i = end;
    } else if (isIdentifierStart(char)) {
      let end = i + 1;
      while (end < sql.length && isIdentifierPart(sql[end]!)) end += 1;
      push("word", i, end, sql.slice(i, end).toLowerCase());
      i = end;
    } else if (sql.startsWith("->>", i)) {
      push("symbol", i, i + 3);
      i += 3;
    } else if (next !== undefined && TWO_CHAR_SYMBOLS.has(char + next)) {
      push("symbol", i, i + 2);
      i += 2;
    } else if (ONE_CHAR_SYMBOLS.has(char)) {
      push("symbol", i, i + 1);
      i += 1;
    } else {
      const shown = char === "\0" ? "NUL" : JSON.stringify(char);
      throw syntax(`unexpected character ${shown}`, i);
    }
  }
  return tokens;
}

/** True when `token` is the bare word `word` (case-insensitive); quoted identifiers are never keywords. */
export function isWord(token: Token | undefined, word: string): boolean {
  return token?.kind === "word" && token.name === word.toLowerCase();
}

/** True when `token` is the symbol `symbol`. */
export function isSymbol(token: Token | undefined, symbol: string): boolean {
  return token?.kind === "symbol" && token.text === symbol;
}

/** Index of the `)` matching the `(` at `open`, or -1 when it is not closed. */
export function closingParen(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i += 1) {
    if (isSymbol(tokens[i], "(")) depth += 1;
    else if (isSymbol(tokens[i], ")")) {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}
