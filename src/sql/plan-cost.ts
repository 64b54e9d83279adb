/**
 * The work bound of read-only SQL, checked before the query runs: SQLite's
 * own query plan (`EXPLAIN QUERY PLAN`) and the room's current table sizes
 * give a worst case of rows visited — nested loops multiply, a CTE or subquery
 * counts its own work once (per outer row when correlated) and yields at most
 * its rows or its literal LIMIT, sorts add the rows they sort — weighted by
 * what one visit may cost. Over MAX_SQL_PLAN_COST, or a plan step it does
 * not know, and the query is refused before one SQLite step runs, since a
 * step cannot be interrupted. Used by read-only-sql.ts; pure.
 */
import { MAX_RECURSIVE_CTE_ROWS, MAX_SQL_PLAN_COST } from "../lib/limits";
import type { PlanRow } from "./recursion-check";
import { SqlRefused } from "./sql-errors";
import type { StatementShape } from "./statement-shape";
import { foldName } from "./sql-tokenizer";

/** A readable index, from sqlite_schema and pragma_index_list / pragma_index_info. */
export interface IndexFacts {
  /** The index's name and its table's, as sqlite_schema spells them. */
  name: string;
  tableName: string;
  /** The table's name, ASCII lower-case. */
  table: string;
  unique: boolean;
  /** Key columns (a unique index matches one row when all are constrained by `=`). */
  columns: number;
}

/** Everything but the plan that the estimate needs, all read at run time for this query. */
export interface PlanFacts {
  /** Rows now in each table the program opens (names ASCII lower-case). */
  tableRows: ReadonlyMap<string, number>;
  /** Work units one visit of a row of each table costs (≥ 1: wide rows cost more). */
  tableWeights: ReadonlyMap<string, number>;
  /** Indexes the program opens, by name (ASCII lower-case). */
  indexes: ReadonlyMap<string, IndexFacts>;
  /** CTE name → rows its literal LIMIT allows (null: none), from the text. */
  cteLimits: ReadonlyMap<string, number | null>;
  /** Aliases, IN lists and json_each inputs, from the text. */
  shape: StatementShape;
  /** Rows one json_each / json_tree may yield. */
  jsonRows: number;
  /** Work units each row visit costs for the expressions evaluated on it (≥ 1; see visitWeight). */
  visitWeight: number;
  /**
   * Most rows of the index's table that share one value of its first `columns`
   * key columns (what one `=` lookup on them can return), read from the data
   * now; undefined when it cannot be read (an expression index).
   */
  largestGroup: (index: string, columns: number) => number | undefined;
}

/** The verdict: the worst case and the part of the plan that weighs most. */
export interface PlanCost {
  /** Work units in the worst case (a unit ≈ one row visited). */
  cost: number;
  /** The largest single contribution, for the message: `SCAN a (100,000 rows) × SCAN b (100,000 rows)`. */
  worst: string;
}

/** Sorting a row into a temporary b-tree (ORDER BY, GROUP BY, DISTINCT, UNION) costs about this many visits. */
const SORT_WEIGHT = 2;

interface PlanNode {
  detail: string;
  children: PlanNode[];
}

interface Term {
  cost: number;
  what: string;
}

interface Estimate {
  terms: Term[];
  /** Rows the select yields (at most). */
  rows: number;
}

interface Loop {
  size: number;
  weight: number;
  what: string;
  /** One-off work this loop needs before it starts (an automatic index, a bloom filter). */
  setup: number;
}

const fmt = (n: number): string =>
  Number.isFinite(n) && n < 1e15 ? Math.ceil(n).toLocaleString("en-US") : n.toExponential(1).replace("e+", "e");
const rowsOf = (n: number): string => `${fmt(n)} row${n === 1 ? "" : "s"}`;
const total = (terms: readonly Term[]): number => terms.reduce((sum, term) => sum + term.cost, 0);
const scaled = (terms: readonly Term[], by: number, label: string): Term[] =>
  by === 1 ? [...terms] : terms.map((term) => ({ cost: term.cost * by, what: `${label}: ${term.what}` }));

/**
 * The plan's worst case; throws SqlRefused("tooCostly") for a step it cannot bound.
 *
 * @example
 * estimatePlan(plan, facts).cost; // SCAN a × SCAN b over two 100,000-row CTEs → ≈ 10^10
 */
export function estimatePlan(plan: readonly PlanRow[], facts: PlanFacts): PlanCost {
  const roots = treeOf(plan);
  // Twice: a step may name a CTE or list subquery that the plan lists after it; the second pass knows their sizes.
  const first = new Estimator(facts, new Map(), 0);
  first.select(roots);
  const second = new Estimator(facts, first.nodeRows, first.listRows);
  const terms = second.select(roots).terms;
  const cost = total(terms);
  const worst = terms.reduce<Term>((top, term) => (term.cost > top.cost ? term : top), { cost: -1, what: "nothing" });
  return { cost, worst: worst.what };
}

