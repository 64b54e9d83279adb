/**
 * A tokenizer that splits SQL text exactly where SQLite's own lexer
 * (`sqlite3GetToken` in tokenize.c) does, for every token class: strings,
 * quoted identifiers ("x", `x`, [x]), blobs, numbers (with `_` separators),
 * parameters including TCL-style ones (`$a(…)`, `:a::b`, `@a`, `#a`), `--` and
 * `/* *\/` comments, a BOM as space. Text checks (sql-statement.ts) see what
 * SQLite compiles; SQLite stays the real parser (EXPLAIN). Public to src/sql/.
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
  /** A bound parameter: ?, ?NNN, or a sigil ($ : @ #) with a name, TCL-style `::` parts and a `(…)` suffix. */
  | "variable"
  /** Punctuation and operators: ( ) , ; . + - * / || <= … */
  | "symbol";

export interface Token {
  kind: TokenKind;
  /** The token exactly as written. */
  text: string;
  /**
   * For words, quoted identifiers and strings: the name, unquoted, with ASCII
   * letters lower-cased (SQLite compares names case-insensitively, ASCII only;
   * a string may name a table or CTE too).
   */
  name: string;
  /** Offset of the first character in the source text. */
  start: number;
  /** Offset just after the last character. */
  end: number;
}

/** Characters that start whitespace (tokenize.c's CC_SPACE). */
const SPACE_START = new Set([" ", "\t", "\n", "\f", "\r"]);
/** Characters that continue it (sqlite3Isspace, which adds vertical tab). */
const SPACE = new Set([" ", "\t", "\n", "\f", "\r", "\v"]);
/** U+FEFF is UTF-8 EF BB BF: whitespace where a token starts, an identifier character elsewhere. */
const BOM = "\uFEFF";
const SINGLE_SYMBOLS = new Set(["(", ")", ",", ";", "+", "*", "%", "&", "~", "."]);
const VARIABLE_SIGILS = new Set(["$", ":", "@", "#"]);

const isDigit = (char: string | undefined) => char !== undefined && char >= "0" && char <= "9";
const isHexDigit = (char: string | undefined) => char !== undefined && /^[0-9A-Fa-f]$/.test(char);

/** IdChar(): letters, digits, `_`, `$` and every non-ASCII character. */
function isIdChar(char: string | undefined): boolean {
  if (char === undefined) return false;
  return /^[A-Za-z0-9_$]$/.test(char) || char.charCodeAt(0) >= 0x80;
}

