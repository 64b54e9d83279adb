/**
 * The cost estimate (src/lib/pricing.ts): a stated workload priced by hand and
 * by estimateCost, the projection's basis by the meter's age (at each edge),
 * requests as Cloudflare bills them, price overrides through `PRICING`, and
 * docs/cost.md kept equal to the code: its price table, its date and its
 * worked example's monthly figure.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  billedRequests,
  DEFAULT_PRICES,
  estimateCost,
  priceTable,
  PricingError,
  resolvePrices,
  type BilledCounts,
  type CostEstimate,
  type CostItem,
  type MeteredUsage,
} from "../../src/lib/pricing";
import { emptyCounters, type MeterCounters, type MeterSnapshot } from "../../src/protocol/meter";

const root = resolve(import.meta.dirname, "../..");
const read = (path: string) => readFile(resolve(root, path), "utf8");

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** When every snapshot here is taken. */
const AT = Date.UTC(2026, 11, 5, 12);

function counters(counts: Partial<MeterCounters>): MeterCounters {
  return { ...emptyCounters(), ...counts };
}

function snapshot(
  ageMs: number,
  periods: { total?: Partial<MeterCounters>; lastHour?: Partial<MeterCounters>; lastDay?: Partial<MeterCounters> },
  storedBytes = 0,
): MeterSnapshot {
  return {
    since: AT - ageMs,
    total: counters(periods.total ?? {}),
    lastHour: counters(periods.lastHour ?? {}),
    lastDay: counters(periods.lastDay ?? {}),
    byProcedure: {},
    storedBytes,
  };
}

const usdOf = (period: CostEstimate["perMonth"], item: CostItem) => period.items.find((line) => line.item === item)?.usd;
const quantityOf = (period: CostEstimate["perMonth"], item: CostItem) => period.items.find((line) => line.item === item)?.quantity;
/** A figure as docs/cost.md writes it: dollars and cents. */
const dollars = (usd: number) => `$${usd.toFixed(2)}`;

/**
 * The worked example of docs/cost.md: the demo room (the task board page, on
 * `createRoomClient`) in one working day. 10 users, 8 h a day (28,800 s),
 * every rate below for all 8 h — a busy room, not an average one. Rows per
 * operation were measured with the room's meter (admin.inspect before and
 * after 20 of each, less the inspection's own rows) on 2026-12-05 and rounded.
 * Every mutation of this client carries a mutation id; the room records it
 * (2 rows written) only for mutations that change a table, so cursor moves,
 * presence and debounced updates held in memory write nothing.
 */
const DEMO_DAY = (() => {
  const seconds = 8 * 3600; // 28,800
  const cursorMoves = 10 * 10 * seconds; // presence.setCursor, 10 users × 10/s = 2,880,000: 7 rows read, none written
  const sliderUpdates = 60 * seconds; // debounced.update, one slider dragged at 60/s = 1,728,000: 7 read, none written
  const sliderFlushes = seconds; // the debounced writer writes the key once a second = 28,800: 24 read, 4 written, replicated
  const taskEdits = 5 * 8 * 60; // tasks.update, 5 a minute = 2,400: 46 read, 8 written, replicated
  const polls = 10 * (seconds / 2) * 2; // each page: debounced.stats and sync.status every 2 s = 288,000: 5 read each
  const presence = 10 * (seconds / 20); // each page: presence.setPresence every 20 s = 14,400: 7 read, none written
  const meterWrites = seconds / 10; // the meter's own row, every 10 s = 2,880: 1 written
  const replicated = sliderFlushes + taskEdits; // each in its own D1 batch: the row and the replica's bookmark
  const messagesIn = cursorMoves + sliderUpdates + taskEdits + polls + presence; // 4,912,800, one call each
  return {
    messagesIn,
    counts: counters({
      requests: messagesIn,
      wsMessagesIn: messagesIn,
      alarms: (taskEdits * 2) / 5, // measured 8 in 20 task edits = 960
      awakeMs: seconds * 1000, // awake the whole 8 h: a message every few ms never lets it hibernate
      // 20,160,000 + 12,096,000 + 691,200 + 110,400 + 1,440,000 + 100,800 = 34,598,400
      sqlRowsRead: cursorMoves * 7 + sliderUpdates * 7 + sliderFlushes * 24 + taskEdits * 46 + polls * 5 + presence * 7,
      // 115,200 + 19,200 + 2,880 = 137,280
      sqlRowsWritten: sliderFlushes * 4 + taskEdits * 8 + meterWrites,
      d1RowsWritten: replicated * 2, // 31,200 × 2 = 62,400
      d1Batches: replicated,
    }),
    storedBytes: 10_000_000, // 10 MB of tasks, change log and engine tables
  };
})();

