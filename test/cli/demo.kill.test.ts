import type { AttemptRecord } from '../../src/machines/taskMachine.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { killAll, removeTempDirs, runCli, startCli, storeDir } from './cliHarness.js';

jest.setTimeout(40_000);

afterEach(killAll);
afterAll(removeTempDirs);

/** `2026-01-05 09:12:00  impl-login  attempt 1  pending → running` → ['impl-login', 1]. */
const STARTED = /^\S+ \S+ {2}(\S+)\s+attempt (\d+) {2}pending → running$/gm;
const TRANSITION = / → /g;

function transitions(stdout: string): number {
  return stdout.match(TRANSITION)?.length ?? 0;
}

/** The attempts a run printed as started: the line is printed only once the start is saved. */
function startedAttempts(stdout: string): string[] {
  return [...stdout.matchAll(STARTED)].map(([, id, attempt]) => `${id}#${attempt}`);
}

/** Starts the demo, lets it print `count` more transitions, and kills it with SIGKILL. */
async function runAndKill(args: readonly string[], count: number): Promise<string> {
  const demo = startCli(args);
  await demo.waitFor((stdout) => transitions(stdout) >= count);
  demo.child.kill('SIGKILL');
  const result = await demo.done;
  expect(result.signal).toBe('SIGKILL');
  return result.stdout;
}

describe('task-runtime demo killed with SIGKILL', () => {
  it('should resume from the store and finish every task with no attempt lost or duplicated', async () => {
    const dir = storeDir();
    const args = ['demo', '--dir', dir, '--delay-ms', '40'];
    const first = await runAndKill(args, 10);
    const second = await runAndKill(args, transitions(first) === 0 ? 10 : 8);
    expect(second).toContain('Resuming the demo run');
    const last = await runCli([...args.slice(0, 3), '--delay-ms', '0']);
    expect([last.code, last.stderr]).toEqual([0, '']);
    expect(last.stdout).toContain('Resuming the demo run');

    const printed = [first, second, last.stdout].flatMap(startedAttempts);
    expect(printed.length).toBeGreaterThan(0);
    const store = await FileTaskStore.open(dir);
    const ledgers = new Map<string, readonly AttemptRecord[]>();
    try {
      const ids = await store.list();
      expect(ids).toHaveLength(12);
      for (const id of ids) {
        const stored = await store.load(id);
        const runtime = TaskRuntime.restore(stored?.snapshot);
        expect([id, runtime.isTerminal]).toEqual([id, true]);
        ledgers.set(id, runtime.attempts);
      }
    } finally {
      await store.close();
    }
    for (const [id, ledger] of ledgers) {
      const numbers = ledger.map((record) => record.attemptNum);
      // Attempts are used in order, none skipped (lost) and none twice (duplicated).
      expect([id, numbers]).toEqual([id, numbers.map((_, index) => index)]);
      for (const record of ledger) {
        // Every attempt that started was closed: merged, or failed (the killed ones as 'worker lost').
        if (record.startedAt !== null) {
          expect([id, record.outcome, record.endedAt === null]).toEqual([
            id,
            expect.stringMatching(/^(pr_merged|failed)$/),
            false,
          ]);
          expect(Date.parse(record.endedAt ?? '')).toBeGreaterThanOrEqual(
            Date.parse(record.startedAt),
          );
        }
      }
    }
    // Every start any run printed is in the ledger, exactly once across all runs.
    expect(new Set(printed).size).toBe(printed.length);
    for (const entry of printed) {
      const [id = '', attempt = ''] = entry.split('#');
      const record = ledgers.get(id)?.find((r) => r.attemptNum === Number(attempt));
      expect([entry, record?.startedAt === null]).toEqual([entry, false]);
    }
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
