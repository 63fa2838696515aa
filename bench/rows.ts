/*
 * A row of the table and of results.json, the group that measures rows, and the builders every group makes its
 * rows with: a measured figure against a baseline measured in the same run, their ratio, and the target it meets.
 */
import { median, type Settings } from './harness.js';

/** A measured or baseline figure: what it is, its value and its unit. */
export interface Figure {
  readonly what: string;
  readonly value: number;
  readonly unit: 'ns/op' | 'bytes/runtime' | 'bytes' | 'ops/s' | 'entries';
}

/** One row of the table and of results.json. */
export interface ResultRow {
  readonly name: string;
  readonly measured: Figure;
  readonly baseline: Figure | null;
  /** Median over the interleaved rounds of measured ÷ baseline (for ops/s rows: of the time per operation). */
  readonly ratio: number | null;
  /** The goal, e.g. `≤ 1.2×`, or `reported` when the row is there to inform. */
  readonly target: string;
  /** Whether the target was met; null for reported rows. */
  readonly pass: boolean | null;
}

/**
 * Rows measured together, selected by `name` in `BENCH_ONLY`. A group is one module of bench/ that exports it;
 * bench/main.ts lists the groups in the order they run.
 */
export interface BenchGroup {
  /** The name `BENCH_ONLY` selects the group by, e.g. `store`. */
  readonly name: string;
  /** Measures the rows; none when they cannot be measured here (PostgreSQL without a server). */
  readonly measure: (settings: Settings) => ResultRow[] | Promise<ResultRow[]>;
}

/** One side of a comparison: what ran, and its milliseconds (per operation, or per run) in each round. */
export interface Timed {
  readonly what: string;
  readonly ms: readonly number[];
}

/** The median of the per-round ratios of `measured` to `baseline`. */
export function ratioOf(measured: readonly number[], baseline: readonly number[]): number {
  return median(measured.map((value, round) => value / (baseline[round] ?? Number.NaN)));
}

/** A row of `measured` against `baseline` whose `ratio` must not exceed `maxRatio`, or is reported when null. */
export function comparedRow(
  name: string,
  measured: Figure,
  baseline: Figure,
  ratio: number,
  maxRatio: number | null,
): ResultRow {
  return {
    name,
    measured,
    baseline,
    ratio,
    target: maxRatio === null ? 'reported' : `≤ ${maxRatio}×`,
    pass: maxRatio === null ? null : ratio <= maxRatio,
  };
}

/** A row of two workloads of one `measureGroup` result, by label, in nanoseconds per operation. */
export function timeRow(
  name: string,
  timings: ReadonlyMap<string, readonly number[]>,
  measured: string,
  baseline: string,
  maxRatio: number | null,
): ResultRow {
  const a = timings.get(measured) ?? [];
  const b = timings.get(baseline) ?? [];
  return comparedRow(
    name,
    { what: measured, value: median(a), unit: 'ns/op' },
    { what: baseline, value: median(b), unit: 'ns/op' },
    ratioOf(a, b),
    maxRatio,
  );
}

/** A row of two {@link Timed} sides, each figure made by `figure` of the side's median milliseconds. */
function timedRow(
  name: string,
  measured: Timed,
  baseline: Timed,
  maxRatio: number | null,
  figure: (ms: number) => Pick<Figure, 'value' | 'unit'>,
): ResultRow {
  return comparedRow(
    name,
    { what: measured.what, ...figure(median(measured.ms)) },
    { what: baseline.what, ...figure(median(baseline.ms)) },
    ratioOf(measured.ms, baseline.ms),
    maxRatio,
  );
}

/** A row of two operations timed whole in each round (milliseconds per run), shown as their time. */
export function durationRow(
  name: string,
  measured: Timed,
  baseline: Timed,
  maxRatio: number | null,
): ResultRow {
  return timedRow(name, measured, baseline, maxRatio, (ms) => ({ value: ms * 1e6, unit: 'ns/op' }));
}

/** A row comparing per-round milliseconds per operation, shown as operations per second. */
export function opsRow(
  name: string,
  measured: Timed,
  baseline: Timed,
  maxRatio: number | null,
): ResultRow {
  return timedRow(name, measured, baseline, maxRatio, (ms) => ({
    value: 1_000 / ms,
    unit: 'ops/s',
  }));
}