describe("estimateCost", () => {
  it("prices the demo room's working day as the hand calculation does", () => {
    const day = DEMO_DAY.counts;
    // Two days old, so the projection is the last day's; the total is those two days.
    const estimate = estimateCost(
      snapshot(2 * DAY, { total: scale(day, 2), lastDay: day, lastHour: scale(day, 1 / 8) }, DEMO_DAY.storedBytes),
      DEFAULT_PRICES,
      AT,
    );
    expect(estimate.basis).toBe("last day");
    expect(estimate.asOf).toBe(DEFAULT_PRICES.asOf);
    expect(estimate.currency).toBe("USD");

    // By hand, a month of 30 such days:
    // requests: (4,912,800 messages ÷ 20 + 960 alarms) × 30 = (245,640 + 960) × 30 = 7,398,000
    //           7,398,000 × $0.15 / 1e6 = $1.1097
    // duration: 28,800 s × 0.128 GB × 30 = 110,592 GB-s; × $12.50 / 1e6 = $1.3824
    // SQLite rows read: 34,598,400 × 30 = 1,037,952,000; × $0.001 / 1e6 = $1.037952
    // SQLite rows written: 137,280 × 30 = 4,118,400; × $1.00 / 1e6 = $4.1184
    // SQLite stored: 10 MB = 0.01 GB for a month = 0.01 GB-month; × $0.20 = $0.002
    // D1 rows written: 62,400 × 30 = 1,872,000; × $1.00 / 1e6 = $1.872
    // total: 1.1097 + 1.3824 + 1.037952 + 4.1184 + 0.002 + 1.872 = $9.522452
    const month = estimate.perMonth;
    expect(quantityOf(month, "requests")).toBeCloseTo(7_398_000, 6);
    expect(usdOf(month, "requests")).toBeCloseTo(1.1097, 9);
    expect(quantityOf(month, "duration")).toBeCloseTo(110_592, 6);
    expect(usdOf(month, "duration")).toBeCloseTo(1.3824, 9);
    expect(quantityOf(month, "sqliteRowsRead")).toBe(1_037_952_000);
    expect(usdOf(month, "sqliteRowsRead")).toBeCloseTo(1.037952, 9);
    expect(quantityOf(month, "sqliteRowsWritten")).toBe(4_118_400);
    expect(usdOf(month, "sqliteRowsWritten")).toBeCloseTo(4.1184, 9);
    expect(quantityOf(month, "sqliteStorage")).toBeCloseTo(0.01, 12);
    expect(usdOf(month, "sqliteStorage")).toBeCloseTo(0.002, 12);
    expect(quantityOf(month, "d1RowsWritten")).toBe(1_872_000);
    expect(usdOf(month, "d1RowsWritten")).toBeCloseTo(1.872, 9);
    expect(month.usd).toBeCloseTo(9.522452, 9);

    // A day is a thirtieth of that month (storage included: 0.01 GB for 1/30 month).
    expect(estimate.perDay.usd).toBeCloseTo(9.522452 / 30, 9);
    // So far: the two days' totals, and 0.01 GB stored for 2 of 30 days = $0.002 × 2/30.
    // 2 × (9.522452 − 0.002) / 30 + 0.002 × 2 / 30 = 2 × 9.522452 / 30
    expect(estimate.soFar.usd).toBeCloseTo((2 * 9.522452) / 30, 9);
    expect(usdOf(estimate.soFar, "sqliteStorage")).toBeCloseTo((0.002 * 2) / 30, 12);
  });

  it("bills incoming WebSocket messages 20:1, and each call not over a socket and each alarm as one request", () => {
    const counts: BilledCounts = { ...emptyCounters(), requests: 130, wsMessagesIn: 100, alarms: 7 };
    // 100 messages ÷ 20 = 5; 130 calls − 100 over sockets = 30 over HTTP or Workers RPC; 7 alarms: 42.
    expect(billedRequests(counts)).toBe(42);
    // More messages than calls (frames that are not calls): no negative HTTP calls.
    expect(billedRequests({ ...counts, requests: 40 })).toBe(12);
    // Outgoing messages are free.
    const estimate = estimateCost(snapshot(2 * DAY, { lastDay: { wsMessagesOut: 1_000_000 } }), DEFAULT_PRICES, AT);
    expect(estimate.perMonth.usd).toBe(0);
  });

  it("projects from the last day once the meter is a day old, and from the last hour × 24 from one hour to just under a day", () => {
    const periods = {
      total: { wsMessagesIn: 2_000_000 },
      lastDay: { wsMessagesIn: 200_000 },
      lastHour: { wsMessagesIn: 20_000 },
    };
    const requestsPerDay = (ageMs: number) => {
      const estimate = estimateCost(snapshot(ageMs, periods), DEFAULT_PRICES, AT);
      return [estimate.basis, quantityOf(estimate.perDay, "requests")];
    };
    expect(requestsPerDay(3 * DAY)).toEqual(["last day", 200_000 / 20]);
    expect(requestsPerDay(DAY)).toEqual(["last day", 200_000 / 20]);
    expect(requestsPerDay(DAY - 1)).toEqual(["last hour × 24", (20_000 * 24) / 20]);
    expect(requestsPerDay(HOUR)).toEqual(["last hour × 24", (20_000 * 24) / 20]);
  });

  it("under an hour old, scales everything counted to a day, taking at least one minute", () => {
    const periods = { total: { wsMessagesIn: 600 }, lastHour: { wsMessagesIn: 600 }, lastDay: { wsMessagesIn: 600 } };
    const at = (ageMs: number) => estimateCost(snapshot(ageMs, periods), DEFAULT_PRICES, AT);
    // 30 minutes: 600 messages × 48 = 28,800 a day = 1,440 requests.
    expect(at(HOUR - 1).basis).toBe("since start, scaled to a day");
    expect(quantityOf(at(30 * MINUTE).perDay, "requests")).toBeCloseTo(1_440, 9);
    // 10 s and 0 s count as a minute: 600 × 1,440 = 864,000 a day = 43,200 requests.
    expect(quantityOf(at(10_000).perDay, "requests")).toBeCloseTo(43_200, 9);
    expect(quantityOf(at(0).perDay, "requests")).toBeCloseTo(43_200, 9);
    expect(quantityOf(at(0).perMonth, "requests")).toBeCloseTo(43_200 * 30, 6);
  });

  it("prorates the current size stored over the time since the meter started", () => {
    // 5 GB for 3 days: 5 × 3/30 = 0.5 GB-month = $0.10 so far; a month: 5 GB-month = $1.00.
    const estimate = estimateCost(snapshot(3 * DAY, {}, 5e9), DEFAULT_PRICES, AT);
    expect(quantityOf(estimate.soFar, "sqliteStorage")).toBeCloseTo(0.5, 12);
    expect(estimate.soFar.usd).toBeCloseTo(0.1, 12);
    expect(estimate.perMonth.usd).toBeCloseTo(1, 12);
    expect(estimate.perDay.usd).toBeCloseTo(1 / 30, 12);
  });

  it("reads what a MeterSnapshot holds", () => {
    expectTypeOf<MeterSnapshot>().toExtend<MeteredUsage>();
    expectTypeOf<MeterCounters>().toExtend<BilledCounts>();
  });
});

