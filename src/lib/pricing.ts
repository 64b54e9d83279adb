/**
 * What a room costs on Cloudflare: one dated table of the unit prices that
 * apply to a room (DEFAULT_PRICES, overridable by a deployment's `PRICING`),
 * and the estimate of a room's cost from its meter (`estimateCost`). Pure: no
 * I/O, no clock but the one passed. Public: `admin.inspect` and docs/cost.md.
 */
import { z } from "zod";
import { parseStructuredSetting } from "./env-settings";

/**
 * Cloudflare's published unit prices for the Workers Paid plan, as read on
 * `asOf` from `sources`. Free and included allowances are listed in
 * PRICE_LINES for the docs, never subtracted: they are the account's, and a
 * room cannot know what the rest of the account used.
 */
export interface Prices {
  /** The day these prices were checked against `sources` (YYYY-MM-DD). */
  asOf: string;
  /** Where they were read. */
  sources: readonly string[];
  /** USD per million Durable Object requests (HTTP requests, RPC sessions, alarm invocations, incoming WebSocket messages ÷ wsMessagesPerRequest). */
  doRequestsPerMillion: number;
  /** Incoming WebSocket messages billed as one request (outgoing messages are free). */
  wsMessagesPerRequest: number;
  /** USD per million GB-s of Durable Object duration (wall-clock time awake). */
  doGbSecondsPerMillion: number;
  /** Memory a Durable Object is billed for while awake, in GB, whatever it uses (128 MB; Cloudflare's examples count 128 MB / 1 GB = 0.128). */
  doBilledMemoryGb: number;
  /** USD per million rows read and written by a SQLite-backed Durable Object (setAlarm and deletes count as written). */
  sqliteRowsReadPerMillion: number;
  sqliteRowsWrittenPerMillion: number;
  /** USD per GB-month of SQLite-backed Durable Object storage. */
  sqliteStoredGbMonth: number;
  /** USD per million D1 rows read and written, and per GB-month of D1 storage (D1 bills no queries, batches or egress). */
  d1RowsReadPerMillion: number;
  d1RowsWrittenPerMillion: number;
  d1StoredGbMonth: number;
}

/** The prices, as read on 2026-12-05 from Cloudflare's Durable Objects and D1 pricing pages. */
export const DEFAULT_PRICES: Prices = {
  asOf: "2026-12-05",
  sources: [
    "https://developers.cloudflare.com/durable-objects/platform/pricing/",
    "https://developers.cloudflare.com/d1/platform/pricing/",
  ],
  doRequestsPerMillion: 0.15,
  wsMessagesPerRequest: 20,
  doGbSecondsPerMillion: 12.5,
  doBilledMemoryGb: 0.128,
  sqliteRowsReadPerMillion: 0.001,
  sqliteRowsWrittenPerMillion: 1.0,
  sqliteStoredGbMonth: 0.2,
  d1RowsReadPerMillion: 0.001,
  d1RowsWrittenPerMillion: 1.0,
  d1StoredGbMonth: 0.75,
};

/** The numeric fields of Prices. */
export type PriceField = Exclude<keyof Prices, "asOf" | "sources">;

/** One row of the price table: a price, its unit, and the allowances Cloudflare includes (stated, not subtracted). */
export interface PriceLine {
  field: PriceField;
  what: string;
  /** How the price reads, e.g. `$0.15 / million`. */
  unit: (value: number) => string;
  /** Included each month on Workers Paid (before the price applies), for the whole account. */
  paidIncluded: string;
  /** The Workers Free plan's allowance, for the whole account. */
  freePlan: string;
}

/** A price as the table writes it: `$0.15`, `$12.50`, `$0.001`. */
const usd = (value: number) => `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`;

/** The table docs/cost.md shows, in order. */
export const PRICE_LINES: readonly PriceLine[] = [
  {
    field: "doRequestsPerMillion",
    what: "Durable Objects requests",
    unit: (v) => `${usd(v)} / million`,
    paidIncluded: "1 million / month",
    freePlan: "100,000 / day",
  },
  {
    field: "wsMessagesPerRequest",
    what: "incoming WebSocket messages per billed request",
    unit: (v) => `${v} : 1`,
    paidIncluded: "—",
    freePlan: "—",
  },
  {
    field: "doGbSecondsPerMillion",
    what: "Durable Objects duration",
    unit: (v) => `${usd(v)} / million GB-s`,
    paidIncluded: "400,000 GB-s / month",
    freePlan: "13,000 GB-s / day",
  },
  {
    field: "doBilledMemoryGb",
    what: "memory billed while awake",
    unit: (v) => `${v} GB (${v * 1000} MB)`,
    paidIncluded: "—",
    freePlan: "—",
  },
  {
    field: "sqliteRowsReadPerMillion",
    what: "SQLite storage rows read",
    unit: (v) => `${usd(v)} / million`,
    paidIncluded: "25 billion / month",
    freePlan: "5 million / day",
  },
  {
    field: "sqliteRowsWrittenPerMillion",
    what: "SQLite storage rows written",
    unit: (v) => `${usd(v)} / million`,
    paidIncluded: "50 million / month",
    freePlan: "100,000 / day",
  },
  {
    field: "sqliteStoredGbMonth",
    what: "SQLite stored data",
    unit: (v) => `${usd(v)} / GB-month`,
    paidIncluded: "5 GB-month",
    freePlan: "5 GB total",
  },
  {
    field: "d1RowsReadPerMillion",
    what: "D1 rows read",
    unit: (v) => `${usd(v)} / million`,
    paidIncluded: "25 billion / month",
    freePlan: "5 million / day",
  },
  {
    field: "d1RowsWrittenPerMillion",
    what: "D1 rows written",
    unit: (v) => `${usd(v)} / million`,
    paidIncluded: "50 million / month",
    freePlan: "100,000 / day",
  },
  {
    field: "d1StoredGbMonth",
    what: "D1 storage",
    unit: (v) => `${usd(v)} / GB-month`,
    paidIncluded: "5 GB",
    freePlan: "5 GB total",
  },
];

