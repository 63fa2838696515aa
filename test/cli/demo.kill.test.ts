import { setTimeout as sleep } from 'node:timers/promises';
import { DemoRun } from '../../src/cli/demo/DemoRun.js';
import { planDemo } from '../../src/cli/demo/graph.js';
import { readManifest } from '../../src/cli/demo/manifest.js';
import { blockedByOf, isFinalFailure } from '../../src/graph/blocking.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { mulberry32, SEED } from '../support/random.js';
import {
  killAll,
  type LoggedTransition,
  loggedTransitions,
  parseSummary,
  removeTempDirs,
  runCli,
  type StoredSnapshot,
  startCli,
  storeDir,
  storedSnapshots,
  summaryBlock,
} from './cliHarness.js';

/*
 * The demo killed with SIGKILL at seeded moments (set TASK_RUNTIME_SEED to replay a run), then reopened: the
 * stored tasks keep the graph's rules, every transition the killed process printed (each printed once saved) is
 * in the store, and the resumed run finishes. The store is read through its public API only.
 */

jest.setTimeout(90_000);

afterEach(killAll);
afterAll(removeTempDirs);

type Stored = ReadonlyMap<string, StoredSnapshot>;

const TRANSITION = / → /g;

function transitions(stdout: string): number {
  return stdout.match(TRANSITION)?.length ?? 0;
}

/**
 * Starts the demo, waits until `ready(stdout)` holds and `extraMs` more, and kills it with SIGKILL; `where` (the
 * seed and the kill) heads the error when the demo ends or stalls first.
 */
async function runAndKill(
  where: string,
  args: readonly string[],
  ready: (stdout: string) => boolean,
  extraMs: number,
): Promise<string> {
  const demo = startCli(args);
  await demo.waitFor(ready).catch((error: Error) => {
    throw new Error(`${where}: ${error.message}`);
  });
  if (extraMs > 0) await sleep(extraMs);
  demo.child.kill('SIGKILL');
  const result = await demo.done;
  expect({ signal: result.signal, stderr: result.stderr }).toEqual({
    signal: 'SIGKILL',
    stderr: '',
  });
  return result.stdout;
}

/** `2026-01-05T09:12:00.000Z` as the log prints it, `2026-01-05 09:12:00`. */
const logged = (iso: string | null): string | null =>
  iso === null ? null : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;

const dependenciesOf = (task: StoredSnapshot): readonly string[] =>
  task.snapshot.context.task.dependencies;

/** Rule 1: no task running, pr_created or pr_merged unless every dependency is pr_merged. */
function startedTooEarly(stored: Stored): string[] {
  return [...stored].flatMap(([id, task]) => {
    if (!['running', 'pr_created', 'pr_merged'].includes(task.snapshot.status)) return [];
    return dependenciesOf(task)
      .filter((dependency) => stored.get(dependency)?.snapshot.status !== 'pr_merged')
      .map(
        (dependency) =>
          `${id} is ${task.snapshot.status} while its dependency ${dependency} is ` +
          `${stored.get(dependency)?.snapshot.status ?? 'not stored'}`,
      );
  });
}

/** Rule 2: no task pending while a dependency failed finally; and a blocked task names a final failure. */
function blockingBroken(stored: Stored): string[] {
  const finallyFailed = (id: string): boolean => {
    const task = stored.get(id);
    return task !== undefined && isFinalFailure(task.snapshot);
  };
  return [...stored].flatMap(([id, task]) => {
    const problems = dependenciesOf(task)
      .filter((dependency) => task.snapshot.status === 'pending' && finallyFailed(dependency))
      .map((dependency) => `${id} is pending although its dependency ${dependency} failed finally`);
    const blocker = blockedByOf(task.snapshot);
    if (blocker !== null && !finallyFailed(blocker)) {
      problems.push(`${id} is blocked by ${blocker}, which did not fail finally`);
    }
    return problems;
  });
}

