/**
 * The inspector panel, for admins only: `admin.inspect` polled every
 * INSPECT_POLL_MS while connected (never two at a time) and shown at a glance —
 * headline figures, a chart of requests and rows written per poll
 * (inspector-chart.ts), then tables, connections, the meter, the cost
 * estimate, memory, debounced writes, sync and why the room is awake.
 */
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "../src/app";
import { byId, formatDuration, h } from "./dom";
import { CHART_WINDOW_MS, INSPECT_POLL_MS, renderChart, SampleRing } from "./inspector-chart";
import { describeError } from "./notices";
import type { Session } from "./session";

/** What `admin.inspect` answers (src/protocol/inspection.ts), as the router types it. */
type Inspection = inferRouterOutputs<AppRouter>["admin"]["inspect"];
type Counters = Inspection["meter"]["total"];

/** The busiest procedures listed under "Calls by procedure". */
const TOP_PROCEDURES = 8;

/** The meter's counters, in the order and words the meter table shows them. */
const COUNTER_ROWS: ReadonlyArray<{ counter: keyof Counters; label: string; format?: (value: number) => string }> = [
  { counter: "sqlRowsRead", label: "SQLite rows read" },
  { counter: "sqlRowsWritten", label: "SQLite rows written" },
  { counter: "d1RowsWritten", label: "D1 rows written" },
  { counter: "d1Batches", label: "D1 batches" },
  { counter: "wsMessagesIn", label: "WebSocket messages in" },
  { counter: "wsMessagesOut", label: "WebSocket messages out" },
  { counter: "requests", label: "Requests" },
  { counter: "errors", label: "Errors" },
  { counter: "wakeUps", label: "Wake-ups" },
  { counter: "awakeMs", label: "Awake time", format: formatDuration },
  { counter: "alarms", label: "Alarms run" },
];

/** The cost estimate's lines, in plain words. */
const COST_ITEMS: Record<Inspection["cost"]["soFar"]["items"][number]["item"], string> = {
  requests: "Requests",
  duration: "Duration (GB-s)",
  sqliteRowsRead: "SQLite rows read",
  sqliteRowsWritten: "SQLite rows written",
  sqliteStorage: "SQLite storage",
  d1RowsWritten: "D1 rows written",
};

/** Shows the panel to admins and polls; for anyone else it stays hidden and nothing is asked. */
export function mountInspector(session: Session): () => void {
  const { client, member } = session;
  const panel = byId("inspector");
  const status = byId("inspector-status");
  const body = byId("inspector-body");
  const hide = () => {
    panel.hidden = true;
    body.replaceChildren();
    status.textContent = "";
  };
  if (member.role !== "admin") {
    hide();
    return () => {};
  }
  panel.hidden = false;
  status.textContent = "Waiting for the first inspection…";
  const ring = new SampleRing();
  let inFlight = false;

  const refresh = async () => {
    if (inFlight || !session.isLive) return;
    inFlight = true;
    try {
      const inspection = await client.admin.inspect.query();
      ring.push({ at: inspection.at, requests: inspection.meter.total.requests, sqlRowsWritten: inspection.meter.total.sqlRowsWritten });
      status.textContent = `Room ${inspection.room}, taken at ${clock(inspection.at)}; refreshed every ${INSPECT_POLL_MS / 1_000} s.`;
      body.replaceChildren(...render(inspection, ring));
    } catch (error) {
      status.textContent = `${describeError("Inspecting the room", error)} (at ${clock(Date.now())}; showing the last answer)`;
    } finally {
      inFlight = false;
    }
  };

  const poll = setInterval(() => void refresh(), INSPECT_POLL_MS);
  const stopWatching = session.onConnection((info) => info.state === "live" && void refresh());
  return () => {
    clearInterval(poll);
    stopWatching();
    hide();
  };
}

