/**
 * What one row visit may cost in expressions, read from the compiled program:
 * a visit runs at most the whole program once, so a long program (many
 * expressions) costs more per visit than the 40 instructions a plain loop
 * takes; and SQLite caps every string or blob at SQLITE_VALUE_MAX_BYTES (≈ 8 MiB here),
 * and a function that can build such a value from a small one (zeroblob,
 * randomblob, replace, hex, quote — and, inside a recursive CTE, any
 * concatenation, since each step may double a value) makes every function
 * call of the query as costly as an operation on a value of that size.
 * printf / format are capped lower by SQLite (100,000 characters per
 * conversion). Used by read-only-sql.ts for the plan's cost; pure.
 */
import { SQLITE_VALUE_MAX_BYTES } from "../lib/limits";
import type { Instruction } from "./program-check";

/** Opcodes that call a function (scalar or aggregate); P4 names it as `name(argc)`. */
const CALLS = new Set(["Function", "PureFunc", "AggStep", "AggStep1", "AggValue", "AggInverse"]);

/** Functions whose result may be as large as SQLite allows, whatever their input's size. */
const VALUE_BUILDERS = new Set(["zeroblob", "randomblob", "replace", "hex", "quote", "unhex"]);

/** Functions that concatenate: their results grow only step after step (a recursive CTE). */
const CONCATENATORS = new Set([
  "concat",
  "concat_ws",
  "group_concat",
  "string_agg",
  "json_array",
  "json_object",
  "json_insert",
  "json_set",
  "json_replace",
  "json_patch",
  "json_group_array",
  "json_group_object",
  "jsonb_array",
  "jsonb_object",
  "jsonb_insert",
  "jsonb_set",
  "jsonb_replace",
  "jsonb_patch",
  "jsonb_group_array",
  "jsonb_group_object",
]);

/** Functions whose output SQLite caps at 100,000 characters per conversion (SQLITE_PRINTF_PRECISION_LIMIT, measured). */
const FORMATTERS = new Set(["printf", "format"]);

/**
 * Row visits one function call on a value of SQLITE_VALUE_MAX_BYTES is worth:
 * measured here, hex() of 1 MB took ≈ 2 ms and a nested-loop row visit
 * ≈ 0.2 µs; an 8 MiB operation ≈ 10 ms ≈ 50,000 visits.
 */
export const BIG_CALL_VISITS = 50_000;

/** The same for printf / format: ≈ 100 KB each, measured 0.08 ms per call. */
export const FORMAT_CALL_VISITS = 500;

/**
 * Instructions of a program that one visit is worth: measured here, a nested
 * loop ran ≈ 4.4 ns per instruction of its program and the budget's visit is
 * ≈ 0.2 µs (MAX_SQL_PLAN_COST), so a visit of a 94-instruction program (ten
 * abs() calls per row) costs 94 / 40 ≈ 2.4 visits.
 */
export const INSTRUCTIONS_PER_VISIT = 40;

/**
 * Bytes of a value that one visit is worth when a function or `||` reads it:
 * measured, hex() ran ≈ 1 ns per byte, a visit ≈ 0.2 µs. A 1 MB parameter
 * concatenated per row costs ≈ 5,000 visits a row.
 */
export const VALUE_BYTES_PER_VISIT = 200;

/** The function a call instruction names. */
function calledName(instruction: Instruction): string | null {
  if (!CALLS.has(instruction.opcode) || typeof instruction.p4 !== "string") return null;
  return /^([A-Za-z_0-9]+)\(/.exec(instruction.p4)?.[1]?.toLowerCase() ?? instruction.p4.toLowerCase();
}

/**
 * Work units one row visit costs: the program's length over
 * INSTRUCTIONS_PER_VISIT (at least 1), plus every call site at BIG_CALL_VISITS
 * when the program can build values of the largest size, else FORMAT_CALL_VISITS
 * per printf / format call and, per call or `||`, what reading the longest
 * literal or parameter (`longestValueChars`) costs.
 *
 * @example
 * visitWeight(program, false); // "SELECT hex(randomblob(100000)) …" → 1 + 2 × 50,000
 */
export function visitWeight(program: readonly Instruction[], recursive: boolean, longestValueChars = 0): number {
  const calls = program.map(calledName).filter((name): name is string => name !== null);
  const concatenates = program.some((instruction) => instruction.opcode === "Concat") || calls.some((name) => CONCATENATORS.has(name));
  const builds = calls.some((name) => VALUE_BUILDERS.has(name)) || (recursive && concatenates);
  const base = Math.max(1, program.length / INSTRUCTIONS_PER_VISIT);
  const operations = calls.length + program.filter((instruction) => instruction.opcode === "Concat").length;
  if (builds) return base + Math.max(1, operations) * BIG_CALL_VISITS;
  const reads = operations * Math.floor(longestValueChars / VALUE_BYTES_PER_VISIT);
  return base + calls.filter((name) => FORMATTERS.has(name)).length * FORMAT_CALL_VISITS + reads;
}

/** Characters one json_each / json_tree may read when its input is not a literal or a parameter: the value size cap. */
export const UNKNOWN_JSON_CHARS = SQLITE_VALUE_MAX_BYTES;