/** What a printed transition says about the stored task, when the store does not say it. */
function unacknowledged(line: LoggedTransition, stored: Stored): string | null {
  const task = stored.get(line.taskId)?.snapshot;
  if (task === undefined) return `'${line.line}': the task is not stored`;
  const { attemptNum, attempts, concerns } = task.context;
  if (attemptNum < line.attemptNum) return `'${line.line}': stored at attempt ${attemptNum}`;
  const record = attempts.find((entry) => entry.attemptNum === line.attemptNum);
  const holds = ((): boolean => {
    switch (line.to) {
      case 'running':
        return logged(record?.startedAt ?? null) === line.at;
      case 'pr_created':
        return record?.prUrl === line.detail;
      case 'pr_merged':
        return task.status === 'pr_merged' && record?.outcome === 'pr_merged';
      case 'failed':
        return (
          record?.outcome === (line.detail.startsWith('worker lost: ') ? 'lost' : 'failed') &&
          record.error === line.detail &&
          logged(record.endedAt) === line.at
        );
      case 'pending':
        return concerns.some((concern) => concern.startsWith(`attempt_${line.attemptNum}_error: `));
      default:
        return false;
    }
  })();
  return holds
    ? null
    : `'${line.line}': stored ${task.status} at attempt ${attemptNum}, ledger ${JSON.stringify(record)}`;
}

/** What a later store lost of an earlier one: a task, a revision, an attempt, a closed ledger record. */
function lostSince(before: Stored, after: Stored): string[] {
  return [...before].flatMap(([id, earlier]) => {
    const later = after.get(id);
    if (later === undefined) return [`${id} is no longer stored`];
    const problems: string[] = [];
    if (later.revision < earlier.revision) {
      problems.push(`${id} went back from revision ${earlier.revision} to ${later.revision}`);
    }
    const [was, is] = [earlier.snapshot.context, later.snapshot.context];
    if (is.attemptNum < was.attemptNum) {
      problems.push(`${id} went back from attempt ${was.attemptNum} to ${is.attemptNum}`);
    }
    for (const record of was.attempts) {
      const now = is.attempts.find((entry) => entry.attemptNum === record.attemptNum);
      const kept =
        record.endedAt === null
          ? now?.startedAt === record.startedAt
          : JSON.stringify(now) === JSON.stringify(record);
      if (!kept)
        problems.push(`${id} attempt ${record.attemptNum} changed: ${JSON.stringify(now)}`);
    }
    return problems;
  });
}

/** The tasks a killed run left running or pr_created: their worker died with it. */
function withLostWorkers(stored: Stored): [string, StoredSnapshot][] {
  return [...stored].filter(([, { snapshot }]) =>
    ['running', 'pr_created'].includes(snapshot.status),
  );
}

/**
 * Whether the resumed run said it found each lost worker's task and recovered it: a running one failed as a lost
 * attempt ('worker lost …'), a pr_created one merged or failed in review, same attempt, without new work.
 */
function unrecovered(lost: readonly [string, StoredSnapshot][], stdout: string): string[] {
  const lines = loggedTransitions(stdout);
  return lost.flatMap(([id, { snapshot }]) => {
    const attempt = snapshot.context.attemptNum;
    const note = `note: ${id}: found ${snapshot.status} (attempt ${attempt}) with no worker; `;
    const first = lines.find((line) => line.taskId === id);
    const recovered =
      first !== undefined &&
      first.attemptNum === attempt &&
      first.from === snapshot.status &&
      (snapshot.status === 'running'
        ? first.to === 'failed' && first.detail.startsWith('worker lost: ')
        : first.to === 'pr_merged' || first.to === 'failed');
    return stdout.split('\n').some((line) => line.startsWith(note)) && recovered
      ? []
      : [
          `${id} (${snapshot.status}, attempt ${attempt}) was not recovered: ${JSON.stringify(first)}`,
        ];
  });
}

/** Opens the stored run the way the demo does on start-up (which repairs what the kill interrupted), silently. */
async function reopen(dir: string): Promise<void> {
  const store = await FileTaskStore.open(dir);
  try {
    const settings = await readManifest(store.dir);
    if (settings === null) throw new Error(`no demo run manifest in ${dir}`);
    await DemoRun.open(store, planDemo(settings), {
      note: () => undefined,
      transition: () => undefined,
      rejection: () => undefined,
    });
  } finally {
    await store.close();
  }
}