function render(inspection: Inspection, ring: SampleRing): HTMLElement[] {
  const { meter, cost, connections } = inspection;
  return [
    h(
      "div",
      { class: "inspector-summary" },
      tile("sockets", count(connections.sockets), `socket(s), ${connections.users.length} user(s)`),
      tile("requests", count(meter.total.requests), `requests, ${count(meter.total.errors)} error(s)`),
      tile("sqlRowsWritten", count(meter.total.sqlRowsWritten), "SQLite rows written"),
      tile("awake", formatDuration(meter.total.awakeMs), "awake"),
      tile("perMonth", usd(cost.perMonth.usd), "per month, projected"),
    ),
    h(
      "figure",
      { class: "inspector-figure" },
      renderChart(ring.samples(), inspection.at),
      h(
        "figcaption",
        { class: "hint" },
        `What each ${INSPECT_POLL_MS / 1_000}-second poll added, over up to the last ${CHART_WINDOW_MS / 60_000} minutes (kept by this page since it opened).`,
      ),
    ),
    h(
      "div",
      { class: "inspector-grid" },
      card(
        "Tables",
        table(
          ["table", "rows", "bytes"],
          inspection.tables.map((t) => row({ "data-table": t.name }, t.name, ["rows", count(t.rows)], ["bytes", bytes(t.bytes)])),
        ),
        hint(
          `Change log: head seq ${inspection.changeLog.head}, ${count(inspection.changeLog.entries)} entries held` +
            (inspection.changeLog.oldest === null ? "." : ` (oldest seq ${inspection.changeLog.oldest}).`),
        ),
      ),
      card(
        "Connections",
        table(
          ["user", "role", "sockets", "subs"],
          connections.users.map((u) => row({ "data-user": u.sub }, u.sub, u.role, count(u.sockets), count(u.subscriptions))),
          "Nobody is connected.",
        ),
        table(
          ["subscriptions by procedure", "live"],
          Object.entries(connections.subscriptionsByProcedure)
            .sort(([, a], [, b]) => b - a)
            .map(([path, n]) => row({}, path, count(n))),
          "No live subscriptions.",
        ),
      ),
      wideCard(
        "Meter",
        table(
          ["counter", "total", "last hour", "last day"],
          COUNTER_ROWS.map(({ counter, label, format = count }) =>
            row(
              { "data-counter": counter },
              label,
              ["total", format(meter.total[counter])],
              format(meter.lastHour[counter]),
              format(meter.lastDay[counter]),
            ),
          ),
        ),
        hint(`Counting since ${new Date(meter.since).toLocaleString()}; the database stores ${bytes(meter.storedBytes)}.`),
      ),
      wideCard(
        "Cost estimate (USD)",
        table(
          ["item", "so far", "per day", "per month"],
          [
            ...cost.soFar.items.map((line, i) =>
              row(
                { "data-cost": line.item },
                COST_ITEMS[line.item],
                usd(line.usd),
                usd(cost.perDay.items[i]?.usd ?? 0),
                usd(cost.perMonth.items[i]?.usd ?? 0),
              ),
            ),
            row({ class: "total", "data-cost": "total" }, "Total", usd(cost.soFar.usd), usd(cost.perDay.usd), usd(cost.perMonth.usd)),
          ],
        ),
        hint(`Prices as of ${cost.asOf}; projected from ${cost.basis}; the account's free allowances are not subtracted.`),
      ),
      card(
        "Why awake",
        inspection.awake.reasons.length > 0
          ? h("ul", { class: "inspector-reasons" }, ...inspection.awake.reasons.map((reason) => h("li", {}, reason)))
          : h("p", {}, "Nothing keeps it awake: it may hibernate."),
        stats([
          ["Calls being handled", count(inspection.awake.inFlight)],
          [
            "Next alarm",
            inspection.awake.nextAlarm
              ? `${clock(inspection.awake.nextAlarm.at)} (${inspection.awake.nextAlarm.duties.join(", ")})`
              : "none set",
          ],
        ]),
      ),
      card(
        "Calls by procedure",
        table(
          ["procedure", "calls", "errors"],
          Object.entries(meter.byProcedure)
            .sort(([, a], [, b]) => b.calls - a.calls)
            .slice(0, TOP_PROCEDURES)
            .map(([path, p]) => row({}, path, count(p.calls), count(p.errors))),
          "No calls yet.",
        ),
      ),
      card(
        "Memory, debounced writes, sync",
        stats([
          ["In memory", `${count(inspection.memory.entries)} entries, ${bytes(inspection.memory.bytes)}`],
          ["Cursors · presence · cache", `${inspection.memory.cursors} · ${inspection.memory.presence} · ${inspection.memory.cache}`],
          ["Debounced pending", `${count(inspection.debounced.pendingKeys)} key(s), ${bytes(inspection.debounced.pendingBytes)}`],
          ["Next flush", inspection.debounced.nextFlushAt === null ? "none due" : clock(inspection.debounced.nextFlushAt)],
          ["Debounced updates → writes", `${count(inspection.debounced.updatesReceived)} → ${count(inspection.debounced.sqliteWrites)}`],
          ["Replica", inspection.sync.isHealthy ? "healthy" : `behind${inspection.sync.lastError ? `: ${inspection.sync.lastError}` : ""}`],
          [
            "Replicated seq",
            `${inspection.sync.replicatedSeq} of ${inspection.sync.roomSeq} (${count(inspection.sync.pendingChanges)} pending)`,
          ],
          ["Mutation ids kept", count(inspection.mutationIds)],
        ]),
      ),
    ),
  ];
}

