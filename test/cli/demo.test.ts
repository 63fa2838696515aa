import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planDemo } from '../../src/cli/demo/graph.js';
import { writeManifest } from '../../src/cli/demo/manifest.js';
import { blockedByOf } from '../../src/graph/blocking.js';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import {
  killAll,
  parseSummary,
  removeTempDirs,
  runCli,
  storeDir,
  storedSnapshots,
  summaryBlock,
} from './cliHarness.js';

/** The settings of a default run, as its manifest stores them. */
const DEFAULTS = { tasks: 12, seed: 42, failRate: 0.25, maxAttempts: 3, workers: 3 };

/** `id@revision` of every stored task, read through the store's API. */
async function storedRevisions(dir: string): Promise<string[]> {
  return [...(await storedSnapshots(dir))].map(([id, { revision }]) => `${id}@${revision}`);
}

/** The error of a task the run blocked, as the contract words it; the group is the failed dependency. */
const BLOCKED = /^Blocked by orchestration rules: dependency '(\S+)' failed$/;

jest.setTimeout(30_000);

afterEach(killAll);
afterAll(removeTempDirs);

/** stdout with the store path replaced, so runs in different directories compare equal. */
function normalized(stdout: string, dir: string): string {
  return stdout.replaceAll(dir, '<dir>');
}