describe('task-runtime demo killed with SIGKILL', () => {
  const KILLS = 5;

  it('should keep the graph rules and every printed transition in the store after each kill, and finish on resume', async () => {
    const random = mulberry32(SEED);
    const dir = storeDir();
    const args = ['demo', '--dir', dir, '--tasks', '24', '--delay-ms', '5'];
    const problems: string[] = [];
    const printed: LoggedTransition[] = [];
    let stored: Stored = new Map();
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const where = `seed ${SEED}, kill ${kill}`;
      const lost = withLostWorkers(stored);
      // Once every lost worker is recovered, 1 to 8 more transitions, and up to 15 ms into the next step.
      const count = lost.length + 1 + Math.floor(random() * 8);
      const stdout = await runAndKill(
        where,
        args,
        (output) => unrecovered(lost, output).length === 0 && transitions(output) >= count,
        Math.floor(random() * 16),
      );
      const lines = loggedTransitions(stdout);
      printed.push(...lines);
      const killed = await storedSnapshots(dir);
      await reopen(dir);
      const reopened = await storedSnapshots(dir);
      problems.push(
        ...[
          ...lines.flatMap((line) => unacknowledged(line, killed) ?? []),
          ...lostSince(stored, killed),
          ...startedTooEarly(killed),
          ...lostSince(killed, reopened),
          ...startedTooEarly(reopened),
          ...blockingBroken(reopened),
        ].map((problem) => `${where}: ${problem}`),
      );
      stored = reopened;
    }
    expect(problems).toEqual([]);

    const last = await runCli([...args, '--delay-ms', '0']);
    expect([last.code, last.stderr]).toEqual([0, '']);
    expect(last.stdout).toContain('Resuming the demo run');
    printed.push(...loggedTransitions(last.stdout));
    const final = await storedSnapshots(dir);
    expect([
      ...unrecovered(withLostWorkers(stored), last.stdout),
      ...printed.flatMap((line) => unacknowledged(line, final) ?? []),
      ...lostSince(stored, final),
      ...startedTooEarly(final),
      ...blockingBroken(final),
    ]).toEqual([]);

    // Every task settled: merged, or failed for good; the summary shows the stored run.
    const { rows, blocked } = parseSummary(summaryBlock(last.stdout));
    expect(rows.map((row) => `${row.id} ${row.status}`).sort()).toEqual(
      [...final].map(([id, { snapshot }]) => `${id} ${snapshot.status}`).sort(),
    );
    const open = [...final].filter(
      ([, { snapshot }]) => snapshot.status !== 'pr_merged' && !isFinalFailure(snapshot),
    );
    expect(open.map(([id]) => id)).toEqual([]);
    expect(
      [...final.values()].filter(({ snapshot }) => blockedByOf(snapshot) !== null),
    ).toHaveLength(blocked);
    for (const [id, { snapshot }] of final) {
      const ledger = snapshot.context.attempts;
      // Attempts are used in order, none skipped (lost) and none twice (duplicated) …
      expect([id, ledger.map((record) => record.attemptNum)]).toEqual([
        id,
        ledger.map((_, index) => index),
      ]);
      // … and every attempt that started was closed: merged, failed, or lost (the killed ones, not counted).
      for (const record of ledger.filter((entry) => entry.startedAt !== null)) {
        expect([
          id,
          record.outcome,
          Date.parse(record.endedAt ?? '') >= Date.parse(record.startedAt ?? ''),
        ]).toEqual([id, expect.stringMatching(/^(pr_merged|failed|lost)$/), true]);
      }
      // A kill never costs a task its attempt budget: its counted attempts stay within --max-attempts (3).
      const counted = ledger.filter((record) => record.outcome !== 'lost').length;
      expect([id, counted <= 3]).toEqual([id, true]);
    }
    // No attempt was started twice across the runs.
    const starts = printed
      .filter((line) => line.to === 'running')
      .map((line) => `${line.taskId}#${line.attemptNum}`);
    expect(starts.length - new Set(starts).size).toBe(0);
  });

  it('should stop on Ctrl-C (SIGINT) with exit code 130 and a hint, then resume to the end', async () => {
    const dir = storeDir();
    const demo = startCli(['demo', '--dir', dir, '--delay-ms', '40']);
    await demo.waitFor((stdout) => transitions(stdout) >= 6);
    demo.child.kill('SIGINT');
    const stopped = await demo.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('Interrupted. Every step so far is saved');
    expect(stopped.stdout).not.toContain('Summary');
    const resumed = await runCli(['demo', '--dir', dir, '--delay-ms', '0']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('Resuming the demo run');
    expect(resumed.stdout).toContain('Summary');
  });
});