/** A headline figure; `data-metric` names it for tests. */
function tile(metric: string, value: string, label: string): HTMLElement {
  return h(
    "div",
    { class: "tile", "data-metric": metric },
    h("span", { class: "tile-value" }, value),
    h("span", { class: "tile-label" }, label),
  );
}

function card(title: string, ...content: HTMLElement[]): HTMLElement {
  return h("section", { class: "inspector-card" }, h("h3", {}, title), ...content);
}

/** A card two columns wide on wide screens (tables of four figures a row). */
function wideCard(title: string, ...content: HTMLElement[]): HTMLElement {
  const element = card(title, ...content);
  element.classList.add("wide");
  return element;
}

function hint(text: string): HTMLElement {
  return h("p", { class: "hint" }, text);
}

/** A cell is its text, or `[class, text]` when a test or style needs to find it. */
type Cell = string | [className: string, text: string];

function row(attributes: Record<string, string>, ...cells: Cell[]): HTMLTableRowElement {
  return h("tr", attributes, ...cells.map((cell) => (typeof cell === "string" ? h("td", {}, cell) : h("td", { class: cell[0] }, cell[1]))));
}

/** A small table; `empty` is said instead when there are no rows. */
function table(columns: string[], rows: HTMLTableRowElement[], empty?: string): HTMLElement {
  if (rows.length === 0 && empty) return hint(empty);
  return h(
    "table",
    { class: "sql-table inspector-table" },
    h("thead", {}, h("tr", {}, ...columns.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, ...rows),
  );
}

function stats(pairs: Array<[string, string]>): HTMLElement {
  return h("dl", { class: "stats" }, ...pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function bytes(n: number): string {
  if (n < 1_024) return `${n} B`;
  if (n < 1_024 * 1_024) return `${(n / 1_024).toFixed(1)} KiB`;
  return `${(n / (1_024 * 1_024)).toFixed(1)} MiB`;
}

/** Dollars: cents once there are any, otherwise two significant digits down to a millionth (a quiet room's amounts are tiny). */
function usd(n: number): string {
  if (n === 0) return "$0";
  if (n < 1e-6) return "< $0.000001";
  if (n >= 0.01) return `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  return `$${n.toLocaleString("en-US", { maximumSignificantDigits: 2 })}`;
}

function clock(at: number): string {
  return new Date(at).toLocaleTimeString();
}