describe('task-runtime demo', () => {
  it('should print the same output, summary included, for the same seed and options in two fresh stores', async () => {
    const args = ['demo', '--fresh', '--delay-ms', '0', '--seed', '7', '--tasks', '15'];
    const [dirA, dirB] = [storeDir(), storeDir()];
    const [a, b] = await Promise.all([
      runCli([...args, '--dir', dirA]),
      runCli([...args, '--dir', dirB]),
    ]);
    expect([a.code, a.stderr]).toEqual([0, '']);
    expect([b.code, b.stderr]).toEqual([0, '']);
    expect(summaryBlock(a.stdout)).toEqual(summaryBlock(b.stdout));
    expect(normalized(a.stdout, dirA)).toEqual(normalized(b.stdout, dirB));
  });

  it('should end a default run with every task settled, counts that add up, a blocked task, and the summary the README shows', async () => {
    const dir = storeDir();
    const result = await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    expect(result.code).toBe(0);
    const { rows, merged, failed, blocked, total } = parseSummary(summaryBlock(result.stdout));
    expect(total).toBe(12);
    expect(rows.map((row) => row.id)).toHaveLength(12);
    expect(new Set(rows.map((row) => row.id)).size).toBe(12);
    for (const row of rows) expect(['pr_merged', 'failed']).toContain(row.status);
    expect(merged).toBe(rows.filter((row) => row.status === 'pr_merged').length);
    expect(failed).toBe(rows.filter((row) => row.status === 'failed').length);
    expect(merged + failed).toBe(total);
    expect(blocked).toBeGreaterThanOrEqual(1);
    const blockedRows = rows.filter((row) => BLOCKED.test(row.error));
    expect(blockedRows).toHaveLength(blocked);
    for (const row of rows) expect(row.attempts).toBeLessThanOrEqual(3);
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('## Command line'),
      readme.indexOf('## Development'),
    );
    expect(summaryBlock(section)).toEqual(summaryBlock(result.stdout));
  });

  it('should store every task it shows, a blocked one failed from pending, not retryable, blockedBy the dependency its error names', async () => {
    const dir = storeDir();
    const result = await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    expect(result.code).toBe(0);
    const { rows, blocked } = parseSummary(summaryBlock(result.stdout));
    const stored = await storedSnapshots(dir);
    expect([...stored.keys()].sort()).toEqual(rows.map((row) => row.id).sort());
    for (const row of rows) {
      const snapshot = stored.get(row.id)?.snapshot;
      if (snapshot === undefined) throw new Error(`task '${row.id}' is not stored`);
      const blocker = BLOCKED.exec(row.error)?.[1] ?? null;
      expect([row.id, snapshot.status, blockedByOf(snapshot)]).toEqual([
        row.id,
        row.status,
        blocker,
      ]);
      if (blocker !== null) {
        expect(snapshot.context.attempts).toEqual([
          expect.objectContaining({ startedAt: null, outcome: 'failed', retryable: false }),
        ]);
      }
    }
    const blockedBy = [...stored.values()].filter(({ snapshot }) => blockedByOf(snapshot) !== null);
    expect(blockedBy).toHaveLength(blocked);
  });

  it('should block, when started again, a dependent a kill left pending behind a final failure, at a simulated time after every stored one', async () => {
    const dir = storeDir();
    const first = await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    expect(first.code).toBe(0);
    const finished = await storedSnapshots(dir);
    const [blockedId, blocked] =
      [...finished].find(([, { snapshot }]) => blockedByOf(snapshot) !== null) ?? [];
    if (blockedId === undefined || blocked === undefined) throw new Error('no blocked task');
    // What a SIGKILL between saving a final failure and saving the dependents it blocks leaves behind.
    const store = await FileTaskStore.open(dir);
    const unblocked = new TaskRuntime(blocked.snapshot.context.task, { maxAttempts: 3 });
    await store.save(blockedId, unblocked.persist(), { expectedRevision: blocked.revision });
    await store.close();

    const again = await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(again.stdout).toContain('already finished');
    expect(again.stdout).toContain(
      `${blockedId}: blocked by ${blockedByOf(blocked.snapshot)} on resume (its final failure was saved`,
    );
    expect(summaryBlock(again.stdout)).toEqual(summaryBlock(first.stdout));
    const repaired = await storedSnapshots(dir);
    const snapshot = repaired.get(blockedId)?.snapshot;
    expect(snapshot === undefined ? null : blockedByOf(snapshot)).toBe(
      blockedByOf(blocked.snapshot),
    );
    const [record] = snapshot?.context.attempts ?? [];
    const times = [...finished.values()]
      .flatMap(({ snapshot: { context } }) => context.attempts)
      .flatMap(({ startedAt, endedAt }) => [startedAt, endedAt])
      .flatMap((time) => (time === null ? [] : [Date.parse(time)]));
    expect(Date.parse(record?.endedAt ?? '')).toBe(Math.max(...times) + 60_000);
  });

  it('should give a run without failures with --fail-rate 0', async () => {
    const result = await runCli([
      'demo',
      '--delay-ms',
      '0',
      '--fail-rate',
      '0',
      '--dir',
      storeDir(),
    ]);
    expect(result.code).toBe(0);
    const { merged, total } = parseSummary(summaryBlock(result.stdout));
    expect(merged).toBe(total);
  });

  it('should report a finished run and leave it as is when started again, and start over with --fresh', async () => {
    const dir = storeDir();
    const first = await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    const before = await storedRevisions(dir);
    const again = await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already finished');
    expect(again.stdout).not.toContain('→');
    expect(summaryBlock(again.stdout)).toEqual(summaryBlock(first.stdout));
    expect(await storedRevisions(dir)).toEqual(before);
    const fresh = await runCli(['demo', '--delay-ms', '0', '--fresh', '--dir', dir]);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('Deleted 12 stored task(s)');
    expect(fresh.stdout).toContain('Starting a demo run');
    expect(summaryBlock(fresh.stdout)).toEqual(summaryBlock(first.stdout));
  });

  it('should refuse, with exit code 1, options that contradict the stored run', async () => {
    const dir = storeDir();
    await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    const result = await runCli(['demo', '--seed', '8', '--dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--seed 8 (the stored run has 42)');
    expect(result.stderr).toContain('--fresh');
  });

  it('should refuse, with exit code 1, a store holding tasks no demo run wrote', async () => {
    const dir = storeDir();
    const store = await FileTaskStore.open(dir);
    await DurableTaskRuntime.create(store, { id: 'mine', role: 'generic' });
    await store.close();
    const result = await runCli(['demo', '--dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('1 task(s) that no demo run wrote');
    const reopened = await FileTaskStore.open(dir);
    expect(await reopened.list()).toEqual(['mine']);
    await reopened.close();
  });

  it.each([
    {
      what: 'a stored task whose spec is not the one the run plans, naming it and the field',
      id: 'spec-login',
      snapshot: () =>
        new TaskRuntime({ id: 'spec-login', role: 'spec_writer', description: 'other' }).persist(),
      says: ["task 'spec-login'", 'task.description'],
    },
    {
      what: 'a stored task started before its dependency merged, naming it and the rule',
      id: 'tests-login',
      snapshot: () => {
        const spec = planDemo(DEFAULTS).graph.task('tests-login');
        const tooEarly = new TaskRuntime(spec, { maxAttempts: DEFAULTS.maxAttempts });
        tooEarly.markRunning();
        return tooEarly.persist();
      },
      says: ["task 'tests-login'", "dependency 'spec-login' is pending"],
    },
  ])('should refuse, with exit code 1 and nothing saved, $what', async ({ id, snapshot, says }) => {
    const dir = storeDir();
    const store = await FileTaskStore.open(dir);
    await writeManifest(store.dir, DEFAULTS);
    await store.save(id, snapshot(), { expectedRevision: null });
    await store.close();
    const result = await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    expect(result.code).toBe(1);
    for (const text of [...says, '--fresh']) expect(result.stderr).toContain(text);
    expect(await storedRevisions(dir)).toEqual([`${id}@1`]);
  });
});
