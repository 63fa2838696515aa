import type { TaskGraphTaskView } from '../../index.js';
import { colorStatus, formatDuration, heading, pc, table } from '../render.js';
import type { DemoSettings } from './graph.js';

/** The run-defining options as a command line would give them, e.g. `--tasks 12 --seed 42 …`. */
export function describeSettings(settings: DemoSettings): string {
  return (
    `--tasks ${settings.tasks} --seed ${settings.seed} --fail-rate ${settings.failRate} ` +
    `--max-attempts ${settings.maxAttempts} --workers ${settings.workers}`
  );
}

/**
 * The end-of-run summary: one row per task and the totals. It holds no wall-clock value and no path, so the
 * same settings print the same summary every time.
 */
export function summarize(settings: DemoSettings, tasks: readonly TaskGraphTaskView[]): string[] {
  const rows = tasks.map((task) => [
    task.task.id,
    colorStatus(task.status),
    String(task.attempts.filter((record) => record.startedAt !== null).length),
    task.status === 'failed' ? (task.state.error ?? '') : '',
  ]);
  const merged = tasks.filter((task) => task.status === 'pr_merged').length;
  const failed = tasks.filter((task) => task.status === 'failed').length;
  const blocked = tasks.filter((task) => task.blockedBy !== null).length;
  const records = tasks.flatMap((task) => task.attempts);
  const started = records.filter((record) => record.startedAt !== null);
  const lost = records.filter((record) => record.outcome === 'lost').length;
  const retried = tasks.reduce(
    (sum, task) =>
      sum + task.artifacts.concerns.filter((c) => /^attempt_\d+_error: /.test(c)).length,
    0,
  );
  const times = started.flatMap((record) => [record.startedAt, record.endedAt]);
  const millis = times.flatMap((time) => (time === null ? [] : [Date.parse(time)]));
  const span = millis.length > 0 ? Math.max(...millis) - Math.min(...millis) : 0;
  return [
    heading(`Summary (${describeSettings(settings)})`),
    ...table([['task', 'status', 'attempts', 'error'], ...rows]),
    `${pc.green(`${merged} merged`)}, ${pc.red(`${failed} failed`)} (${blocked} blocked by a failed dependency) ` +
      `of ${tasks.length} tasks`,
    `${started.length} attempts started, ${retried} retried, ${lost} lost with their worker; ` +
      `simulated time ${formatDuration(span)}`,
  ];
}

/**
 * What each worker process of a shared run did, from the tasks' attempt ledgers: one row per worker with the
 * attempts it started and how many of them merged or were lost with it. `workerIds` are listed even without an
 * attempt; attempts of an earlier run by one process (no worker id) get a row of their own.
 */
export function summarizeWorkers(
  workerIds: readonly string[],
  tasks: readonly TaskGraphTaskView[],
): string[] {
  const started = tasks.flatMap((task) => task.attempts).filter((r) => r.startedAt !== null);
  const named = [...new Set([...workerIds, ...started.flatMap((r) => r.workerId ?? [])])];
  const rows = [...named, null].flatMap((workerId) => {
    const own = started.filter((record) => record.workerId === workerId);
    if (workerId === null && own.length === 0) return [];
    const merged = own.filter((record) => record.outcome === 'pr_merged').length;
    const lost = own.filter((record) => record.outcome === 'lost').length;
    return [[workerId ?? '(one process)', String(own.length), String(merged), String(lost)]];
  });
  return [
    heading('Attempts per worker'),
    ...table([['worker', 'attempts', 'merged', 'lost'], ...rows]),
  ];
}
