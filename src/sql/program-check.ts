/**
 * The by-construction check of read-only SQL: SQLite compiles the statement
 * (`EXPLAIN <statement>`) and this module reads the bytecode. A statement
 * passes only if its program opens no write cursor, starts no write
 * transaction, changes no schema, and every table or index it opens belongs to
 * a readable table, and every virtual table it opens is json_each or
 * json_tree. Used by read-only-sql.ts; pure, given the program rows.
 */
import { SqlRefused } from "./sql-errors";

/** One row of `EXPLAIN <statement>`: one bytecode instruction. */
export interface Instruction {
  addr: number;
  opcode: string;
  p1: number;
  p2: number;
  p3: number;
  p4: string | number | null;
  p5: number;
}

/** The columns SQLite gives `EXPLAIN`, in order; anything else means another statement ran. */
export const EXPLAIN_COLUMNS = ["addr", "opcode", "p1", "p2", "p3", "p4", "p5", "comment"] as const;

/** A table or index of the database, from sqlite_schema. */
export interface SchemaObject {
  type: string;
  name: string;
  /** The table an index belongs to (a table's own name for a table). */
  table: string;
}

/**
 * Opcodes that write to the database file, change the schema or the
 * connection, or run trigger programs. A reading SELECT compiles to none of
 * them. (Insert, Delete, IdxInsert and NewRowid are absent on purpose: reads
 * use them on temporary cursors, and every persistent write needs OpenWrite.)
 */
const WRITE_OPCODES = new Set([
  "OpenWrite",
  "CreateBtree",
  "Destroy",
  "Clear",
  "DropTable",
  "DropIndex",
  "DropTrigger",
  "ParseSchema",
  "SetCookie",
  "Vacuum",
  "IncrVacuum",
  "JournalMode",
  "Savepoint",
  "AutoCommit",
  "SqlExec",
  "LoadAnalysis",
  "Expire",
  "VCreate",
  "VDestroy",
  "VUpdate",
  "VRename",
  "VBegin",
  "Program",
  "Checkpoint",
  "MaxPgcnt",
  "ResetCount",
  "FkCounter",
]);

/** Opcodes that open a b-tree of the database file by its root page (P2) in database P3. */
const OPEN_BY_ROOT = new Set(["OpenRead", "ReopenIdx"]);

/** OPFLAG_P2ISREG: P2 of an Open* instruction is a register, not a root page. Never in a plain read. */
const P2_IS_REGISTER = 0x10;

/** Root page 1 is always the schema table itself. */
const SCHEMA_ROOT_PAGE = 1;

/** What the statement is allowed to open. */
export interface ProgramPolicy {
  /** Root page → table or index, from sqlite_schema. */
  schema: ReadonlyMap<number, SchemaObject>;
  /** Tables that may be read (their indexes may be read too). */
  readableTables: ReadonlySet<string>;
  /**
   * The virtual tables that may be opened: the P4 of a `VOpen` of json_each or
   * json_tree on this connection. EXPLAIN shows a VOpen's table as
   * `vtab:<address>`, not by name; an eponymous table (json_each, every
   * pragma_* function) keeps one address per connection, so the caller learns
   * these two by compiling them.
   */
  jsonTables: ReadonlySet<string>;
}

/** True when the program opens a virtual table, so the caller must learn which ones json_each and json_tree are. */
export function opensVirtualTable(program: readonly Instruction[]): boolean {
  return program.some((instruction) => instruction.opcode === "VOpen");
}

/** Throws SqlRefused unless `program` only reads readable tables. */
export function checkProgram(program: readonly Instruction[], policy: ProgramPolicy): void {
  for (const instruction of program) {
    const { opcode } = instruction;
    if (WRITE_OPCODES.has(opcode)) {
      throw new SqlRefused(
        "writes",
        `the statement would write or change the database (its program uses ${opcode}); read-only SQL only reads`,
      );
    }
    if (opcode === "Transaction" && instruction.p2 !== 0) {
      throw new SqlRefused("writes", "the statement would open a write transaction; read-only SQL only reads");
    }
    if (opcode === "VOpen" && !policy.jsonTables.has(String(instruction.p4))) {
      throw new SqlRefused(
        "virtualTable",
        "the statement opens a virtual table other than json_each or json_tree (a pragma function or another module); only json_each and json_tree are available",
      );
    }
    if (OPEN_BY_ROOT.has(opcode)) checkOpen(instruction, policy);
  }
}

function checkOpen(instruction: Instruction, policy: ProgramPolicy): void {
  if (instruction.p3 !== 0)
    throw new SqlRefused("internalTable", "only the room's main database is readable (no temp or attached databases)");
  if ((instruction.p5 & P2_IS_REGISTER) !== 0) throw new SqlRefused("writes", "the statement opens a b-tree chosen at run time");
  const root = instruction.p2;
  if (root === SCHEMA_ROOT_PAGE)
    throw new SqlRefused("internalTable", `"sqlite_schema" is internal and not readable; ${readableList(policy)}`);
  const object = policy.schema.get(root);
  if (!object) throw new SqlRefused("internalTable", `the statement opens an unknown b-tree (root page ${root}); ${readableList(policy)}`);
  if (!policy.readableTables.has(object.table)) {
    throw new SqlRefused("internalTable", `table "${object.table}" is internal and not readable; ${readableList(policy)}`);
  }
}

function readableList(policy: ProgramPolicy): string {
  return `readable tables: ${[...policy.readableTables].join(", ")}`;
}