/** Lower-cases ASCII letters only, as SQLite's name comparison does. */
export function foldName(name: string): string {
  return name.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

function unrecognized(sql: string, start: number, end: number): SqlRefused {
  return new SqlRefused("syntax", `unrecognized token ${JSON.stringify(sql.slice(start, Math.max(end, start + 1)))} at offset ${start}`);
}

/** End of the quoted token at `start` (delimiter doubled to escape), or -1 when it is not closed. */
function quoteEnd(sql: string, start: number): number {
  const delimiter = sql[start]!;
  let i = start + 1;
  for (; i < sql.length; i += 1) {
    if (sql[i] !== delimiter) continue;
    if (sql[i + 1] === delimiter) i += 1;
    else return i + 1;
  }
  return -1;
}

/** End of the number at `start` (decimal, hex, with `_` separators and an exponent), as tokenize.c's CC_DIGIT. */
function numberEnd(sql: string, start: number): number {
  const digitsFrom = (from: number, digit: (char: string | undefined) => boolean) => {
    let i = from;
    while (digit(sql[i]) || sql[i] === "_") i += 1;
    return i;
  };
  let i: number;
  if (sql[start] === "0" && (sql[start + 1] === "x" || sql[start + 1] === "X") && isHexDigit(sql[start + 2])) {
    i = digitsFrom(start + 3, isHexDigit);
  } else {
    i = digitsFrom(start, isDigit);
    if (sql[i] === ".") i = digitsFrom(i + 1, isDigit);
    const sign = sql[i + 1] === "+" || sql[i + 1] === "-";
    if ((sql[i] === "e" || sql[i] === "E") && (isDigit(sql[i + 1]) || (sign && isDigit(sql[i + 2])))) {
      i = digitsFrom(i + 2, isDigit);
    }
  }
  return i;
}

/**
 * End of the parameter at `start` (a sigil $ : @ #), as tokenize.c's
 * CC_DOLLAR / CC_VARALPHA: identifier characters, `::` pairs, and after a
 * name a `(` that swallows everything (quotes included) up to the first `)`.
 * Returns -1 where SQLite's token is illegal: no name, or whitespace or the
 * end of the text before the `)`.
 */
function variableEnd(sql: string, start: number): number {
  let named = 0;
  let i = start + 1;
  for (; i < sql.length; i += 1) {
    const char = sql[i]!;
    if (isIdChar(char)) {
      named += 1;
    } else if (char === "(" && named > 0) {
      do i += 1;
      while (i < sql.length && !SPACE.has(sql[i]!) && sql[i] !== ")");
      return sql[i] === ")" ? i + 1 : -1;
    } else if (char === ":" && sql[i + 1] === ":") {
      i += 1;
    } else {
      break;
    }
  }
  return named === 0 ? -1 : i;
}

/** End of the operator at `i` (tokenize.c's CC_MINUS, CC_LT, CC_GT, …), or null when SQLite has none there. */
function symbolEnd(sql: string, i: number): number | null {
  const char = sql[i]!;
  const next = sql[i + 1];
  if (SINGLE_SYMBOLS.has(char)) return i + 1;
  switch (char) {
    case "-":
      return next === ">" ? i + (sql[i + 2] === ">" ? 3 : 2) : i + 1;
    case "<":
      return next === "=" || next === ">" || next === "<" ? i + 2 : i + 1;
    case ">":
      return next === "=" || next === ">" ? i + 2 : i + 1;
    case "=":
      return next === "=" ? i + 2 : i + 1;
    case "|":
      return next === "|" ? i + 2 : i + 1;
    case "!":
      return next === "=" ? i + 2 : null;
    case "/":
      return i + 1;
    default:
      return null;
  }
}

/**
 * Splits SQL text into tokens, dropping whitespace and comments, at exactly
 * the boundaries SQLite uses. Throws SqlRefused("syntax") where SQLite's lexer
 * would produce an illegal token (it would refuse the statement too).
 *
 * @example
 * tokenize("SELECT 'a;b' -- c").map((t) => t.text); // ["SELECT", "'a;b'"]
 * tokenize("SELECT $a(')+1").map((t) => t.text); // ["SELECT", "$a(')", "+", "1"]
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, start: number, end: number, name = "") => {
    tokens.push({ kind, text: sql.slice(start, end), name, start, end });
    return end;
  };
  // SQLite reads its text up to the first NUL: refuse one rather than guess what it ignores.
  const nul = sql.indexOf("\0");
  if (nul !== -1) throw new SqlRefused("syntax", `unexpected character NUL at offset ${nul}`);
  let i = 0;
  while (i < sql.length) {
    const char = sql[i]!;
    const next = sql[i + 1];
    if (SPACE_START.has(char)) {
      i += 1;
      while (i < sql.length && SPACE.has(sql[i]!)) i += 1;
    } else if (char === BOM) {
      i += 1;
    } else if (char === "-" && next === "-") {
      const newline = sql.indexOf("\n", i);
      i = newline === -1 ? sql.length : newline;
    } else if (char === "/" && next === "*" && i + 2 < sql.length) {
      const close = sql.indexOf("*/", i + 2);
      i = close === -1 ? sql.length : close + 2;
    } else if (char === "'" || char === '"' || char === "`") {
      const end = quoteEnd(sql, i);
      if (end === -1) {
        throw new SqlRefused("syntax", `unterminated ${char === "'" ? "string literal" : "quoted identifier"} at offset ${i}`);
      }
      const name = foldName(sql.slice(i + 1, end - 1).replaceAll(char + char, char));
      i = push(char === "'" ? "string" : "quoted", i, end, name);
    } else if (char === "[") {
      const close = sql.indexOf("]", i + 1);
      if (close === -1) throw new SqlRefused("syntax", `unterminated [identifier] at offset ${i}`);
      i = push("quoted", i, close + 1, foldName(sql.slice(i + 1, close)));
    } else if ((char === "x" || char === "X") && next === "'") {
      let end = i + 2;
      while (isHexDigit(sql[end])) end += 1;
      if (sql[end] !== "'" || (end - i) % 2 !== 0) {
        while (end < sql.length && sql[end] !== "'") end += 1;
        throw unrecognized(sql, i, end + 1);
      }
      i = push("blob", i, end + 1);
    } else if (isDigit(char) || (char === "." && isDigit(next))) {
      let end = numberEnd(sql, i);
      if (isIdChar(sql[end])) {
        while (isIdChar(sql[end])) end += 1;
        throw unrecognized(sql, i, end);
      }
      i = push("number", i, end);
    } else if (char === "?") {
      let end = i + 1;
      while (isDigit(sql[end])) end += 1;
      i = push("variable", i, end);
    } else if (VARIABLE_SIGILS.has(char)) {
      const end = variableEnd(sql, i);
      if (end === -1) {
        if (!isIdChar(next) && next !== "(" && next !== ":") {
          throw new SqlRefused("syntax", `unexpected character ${JSON.stringify(char)} (a parameter needs a name) at offset ${i}`);
        }
        let stop = i + 1;
        while (stop < sql.length && !SPACE.has(sql[stop]!)) stop += 1;
        throw unrecognized(sql, i, stop);
      }
      i = push("variable", i, end);
    } else if (isIdChar(char)) {
      let end = i + 1;
      while (isIdChar(sql[end])) end += 1;
      i = push("word", i, end, foldName(sql.slice(i, end)));
    } else {
      const end = symbolEnd(sql, i);
      if (end === null) {
        throw new SqlRefused("syntax", `unexpected character ${JSON.stringify(char)} at offset ${i}`);
      }
      i = push("symbol", i, end);
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