describe("resolvePrices (PRICING)", () => {
  it("gives the dated defaults when nothing is set", () => {
    expect(resolvePrices(undefined)).toEqual(DEFAULT_PRICES);
    expect(resolvePrices("")).toEqual(DEFAULT_PRICES);
  });

  it("overrides any price field by field, from JSON text or an object, and the estimate uses it", () => {
    const prices = resolvePrices('{"asOf": "2027-01-01", "doRequestsPerMillion": 0.3, "wsMessagesPerRequest": 10}');
    expect(prices).toEqual({ ...DEFAULT_PRICES, asOf: "2027-01-01", doRequestsPerMillion: 0.3, wsMessagesPerRequest: 10 });
    expect(resolvePrices({ asOf: "2027-01-01", d1StoredGbMonth: 1 }).d1StoredGbMonth).toBe(1);
    expect(resolvePrices({ sources: ["our contract"] }).sources).toEqual(["our contract"]);
    // 1,000,000 messages ÷ 10 = 100,000 requests × $0.30 / 1e6 = $0.03 a day.
    const estimate = estimateCost(snapshot(DAY, { lastDay: { wsMessagesIn: 1_000_000 } }), prices, AT);
    expect(estimate.asOf).toBe("2027-01-01");
    expect(estimate.perDay.usd).toBeCloseTo(0.03, 12);
  });

  it("refuses bad settings with an error naming each bad field", () => {
    expect(() => resolvePrices({ asOf: "2027-01-01", doRequestsPerMillion: -1 })).toThrow(PricingError);
    expect(() => resolvePrices({ asOf: "2027-01-01", doRequestsPerMillion: -1 })).toThrow(/^PRICING: doRequestsPerMillion: /);
    expect(() => resolvePrices('{"asOf": "2027-01-01", "sqliteStoredGbMonth": "0.2"}')).toThrow(/^PRICING: sqliteStoredGbMonth: /);
    expect(() => resolvePrices('{"asOf": "2027-01-01", "wsMessagesPerRequest": 0}')).toThrow(/wsMessagesPerRequest/);
    expect(() => resolvePrices('{"asOf": "2027-01-01", "doRequestPerMillion": 0.2}')).toThrow(/doRequestPerMillion/);
    expect(() => resolvePrices('{"asOf": "next year"}')).toThrow(/^PRICING: asOf: /);
    expect(() => resolvePrices("{not json")).toThrow("PRICING is not valid JSON");
  });

  it("requires asOf with any price, so an estimate never shows an old date on new prices", () => {
    expect(() => resolvePrices({ doGbSecondsPerMillion: 10 })).toThrow(
      "PRICING: asOf: asOf is required with any price: the day the overriding prices were true",
    );
  });
});

