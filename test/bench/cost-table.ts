/**
 * Cost per action in the benchmark report: the table of what each action makes
 * a room do (measured by test/bench/scenarios/cost.ts from the room's meter)
 * and the cost targets judged on it. Used by targets.ts and report.ts.
 */
import { REPLICATION_WINDOW_MS } from "../../src/lib/limits";
import type { Results, TargetLine } from "./results";
import { COST_FIELDS, type CostField } from "./scenarios/cost";

const ROWS = [
  ["taskCreate", "task create (`tasks.create`), replicated alone"],
  ["taskUpdate", "task update (`tasks.update`, title), replicated alone"],
  ["taskDelete", "task delete (`tasks.delete`), replicated alone"],
  ["cursor", "cursor update (`presence.setCursor`)"],
  ["debounced", "debounced update (`debounced.update`, 60/s per key), per update"],
  ["sync", "sustained writes, per change replicated (`tasks.create` at 100/s)"],
] as const;

const HEADERS: Record<CostField, string> = {
  sqlRowsWritten: "SQLite rows written",
  sqlRowsRead: "SQLite rows read",
  d1RowsWritten: "D1 rows written",
  d1Batches: "D1 batches",
  wsMessagesIn: "WS messages in",
  wsMessagesOut: "WS messages out",
};

function detailOf(results: Results, key: string): { value: number | null; detail: Record<string, unknown> } | null {
  const found = results.measurements.get(`cost:${key}@direct`);
  return found?.kind === "value" ? { value: found.value, detail: found.detail ?? {} } : null;
}

function num(detail: Record<string, unknown>, key: string): number {
  const value = detail[key];
  return typeof value === "number" ? value : NaN;
}

function figure(value: number): string {
  if (!Number.isFinite(value)) return "—";
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 0.1 && value > -0.1 ? 3 : 2);
}

/** Markdown lines of the "Cost per action" section (empty when the scenario did not run). */
export function costTable(results: Results): string[] {
  const rows = ROWS.map(([key, label]) => ({ label, found: detailOf(results, key) })).filter((row) => row.found);
  if (!rows.length) return [];
  const out = [
    "## Cost per action",
    "",
    "What one action makes a room do, from the room's own meter (`admin.inspect`) read before and after it in a fresh room, the inspections' own share subtracted. Task mutations go through `createRoomClient` (mutation ids attached) one at a time, each pushed to D1 alone, so their rows include the change log, the mutation id, the sync engine's bookkeeping and one D1 batch each; sustained writes show the batched case.",
    "",
    `| action | ${COST_FIELDS.map((field) => HEADERS[field]).join(" | ")} |`,
    `| --- | ${COST_FIELDS.map(() => "---").join(" | ")} |`,
  ];
  for (const { label, found } of rows)
    out.push(`| ${label} | ${COST_FIELDS.map((field) => figure(num(found!.detail, field))).join(" | ")} |`);
  out.push("");
  return out;
}

/** The cost targets: a cursor writes no row, a debounced key at most one row a second, sync at most one D1 batch a window. */
export function judgeCost(results: Results): void {
  const cursor = detailOf(results, "cursor");
  if (cursor) {
    const written = cursor.value ?? NaN;
    results.add({
      scenario: "cost: SQLite rows written per cursor update",
      path: "direct",
      measured: `${figure(written)} rows written, ${figure(num(cursor.detail, "sqlRowsRead"))} read per update (${num(cursor.detail, "actions")} updates × ${num(cursor.detail, "repeats")}, median)`,
      floor: "— (absolute target)",
      ratio: null,
      target: "0 rows written",
      met: written === 0,
    });
  }
  const debounced = detailOf(results, "debounced");
  if (debounced) {
    const perKeySecond = debounced.value ?? NaN;
    results.add({
      scenario: `cost: debounced update at ${num(debounced.detail, "ratePerKey")}/s × ${num(debounced.detail, "keys")} keys, SQLite rows written per key per second`,
      path: "direct",
      measured: `${figure(perKeySecond)} (${num(debounced.detail, "rowsWrittenTotal")} rows for ${num(debounced.detail, "updates")} updates in ${num(debounced.detail, "loadSeconds").toFixed(1)} s, trailing flush included; the writer persisted ${figure(num(debounced.detail, "flushWritesPerKeySecond"))} values per key per second, ${figure(num(debounced.detail, "rowsPerFlushWrite"))} rows each)`,
      floor: "— (absolute target)",
      ratio: null,
      target: "≤ 1 row written per key per second",
      met: perKeySecond <= 1,
    });
  }
  const sync = detailOf(results, "sync");
  if (sync) {
    const perWindow = sync.value ?? NaN;
    results.add({
      scenario: `cost: sync push at ${Math.round(num(sync.detail, "changes") / num(sync.detail, "writeSeconds"))} changes/s, D1 batches per replication window`,
      path: "direct",
      measured: `${figure(perWindow)} (${num(sync.detail, "d1BatchesTotal")} batches over ${num(sync.detail, "windows")} windows of ${REPLICATION_WINDOW_MS} ms; ${figure(num(sync.detail, "d1RowsWritten"))} D1 rows per change, ${figure(num(sync.detail, "changesPerBatch"))} changes per batch)`,
      floor: "— (absolute target)",
      ratio: null,
      target: "≤ 1 D1 batch per window",
      met: perWindow <= 1,
    });
  }
}

/** Why a cost target was missed, in the measured numbers. */
export function explainCost(line: TargetLine, results: Results): string {
  if (line.scenario.includes("cursor")) {
    const cursor = detailOf(results, "cursor");
    const perRepeat = cursor?.detail["rowsWrittenPerRepeat"];
    return `Rows written per repeat: ${Array.isArray(perRepeat) ? perRepeat.join(" / ") : "?"}. A cursor lives in memory; any row written is a write on its path (or, in one repeat of three, the meter's own row every 10 s).`;
  }
  if (line.scenario.includes("debounced")) {
    const found = detailOf(results, "debounced");
    const d = found?.detail ?? {};
    return `The writer coalesces as designed (${figure(num(d, "flushWritesPerKeySecond"))} values persisted per key per second, trailing flush included), but each persisted value costs ${figure(num(d, "rowsPerFlushWrite"))} SQLite rows: the value's row and what its indexes and triggers add (change log entry, table usage), plus the sync engine's bookkeeping for the D1 push each flush starts (${figure(num(d, "d1Batches") * num(d, "updates"))} batches). Counted in rows as billed, the target needs one flush to cost one row.`;
  }
  if (line.scenario.includes("sync")) {
    return `A push waits ${REPLICATION_WINDOW_MS} ms after the first unreplicated commit; more than one batch a window means pushes ran without that wait (e.g. a retry or a full resync).`;
  }
  return "";
}