/** The price table's header and rows, cell by cell (docs/cost.md shows them; a test keeps the two equal). */
export function priceTable(prices: Prices = DEFAULT_PRICES): string[][] {
  return [
    ["what", "field", "price (Workers Paid)", "included on Workers Paid", "Workers Free"],
    ...PRICE_LINES.map((line) => [line.what, `\`${line.field}\``, line.unit(prices[line.field]), line.paidIncluded, line.freePlan]),
  ];
}

const amount = z.number().finite().nonnegative();
const ratio = z.number().finite().positive();

/** What a deployment may set in `PRICING`: any subset of Prices; `asOf` is required with any price. */
export const pricesInput = z
  .strictObject({
    asOf: z.iso.date(),
    sources: z.array(z.string().min(1)).min(1),
    doRequestsPerMillion: amount,
    wsMessagesPerRequest: ratio,
    doGbSecondsPerMillion: amount,
    doBilledMemoryGb: ratio,
    sqliteRowsReadPerMillion: amount,
    sqliteRowsWrittenPerMillion: amount,
    sqliteStoredGbMonth: amount,
    d1RowsReadPerMillion: amount,
    d1RowsWrittenPerMillion: amount,
    d1StoredGbMonth: amount,
  })
  .partial()
  .refine((input) => input.asOf !== undefined || PRICE_LINES.every((line) => input[line.field] === undefined), {
    message: "asOf is required with any price: the day the overriding prices were true",
    path: ["asOf"],
  });

/** Prices as a deployment writes them. */
export type PricesInput = z.input<typeof pricesInput>;

/** Thrown for a `PRICING` setting that does not parse; the message names every bad field. */
export class PricingError extends Error {
  override readonly name = "PricingError";
}

/**
 * The prices: DEFAULT_PRICES, then the deployment's `PRICING` (an object or
 * JSON text) field by field. Parse it once, where the environment is read.
 *
 * @example
 * resolvePrices('{"asOf":"2027-01-01","doRequestsPerMillion":0.2}').doRequestsPerMillion; // 0.2
 */
export function resolvePrices(deployment: unknown): Prices {
  if (deployment === undefined || deployment === "") return DEFAULT_PRICES;
  const parsed = parseStructuredSetting(deployment, pricesInput, "PRICING", (message) => new PricingError(message));
  const over = Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_PRICES, ...over };
}

/** The counts of one period the estimate reads (a subset of MeterCounters in src/protocol/meter.ts). */
export type BilledCounts = Readonly<
  Record<"requests" | "wsMessagesIn" | "alarms" | "awakeMs" | "sqlRowsRead" | "sqlRowsWritten" | "d1RowsWritten", number>
>;

/**
 * What the estimate reads of a room's meter: a MeterSnapshot (src/protocol/meter.ts)
 * satisfies it. Declared here because lib may not import protocol, not even
 * types (scripts/layers.mjs); a type test holds the two together.
 */
export interface MeteredUsage {
  since: number;
  total: BilledCounts;
  lastHour: BilledCounts;
  lastDay: BilledCounts;
  storedBytes: number;
}

/** The lines of an estimate, as billed. */
export const COST_ITEMS = {
  requests: "requests",
  duration: "GB-s",
  sqliteRowsRead: "rows",
  sqliteRowsWritten: "rows",
  sqliteStorage: "GB-month",
  d1RowsWritten: "rows",
} as const;

export type CostItem = keyof typeof COST_ITEMS;

export interface CostLine {
  item: CostItem;
  /** The billed quantity, in `unit`. */
  quantity: number;
  unit: (typeof COST_ITEMS)[CostItem];
  usd: number;
}

export interface CostPeriod {
  items: CostLine[];
  usd: number;
}

