/**
 * The benchmark suite's results: measurements (latency percentiles per run,
 * rates, counts) and the target lines built from them — each nanotypeDB figure
 * as a ratio to its floor (and to the peer) measured in the same run, with its
 * target and whether it is met. run.ts fills it; report.ts renders it.
 */
import { median, medianOfRuns, type Percentiles } from "./stats";

/** How the client reached the runtime: wrangler dev's proxy, the runtime's own port, or no runtime at all. */
export type Path = "direct" | "proxy" | "in-process";

export type Measurement =
  | { kind: "latency"; key: string; label: string; path: Path; median: Percentiles; runs: Percentiles[] }
  | { kind: "rate"; key: string; label: string; path: Path; unit: string; median: number; runs: number[]; detail?: Record<string, unknown> }
  | { kind: "value"; key: string; label: string; path: Path; unit: string; value: number | null; detail?: Record<string, unknown> };

export interface TargetLine {
  /** The scenario this line answers. */
  scenario: string;
  path: Path | "—";
  /** nanotypeDB's figure, formatted. */
  measured: string;
  /** The floor it is compared with, formatted ("—" when the target is absolute). */
  floor: string;
  /** Ratios to the floor (p50/p99 for latency; one value for rates). */
  ratio: { p50?: number; p99?: number; value?: number } | null;
  /** Ratios to the peer (PartyServer), where one exists. */
  peerRatio?: { p50?: number; p99?: number; value?: number };
  target: string;
  /** null: not measured (see note). */
  met: boolean | null;
  note?: string;
  /** Machine (cores, Node, workerd), date and commit: on every line. */
  run: string;
}

export class Results {
  readonly measurements = new Map<string, Measurement>();
  readonly lines: TargetLine[] = [];

  constructor(readonly run: string) {}

  private id(key: string, path: Path): string {
    return `${key}@${path}`;
  }

  latency(key: string, label: string, path: Path, runs: Percentiles[]): Percentiles {
    const result = medianOfRuns(runs);
    this.measurements.set(this.id(key, path), { kind: "latency", key, label, path, median: result, runs });
    return result;
  }

  rate(key: string, label: string, path: Path, unit: string, runs: number[], detail?: Record<string, unknown>): number {
    const value = median(runs);
    this.measurements.set(this.id(key, path), { kind: "rate", key, label, path, unit, median: value, runs, ...(detail ? { detail } : {}) });
    return value;
  }

  value(key: string, label: string, path: Path, unit: string, value: number | null, detail?: Record<string, unknown>): void {
    this.measurements.set(this.id(key, path), { kind: "value", key, label, path, unit, value, ...(detail ? { detail } : {}) });
  }

  getLatency(key: string, path: Path): Percentiles | null {
    const found = this.measurements.get(this.id(key, path));
    return found?.kind === "latency" ? found.median : null;
  }

  getRate(key: string, path: Path): number | null {
    const found = this.measurements.get(this.id(key, path));
    return found?.kind === "rate" ? found.median : null;
  }

  label(key: string, path: Path): string {
    return this.measurements.get(this.id(key, path))?.label ?? key;
  }

  add(line: Omit<TargetLine, "run">): void {
    this.lines.push({ ...line, run: this.run });
  }

  /**
   * A latency target: nanotypeDB's p50 and p99 each at most `max` × the floor's
   * (and, when `peerKey` is given, the ratio to the peer, judged by `peerMax`).
   */
  latencyLine(options: {
    scenario: string;
    key: string;
    floorKey: string;
    path: Path;
    max: number | null;
    /** A looser bound for p99 (default: `max`). */
    maxP99?: number;
    peerKey?: string;
    peerMax?: number;
    /** What `floorKey` names in the target text: the floor (default) or the peer. */
    versus?: "floor" | "peer";
    note?: string;
  }): void {
    const measured = this.getLatency(options.key, options.path);
    const floor = this.getLatency(options.floorKey, options.path);
    if (!measured || !floor) {
      this.add({
        scenario: options.scenario,
        path: options.path,
        measured: "not measured",
        floor: "—",
        ratio: null,
        target: options.max === null ? "reported" : `≤ ${options.max}×`,
        met: null,
        note: options.note ?? "missing measurement",
      });
      return;
    }
    const ratio = { p50: measured.p50 / floor.p50, p99: measured.p99 / floor.p99 };
    const peer = options.peerKey ? this.getLatency(options.peerKey, options.path) : null;
    const peerRatio = peer ? { p50: measured.p50 / peer.p50, p99: measured.p99 / peer.p99 } : undefined;
    const maxP99 = options.maxP99 ?? options.max;
    let met: boolean | null = options.max === null || maxP99 === null ? null : ratio.p50 <= options.max && ratio.p99 <= maxP99;
    const targets: string[] = [];
    const versus = options.versus ?? "floor";
    if (options.max !== null && maxP99 !== options.max) targets.push(`p50 ≤ ${options.max}×, p99 ≤ ${maxP99}× ${versus}`);
    else if (options.max !== null) targets.push(`≤ ${options.max}× ${versus}`);
    if (peerRatio && options.peerMax !== undefined) {
      targets.push(`≤ ${options.peerMax}× peer`);
      const peerMet = peerRatio.p50 <= options.peerMax && peerRatio.p99 <= options.peerMax;
      met = met === null ? peerMet : met && peerMet;
    }
    this.add({
      scenario: options.scenario,
      path: options.path,
      measured: `${this.label(options.key, options.path)}: ${formatLatency(measured)}`,
      floor: `${this.label(options.floorKey, options.path)}: ${formatLatency(floor)}`,
      ratio,
      ...(peerRatio ? { peerRatio } : {}),
      target: targets.length ? `${targets.join(", ")}${maxP99 !== options.max ? "" : " (p50 and p99)"}` : "reported",
      met,
      ...(options.note ? { note: options.note } : {}),
    });
  }

  /** A rate target: nanotypeDB's rate at least `min` × the floor's. */
  rateLine(options: { scenario: string; key: string; floorKey: string; path: Path; min: number | null; note?: string }): void {
    const measured = this.getRate(options.key, options.path);
    const floor = this.getRate(options.floorKey, options.path);
    if (measured === null || floor === null) {
      this.add({
        scenario: options.scenario,
        path: options.path,
        measured: "not measured",
        floor: "—",
        ratio: null,
        target: options.min === null ? "reported" : `≥ ${options.min}×`,
        met: null,
        note: options.note ?? "missing measurement",
      });
      return;
    }
    const value = measured / floor;
    this.add({
      scenario: options.scenario,
      path: options.path,
      measured: `${this.label(options.key, options.path)}: ${Math.round(measured)}/s`,
      floor: `${this.label(options.floorKey, options.path)}: ${Math.round(floor)}/s`,
      ratio: { value },
      target: options.min === null ? "reported" : `≥ ${options.min}×`,
      met: options.min === null ? null : value >= options.min,
      ...(options.note ? { note: options.note } : {}),
    });
  }
}

export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return "—";
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function formatLatency(value: Percentiles): string {
  return `p50 ${formatMs(value.p50)} ms, p99 ${formatMs(value.p99)} ms`;
}

export function formatRatio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "—" : `${value.toFixed(2)}×`;
}