/** Throws SqlRefused("tooCostly") unless the plan's worst case fits MAX_SQL_PLAN_COST. */
export function checkPlanCost(plan: readonly PlanRow[], facts: PlanFacts): PlanCost {
  const verdict = estimatePlan(plan, facts);
  if (!(verdict.cost <= MAX_SQL_PLAN_COST)) {
    throw new SqlRefused(
      "tooCostly",
      `the query may take up to ${fmt(verdict.cost)} row visits (weighted by the work each does), ` +
        `over the ${fmt(MAX_SQL_PLAN_COST)} a query may (MAX_SQL_PLAN_COST); ` +
        `most of it is ${verdict.worst}. Add a literal LIMIT to the CTEs, join on an indexed column or narrow the tables down`,
    );
  }
  return verdict;
}

function treeOf(plan: readonly PlanRow[]): PlanNode[] {
  const nodes = new Map<number, PlanNode>();
  const roots: PlanNode[] = [];
  for (const row of [...plan].sort((a, b) => a.id - b.id)) nodes.set(row.id, { detail: row.detail, children: [] });
  for (const row of [...plan].sort((a, b) => a.id - b.id)) {
    const node = nodes.get(row.id)!;
    const parent = nodes.get(row.parent);
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

const LOOP = /^(?:SCAN|SEARCH) /;
const CTE = /^(MATERIALIZE|CO-ROUTINE) (.+)$/;
const SUBQUERY = /^(CORRELATED )?(?:SCALAR|LIST) SUBQUERY \d+$/;
const COMPOUND_MEMBER = /^(?:LEFT-MOST SUBQUERY|UNION ALL|(?:UNION|EXCEPT|INTERSECT) USING TEMP B-TREE|LEFT|RIGHT)$/;
const COMPOUND = /^(?:COMPOUND QUERY|MERGE \((?:UNION ALL|UNION|EXCEPT|INTERSECT)\))$/;
const SORT = /^USE TEMP B-TREE FOR /;
const IN_OPERATOR = /^USING (?:ROWID SEARCH ON TABLE (.+)|INDEX (.+)) FOR IN-OPERATOR$/;

class Estimator {
  /** CTE / subquery name → rows it yields at most. */
  readonly nodeRows = new Map<string, number>();
  /** Most rows any IN (subquery) yields. */
  listRows = 0;

  constructor(
    private readonly facts: PlanFacts,
    private readonly known: ReadonlyMap<string, number>,
    private readonly knownListRows: number,
  ) {}

  /** One SELECT's plan rows: its loops nest, everything else runs once (or once per row when correlated). */
  select(nodes: readonly PlanNode[], self: string | null = null): Estimate {
    const loops: Loop[] = [];
    const terms: Term[] = [];
    const correlated: Estimate[] = [];
    let sorts = 0;
    let memberRows = 0;
    let members = 0;
    for (const node of nodes) {
      const { detail } = node;
      let match: RegExpExecArray | null;
      if (LOOP.test(detail)) loops.push(this.loop(detail, self));
      else if (detail === "MULTI-INDEX OR") loops.push(this.multiIndex(node, self));
      else if ((match = IN_OPERATOR.exec(detail))) {
        const table = match[1] ?? this.facts.indexes.get(foldName(match[2]!))?.table;
        const size = table === undefined ? this.fallback() : (this.facts.tableRows.get(foldName(table)) ?? this.fallback());
        loops.push({ size, weight: 1, what: `IN over ${table ?? match[2]}`, setup: 0 });
      } else if ((match = CTE.exec(detail))) {
        const name = foldName(match[2]!);
        const estimate = this.cte(node, name);
        this.nodeRows.set(name, Math.max(this.nodeRows.get(name) ?? 0, estimate.rows));
        terms.push(...estimate.terms);
      } else if ((match = SUBQUERY.exec(detail))) {
        const estimate = this.select(node.children);
        if (detail.includes("LIST")) this.listRows = Math.max(this.listRows, estimate.rows);
        if (match[1]) correlated.push(estimate);
        else terms.push(...estimate.terms);
      } else if (COMPOUND.test(detail) || COMPOUND_MEMBER.test(detail)) {
        const estimate = this.select(node.children, self);
        terms.push(...estimate.terms);
        if (detail.includes("USING TEMP B-TREE"))
          terms.push({ cost: estimate.rows * SORT_WEIGHT, what: `${detail} (${rowsOf(estimate.rows)})` });
        memberRows += estimate.rows;
        members += 1;
      } else if (SORT.test(detail)) sorts += 1;
      else if (detail.startsWith("RIGHT-JOIN ")) terms.push(...this.select(node.children, self).terms);
      else if (detail.startsWith("CREATE BLOOM FILTER")) {
        // Built once from a loop of its own (its children), or from the table it names.
        const built = node.children.length > 0 ? this.select(node.children, self).terms : [{ cost: this.fallback(), what: detail }];
        terms.push(...built);
      } else if (detail.startsWith("BLOOM FILTER ON ")) {
        const size = this.resolve(foldName(detail.slice("BLOOM FILTER ON ".length).split(" (")[0]!), self);
        terms.push({ cost: size, what: detail });
      } else if (detail.startsWith("REUSE ")) continue;
      else {
        throw new SqlRefused(
          "tooCostly",
          `the query plan has a step the cost estimate cannot bound ("${detail}"); rewrite the query (a join, a CTE with a LIMIT, a plain subquery)`,
        );
      }
    }
    let rows = 1;
    const chain: string[] = [];
    for (const loop of loops) {
      rows *= loop.size;
      chain.push(`${loop.what} (${rowsOf(loop.size)})`);
      terms.push({ cost: rows * loop.weight * this.facts.visitWeight + loop.setup, what: chain.join(" × ") });
    }
    if (sorts > 0) terms.push({ cost: rows * SORT_WEIGHT * sorts, what: `sorting ${rowsOf(rows)} (USE TEMP B-TREE)` });
    for (const subquery of correlated) terms.push(...scaled(subquery.terms, rows, `a correlated subquery run ${fmt(rows)} times`));
    return { terms, rows: loops.length > 0 ? rows + memberRows : members > 0 ? memberRows : 1 };
  }

  /** A CTE or FROM subquery: its work once, and the rows it yields (a recursive one: its LIMIT's worth of steps). */
  private cte(node: PlanNode, name: string): Estimate {
    const setup = node.children.find((child) => child.detail === "SETUP");
    const step = node.children.find((child) => child.detail === "RECURSIVE STEP");
    const limit = this.facts.shape.subqueryAliases.has(name) ? undefined : this.facts.cteLimits.get(name);
    if (setup && step) {
      // The recursion check bounded every recursive CTE by a literal LIMIT ≤ MAX_RECURSIVE_CTE_ROWS.
      const bound = limit ?? MAX_RECURSIVE_CTE_ROWS;
      const start = this.select(setup.children);
      const each = this.select(step.children, name);
      const runs = start.rows + bound;
      return { terms: [...start.terms, ...scaled(each.terms, runs, `recursive CTE ${name}, ${fmt(runs)} steps`)], rows: bound };
    }
    const estimate = this.select(node.children);
    return { terms: estimate.terms, rows: limit == null ? estimate.rows : Math.min(estimate.rows, limit) };
  }

  private multiIndex(node: PlanNode, self: string | null): Loop {
    const loops = node.children.flatMap((index) => index.children.filter((child) => LOOP.test(child.detail)));
    const parts = loops.map((loop) => this.loop(loop.detail, self));
    return {
      size: parts.reduce((sum, part) => sum + part.size, 0),
      weight: Math.max(1, ...parts.map((part) => part.weight)),
      what: "MULTI-INDEX OR",
      setup: parts.reduce((sum, part) => sum + part.setup, 0),
    };
  }

  /**
   * One loop of the plan: how many rows it visits each time it runs. The plan
   * prints a loop's alias verbatim, and an alias may be any text (`AS "a USING
   * INTEGER PRIMARY KEY (rowid=?)"`), so the detail is read at every name the
   * statement knows that it may start with, and the largest reading counts.
   */
  private loop(detail: string, self: string | null): Loop {
    const what = detail.replace(/ \(.*\)$/, "");
    const rest = detail.replace(/^(?:SCAN|SEARCH) /, "");
    const readings: Loop[] = [];
    if (rest === "CONSTANT ROW") readings.push({ size: 1, weight: 1, what, setup: 0 });
    const values = /^(\d+)-ROW VALUES CLAUSE$/.exec(rest);
    if (values) readings.push({ size: Number(values[1]), weight: 1, what, setup: 0 });
    const folded = foldName(rest);
    for (const name of this.knownNames()) {
      if (folded === name || folded.startsWith(`${name} `)) readings.push(this.named(name, rest.slice(name.length), what, self));
    }
    if (readings.length === 0) readings.push({ size: this.fallback(), weight: this.maxWeight(), what, setup: 0 });
    return readings.reduce((top, reading) =>
      reading.size * reading.weight + reading.setup > top.size * top.weight + top.setup ? reading : top,
    );
  }

  /** A loop over `name`, the rest of its detail being `tail` (`""`, ` USING …`, ` VIRTUAL TABLE INDEX …`). */
  private named(name: string, tail: string, what: string, self: string | null): Loop {
    if (tail.startsWith(" VIRTUAL TABLE INDEX ")) {
      // json_each / json_tree are the only virtual tables the program check lets through.
      const size = this.facts.jsonRows > 0 ? this.facts.jsonRows : this.fallback();
      return { size, weight: 1, what: `${what} (json_each / json_tree)`, setup: 0 };
    }
    const parsed = /^(?: EXISTS)?(?: USING (.+?))?(?: LEFT-JOIN)?$/.exec(tail);
    if (!parsed) return { size: this.fallback(), weight: this.maxWeight(), what, setup: 0 };
    const using = parsed[1] ?? "";
    const index = /^(?:COVERING )?INDEX (\S+)/.exec(using)?.[1];
    const indexFacts = index === undefined ? undefined : this.facts.indexes.get(foldName(index));
    const table = indexFacts?.table;
    const size = table !== undefined ? (this.facts.tableRows.get(table) ?? this.fallback()) : this.resolve(name, self);
    const weight = table !== undefined ? (this.facts.tableWeights.get(table) ?? 1) : this.weightOf(name);
    const terms = (/\((.*)\)$/.exec(using)?.[1] ?? "").split(" AND ");
    const leading = terms.findIndex((term) => !/^[^<>!]+=\?$/.test(term));
    const equalities = leading === -1 ? terms.length : leading;
    // A lookup may run once per value of an IN list that drives it.
    const perValue = Math.max(1, this.inValues()) ** Math.max(1, equalities);
    if (using === "INTEGER PRIMARY KEY (rowid=?)") return { size: Math.min(size, perValue), weight, what, setup: 0 };
    if (indexFacts !== undefined && index !== undefined && equalities > 0) {
      const group = indexFacts.unique && equalities >= indexFacts.columns ? 1 : this.facts.largestGroup(foldName(index), equalities);
      if (group !== undefined) return { size: Math.min(size, group * perValue), weight, what, setup: 0 };
    }
    const automatic = using.startsWith("AUTOMATIC ");
    return { size, weight, what, setup: automatic ? size : 0 };
  }

  /** Every name a loop may carry: tables, CTEs and subqueries of the plan, and every name and alias in the text. */
  private knownNames(): Set<string> {
    const { shape } = this.facts;
    return new Set([
      ...this.facts.tableRows.keys(),
      ...this.nodeRows.keys(),
      ...this.known.keys(),
      ...this.facts.cteLimits.keys(),
      ...shape.subqueryAliases,
      ...shape.aliases.keys(),
      ...[...shape.aliases.values()].flatMap((sources) => [...sources]),
    ]);
  }

  private maxWeight(): number {
    return Math.max(1, ...this.facts.tableWeights.values());
  }

  /** Values an IN operator may feed an equality lookup with. */
  private inValues(): number {
    const { shape } = this.facts;
    if (shape.opaqueIn) return this.fallback();
    return Math.max(shape.inListItems, this.knownListRows, this.listRows);
  }

  /** Rows a loop over `name` visits: a CTE or subquery's rows, a table's, or whatever it may be an alias of (the most). */
  private resolve(name: string, self: string | null): number {
    if (self !== null && (name === self || this.facts.shape.aliases.get(name)?.has(self))) {
      // The recursive step reads the queue one row at a time; an alias that may also name something else counts that too.
      const others = [...(this.facts.shape.aliases.get(name) ?? [])].filter((source) => source !== self);
      return Math.max(1, ...others.map((source) => this.sizeOf(source) ?? 1));
    }
    const candidates = [name, ...(this.facts.shape.aliases.get(name) ?? [])]
      .map((source) => this.sizeOf(source))
      .filter((size): size is number => size !== undefined);
    // `FROM (tasks) AS c` names a parenthesized table c too: with a CTE c around, the name alone does not tell which.
    const ambiguous = this.facts.shape.subqueryAliases.has(name) && this.facts.cteLimits.has(name);
    return candidates.length > 0 && !ambiguous ? Math.max(...candidates) : this.fallback();
  }

  private sizeOf(name: string): number | undefined {
    const sizes = [this.nodeRows.get(name), this.known.get(name), this.facts.tableRows.get(name)].filter(
      (size): size is number => size !== undefined,
    );
    return sizes.length > 0 ? Math.max(...sizes) : undefined;
  }

  private weightOf(name: string): number {
    const names = [name, ...(this.facts.shape.aliases.get(name) ?? [])];
    return Math.max(1, ...names.map((source) => this.facts.tableWeights.get(source) ?? 1));
  }

  /** A loop the estimate cannot name: as large as the largest table, CTE or json_each of the query. */
  private fallback(): number {
    return Math.max(
      1,
      ...this.facts.tableRows.values(),
      ...this.nodeRows.values(),
      ...this.known.values(),
      this.facts.jsonRows,
      this.facts.shape.inListItems,
    );
  }
}
