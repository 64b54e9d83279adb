/**
 * The inspector's chart: a ring buffer of the meter totals the inspector panel
 * polls (kept in the page, the last CHART_WINDOW_MS), and an inline SVG of
 * what changed between polls: requests and SQLite rows written, one lane
 * each. Used by inspector-panel.ts only.
 */
import { h } from "./dom";

/** How far back the chart looks at most. */
export const CHART_WINDOW_MS = 5 * 60_000;
/** How often the inspector panel polls (as often as the sync panel); the ring and the bars are sized for it. */
export const INSPECT_POLL_MS = 2_000;
/** Samples the ring keeps: the window at one poll per INSPECT_POLL_MS, plus the baseline before it. */
const RING_CAPACITY = CHART_WINDOW_MS / INSPECT_POLL_MS + 1;

/** The meter totals at one poll. */
export interface MeterSample {
  at: number;
  requests: number;
  sqlRowsWritten: number;
}

type Counter = Exclude<keyof MeterSample, "at">;

/** The chart's lanes, top to bottom. */
const LANES: ReadonlyArray<{ counter: Counter; label: string }> = [
  { counter: "requests", label: "requests" },
  { counter: "sqlRowsWritten", label: "SQLite rows written" },
];

/** A fixed-size buffer of the latest samples: pushing past its capacity drops the oldest. */
export class SampleRing {
  readonly #slots: (MeterSample | undefined)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number = RING_CAPACITY) {
    this.#slots = new Array<MeterSample | undefined>(capacity);
  }

  push(sample: MeterSample): void {
    this.#slots[this.#next] = sample;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** The samples held, oldest first. */
  samples(): MeterSample[] {
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    return Array.from({ length: this.#size }, (_, i) => this.#slots[(start + i) % this.capacity]!);
  }
}

/**
 * What each poll added: every sample but the first minus the one before it. A
 * total that fell means the meter started again (a new room of that name), so
 * the new total is what was counted since.
 */
export function perPoll(samples: readonly MeterSample[]): MeterSample[] {
  const step = (now: number, before: number) => (now >= before ? now - before : now);
  return samples.slice(1).map((sample, i) => ({
    at: sample.at,
    requests: step(sample.requests, samples[i]!.requests),
    sqlRowsWritten: step(sample.sqlRowsWritten, samples[i]!.sqlRowsWritten),
  }));
}

const SVG_NS = "http://www.w3.org/2000/svg";
/** The lanes' drawing space; each lane stretches to the panel's width (preserveAspectRatio="none"), so labels are HTML. */
const WIDTH = 600;
const LANE_HEIGHT = 56;
/** The shortest span drawn: a page just opened shows its first polls over half a minute, not squeezed to the right of five. */
const MIN_SPAN_MS = 30_000;

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * The chart of `samples` (oldest first) up to `now`: per lane, a label and an
 * inline SVG with one bar per poll that counted something, its height relative
 * to the lane's largest poll. Each bar has a tooltip; the whole has a
 * one-sentence label for screen readers.
 */
export function renderChart(samples: readonly MeterSample[], now: number): HTMLElement {
  // From the oldest sample held (at least MIN_SPAN_MS, at most CHART_WINDOW_MS) up to now.
  const span = Math.min(CHART_WINDOW_MS, Math.max(MIN_SPAN_MS, now - (samples[0]?.at ?? now)));
  const steps = perPoll(samples).filter((step) => step.at > now - span);
  const barWidth = Math.max(1.5, ((WIDTH * INSPECT_POLL_MS) / span) * 0.7);
  const ago = span < 60_000 ? `${Math.round(span / 1_000)} s` : `${Math.round(span / 60_000)} min`;
  const totals = LANES.map(
    ({ counter, label }) => `${steps.reduce((sum, step) => sum + step[counter], 0).toLocaleString("en-US")} ${label}`,
  );
  const x = (at: number) => ((at - (now - span)) / span) * WIDTH;
  const chart = h("div", {
    class: "inspector-chart",
    role: "img",
    "aria-label": `Per poll over the last ${ago}: ${totals.join(", ")}.`,
  });

  for (const { counter, label } of LANES) {
    const max = Math.max(0, ...steps.map((step) => step[counter]));
    const lane = svg("svg", {
      class: "chart-lane",
      viewBox: `0 0 ${WIDTH} ${LANE_HEIGHT}`,
      preserveAspectRatio: "none",
      "aria-hidden": "true",
    });
    lane.append(svg("line", { class: "chart-baseline", x1: 0, x2: WIDTH, y1: LANE_HEIGHT, y2: LANE_HEIGHT }));
    for (const step of steps) {
      if (step[counter] === 0) continue;
      const barHeight = Math.max(1, (step[counter] / max) * LANE_HEIGHT);
      const bar = svg("rect", {
        class: "chart-bar",
        "data-series": counter,
        x: Math.max(0, x(step.at) - barWidth),
        y: LANE_HEIGHT - barHeight,
        width: barWidth,
        height: barHeight,
      });
      bar.append(
        svg("title", {}, `${step[counter].toLocaleString("en-US")} ${label} in the poll ending ${new Date(step.at).toLocaleTimeString()}`),
      );
      lane.append(bar);
    }
    chart.append(
      h("p", { class: "chart-label", "data-series": counter }, `${label} per poll (largest ${max.toLocaleString("en-US")})`),
      lane,
    );
  }
  chart.append(h("p", { class: "chart-axis" }, h("span", {}, `${ago} ago`), h("span", {}, "now")));
  return chart;
}