/** How a projection was made: from the last 24 hours; from the last hour times 24; or, under an hour old, from everything counted, scaled to a day. */
export const PROJECTION_BASES = ["last day", "last hour × 24", "since start, scaled to a day"] as const;
export type ProjectionBasis = (typeof PROJECTION_BASES)[number];

export interface CostEstimate {
  /** The date of the prices used. */
  asOf: string;
  currency: "USD";
  /** Since the meter started: its totals, and the current size stored for the time since. */
  soFar: CostPeriod;
  /** A day and a month (30 days) at the rate of `basis`, with the current size stored. */
  perDay: CostPeriod;
  perMonth: CostPeriod;
  basis: ProjectionBasis;
}

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** A billing month, as Cloudflare's own examples count it. */
export const DAYS_PER_MONTH = 30;
/** Bytes in a GB as storage is billed (decimal, like the 128 MB / 1 GB of duration). */
export const BYTES_PER_GB = 1e9;

/**
 * The cost of a room from its meter: so far, and projected per day and per
 * month (30 days). The projection uses the last day once the meter is a day
 * old, the last hour × 24 once it is an hour old, and before that everything
 * counted scaled to a day (the meter counts by whole minutes: at least one
 * minute is assumed). Free allowances are not subtracted (see Prices).
 *
 * @param at when the snapshot was taken (ms since the epoch; `RoomInspection.at`).
 * @example
 * const { perMonth, basis } = estimateCost(inspection.meter, prices, inspection.at);
 */
export function estimateCost(snapshot: MeteredUsage, prices: Prices = DEFAULT_PRICES, at: number = Date.now()): CostEstimate {
  const age = Math.max(at - snapshot.since, 0);
  const storedGb = snapshot.storedBytes / BYTES_PER_GB;
  const [basis, day]: [ProjectionBasis, BilledCounts] =
    age >= DAY_MS
      ? ["last day", snapshot.lastDay]
      : age >= HOUR_MS
        ? ["last hour × 24", scaled(snapshot.lastHour, 24)]
        : ["since start, scaled to a day", scaled(snapshot.total, DAY_MS / Math.max(age, MINUTE_MS))];
  return {
    asOf: prices.asOf,
    currency: "USD",
    soFar: period(snapshot.total, storedGb * (age / (DAYS_PER_MONTH * DAY_MS)), prices),
    perDay: period(day, storedGb / DAYS_PER_MONTH, prices),
    perMonth: period(scaled(day, DAYS_PER_MONTH), storedGb, prices),
    basis,
  };
}

/**
 * Durable Object requests billed for `counts`. The meter counts router calls
 * of every transport, so calls that came in over sockets are taken to be one
 * per incoming message and left to the 20:1 rate; the rest (HTTP and Workers
 * RPC calls) are a request each, and so is every alarm.
 */
export function billedRequests(counts: BilledCounts, prices: Prices = DEFAULT_PRICES): number {
  const notOverSockets = Math.max(counts.requests - counts.wsMessagesIn, 0);
  return notOverSockets + counts.wsMessagesIn / prices.wsMessagesPerRequest + counts.alarms;
}

function period(counts: BilledCounts, storedGbMonths: number, prices: Prices): CostPeriod {
  const perMillion = (quantity: number, price: number) => (quantity * price) / 1e6;
  const gbSeconds = (counts.awakeMs / SECOND_MS) * prices.doBilledMemoryGb;
  const requests = billedRequests(counts, prices);
  const items: CostLine[] = [
    line("requests", requests, perMillion(requests, prices.doRequestsPerMillion)),
    line("duration", gbSeconds, perMillion(gbSeconds, prices.doGbSecondsPerMillion)),
    line("sqliteRowsRead", counts.sqlRowsRead, perMillion(counts.sqlRowsRead, prices.sqliteRowsReadPerMillion)),
    line("sqliteRowsWritten", counts.sqlRowsWritten, perMillion(counts.sqlRowsWritten, prices.sqliteRowsWrittenPerMillion)),
    line("sqliteStorage", storedGbMonths, storedGbMonths * prices.sqliteStoredGbMonth),
    line("d1RowsWritten", counts.d1RowsWritten, perMillion(counts.d1RowsWritten, prices.d1RowsWrittenPerMillion)),
  ];
  return { items, usd: items.reduce((sum, item) => sum + item.usd, 0) };
}

function line(item: CostItem, quantity: number, usd: number): CostLine {
  return { item, quantity, unit: COST_ITEMS[item], usd };
}

function scaled(counts: BilledCounts, factor: number): BilledCounts {
  return {
    requests: counts.requests * factor,
    wsMessagesIn: counts.wsMessagesIn * factor,
    alarms: counts.alarms * factor,
    awakeMs: counts.awakeMs * factor,
    sqlRowsRead: counts.sqlRowsRead * factor,
    sqlRowsWritten: counts.sqlRowsWritten * factor,
    d1RowsWritten: counts.d1RowsWritten * factor,
  };
}