describe("docs/cost.md", () => {
  it("shows the price table of DEFAULT_PRICES verbatim, with its date and sources", async () => {
    const doc = await read("docs/cost.md");
    expect(tableAfter(doc, "## Prices")).toEqual(priceTable(DEFAULT_PRICES));
    expect(doc).toContain(`as of ${DEFAULT_PRICES.asOf}`);
    for (const source of DEFAULT_PRICES.sources) expect(doc).toContain(source);
  });

  it("quotes the worked example's monthly figure as estimateCost computes it", async () => {
    const doc = await read("docs/cost.md");
    const day = DEMO_DAY.counts;
    const estimate = estimateCost(snapshot(2 * DAY, { total: scale(day, 2), lastDay: day }, DEMO_DAY.storedBytes), DEFAULT_PRICES, AT);
    expect(doc).toContain(`**${dollars(estimate.perMonth.usd)} a month**`);
    for (const line of estimate.perMonth.items) {
      const row = tableAfter(doc, "### The month").find((cells) => cells[0] === `\`${line.item}\``);
      expect(row?.[1], line.item).toBe(line.quantity.toLocaleString("en-US"));
      expect(row?.at(-1), line.item).toBe(dollars(line.usd));
    }
    expect(tableAfter(doc, "### The month").at(-1)).toEqual(["total", "", "", `**${dollars(estimate.perMonth.usd)}**`]);
    expect(doc).toContain(`${DEMO_DAY.messagesIn.toLocaleString("en-US")} messages in`);
  });
});

/** The cells of the first Markdown table after `heading` (header included, the separator row left out). */
function tableAfter(markdown: string, heading: string): string[][] {
  const rest = markdown.slice(markdown.indexOf(`\n${heading}\n`) + 1).split("\n");
  const start = rest.findIndex((text) => text.startsWith("|"));
  const lines = rest.slice(
    start,
    rest.findIndex((text, index) => index > start && !text.startsWith("|")),
  );
  return lines
    .filter((text) => !/^\|[\s|:-]+\|$/.test(text))
    .map((text) =>
      text
        .slice(1, -1)
        .split("|")
        .map((cell) => cell.trim()),
    );
}

function scale(counts: MeterCounters, factor: number): MeterCounters {
  const scaled = { ...counts };
  for (const key of Object.keys(scaled) as (keyof MeterCounters)[]) scaled[key] = counts[key] * factor;
  return scaled;
}
