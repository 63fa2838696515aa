import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench, type FnReturnedObject } from 'tinybench';

/** How long and how often to measure; `BENCH_QUICK=1` shrinks everything. */
export interface Settings {
  readonly quick: boolean;
  /** Interleaved rounds per group; each round measures every workload of the group once. */
  readonly rounds: number;
  /** tinybench time budget per workload and round, in milliseconds. */
  readonly timeMs: number;
  readonly warmupMs: number;
  /** Minimum tinybench iterations per workload and round. */
  readonly iterations: number;
  /** Live runtimes (and raw actors) per memory measurement. */
  readonly memoryCount: number;
  /** Child processes per side of the memory measurement. */
  readonly memoryRounds: number;
  /** Tasks in the file store. */
  readonly storeTasks: number;
  /** Saves or loads per interleaved store chunk. */
  readonly storeChunk: number;
  /** Revisions of the long-lived task, and of the short-lived one it is compared with. */
  readonly historyRevisions: number;
  readonly historyBase: number;
  /** Interleaved rounds of the PostgreSQL rows: a round is short, and a busy server makes them vary most. */
  readonly postgresRounds: number;
}

/** The settings of a full run, or of a quick one when `quick`. */
export function settingsFor(quick: boolean): Settings {
  return quick
    ? {
        quick,
        rounds: 2,
        timeMs: 25,
        warmupMs: 10,
        iterations: 8,
        memoryCount: 1_000,
        memoryRounds: 1,
        storeTasks: 200,
        storeChunk: 50,
        historyRevisions: 300,
        historyBase: 30,
        postgresRounds: 2,
      }
    : {
        quick,
        rounds: 7,
        timeMs: 300,
        warmupMs: 100,
        iterations: 32,
        memoryCount: 100_000,
        memoryRounds: 3,
        storeTasks: 10_000,
        storeChunk: 200,
        historyRevisions: 5_000,
        historyBase: 100,
        postgresRounds: 21,
      };
}

/** One benchmarked operation: a timed iteration performs `ops` of them; untimed preparation is excluded. */
export interface Workload {
  readonly label: string;
  readonly ops: number;
  /** Runs one iteration and returns the milliseconds spent in its timed part. */
  readonly iterate: () => number;
}

/** A workload whose every iteration is timed whole. */
export function timed(label: string, ops: number, run: () => void): Workload {
  return {
    label,
    ops,
    iterate: () => {
      const start = performance.now();
      run();
      return performance.now() - start;
    },
  };
}

/** A workload with an untimed `prepare` before each iteration (fresh actors, for example). */
export function prepared<T>(
  label: string,
  ops: number,
  prepare: () => T,
  run: (state: T) => void,
): Workload {
  return {
    label,
    ops,
    iterate: () => {
      const state = prepare();
      const start = performance.now();
      run(state);
      return performance.now() - start;
    },
  };
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  const lower = sorted[middle - 1] ?? upper;
  return sorted.length % 2 === 1 ? upper : (lower + upper) / 2;
}

/** Nanoseconds per operation of one workload, measured once with tinybench (median iteration). */
function measureOnce(workload: Workload, settings: Settings): number {
  globalThis.gc?.();
  const bench = new Bench({
    time: settings.timeMs,
    warmupTime: settings.warmupMs,
    iterations: settings.iterations,
    warmupIterations: Math.min(8, settings.iterations),
    throws: true,
  });
  bench.add(workload.label, (): FnReturnedObject => {
    const start = performance.now();
    const duration = workload.iterate();
    return { overriddenDuration: duration, overriddenIterationCost: performance.now() - start };
  });
  const [task] = bench.runSync();
  const result = task?.result;
  if (
    result === undefined ||
    (result.state !== 'completed' && result.state !== 'aborted-with-statistics')
  ) {
    throw new Error(
      `benchmark '${workload.label}' did not complete (${result?.state ?? 'no task'})`,
    );
  }
  return (result.latency.p50 * 1e6) / workload.ops;
}

/** Per-round nanoseconds per operation of each workload (by label), measured in interleaved rounds. */
export function measureGroup(
  workloads: readonly Workload[],
  settings: Settings,
): Map<string, number[]> {
  const perRound = new Map<string, number[]>(workloads.map((w) => [w.label, []]));
  for (let round = 0; round < settings.rounds; round += 1) {
    const order = round % 2 === 0 ? workloads : [...workloads].reverse();
    for (const workload of order)
      perRound.get(workload.label)?.push(measureOnce(workload, settings));
  }
  return perRound;
}

/**
 * Runs `measures` once per round, in the order given on even rounds and reversed on odd ones, so that no side of a
 * comparison always runs first.
 */
export async function alternate(
  rounds: number,
  measures: readonly (() => Promise<void>)[],
): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    for (const measure of round % 2 === 0 ? measures : [...measures].reverse()) await measure();
  }
}

/** Runs `use` in a new temporary directory (`task-runtime-bench-<name>-…`) and removes the directory afterwards. */
export async function withTempDir<T>(name: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `task-runtime-bench-${name}-`));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Says on stderr what the run measures now; stdout carries the table alone. */
export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

let kept = 0;

/**
 * Adds `value`, computed by timed code (a group's sink), to the checksum the run prints, so that no engine can
 * drop that code as unused.
 */
export function keep(value: number): void {
  kept += value;
}

/** The sum of every value given to {@link keep}. */
export function checksum(): number {
  return kept;
}
