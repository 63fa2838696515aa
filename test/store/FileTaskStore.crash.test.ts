import { setTimeout as sleep } from 'node:timers/promises';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { killRunning, startFixture } from '../support/childProcess.js';
import { COMPACT_EVERY, generationsOf, keptGenerations } from '../support/fileStoreLayout.js';
import { mulberry32, SEED } from '../support/random.js';
import { tempDirs } from '../support/tempDir.js';

/*
 * Crash safety and cross-process races of FileTaskStore. The writers are real child processes running the
 * BUILT package (test/fixtures/*.mjs import dist/index.js; `npm test` builds first); the parent checks the
 * store through the sources. Random choices come from a seeded generator: set TASK_RUNTIME_SEED to replay one.
 */

/** The snapshot test/fixtures/crashSaver.mjs saves for `taskId` at `revision` (keep the two in step). */
function crashSnapshotAt(taskId: string, revision: number): unknown {
  return { taskId, revision, pad: 'x'.repeat(100 + ((revision * 7919) % 16_000)) };
}

/** Parses `prefix a b c` into numbers, failing loudly on anything else. */
function numbersAfter(line: string, prefix: string): number[] {
  const [head, ...rest] = line.split(' ');
  if (head !== prefix || rest.some((part) => !/^(0|[1-9][0-9]*)$/.test(part))) {
    throw new Error(`expected a '${prefix} <numbers>' line, got ${JSON.stringify(line)}`);
  }
  return rest.map(Number);
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const temp = tempDirs('task-runtime-crash-');

afterEach(killRunning);

afterAll(() => temp.removeAll());

describe('FileTaskStore under SIGKILL', () => {
  const KILLS = 60;
  const taskIds = ['crash-0', 'crash-1', 'crash/2', 'crash ü 3', '../crash-4'];
  let dir = '';
  /** The revision of each task after the last kill; set once the kill campaign finished. */
  let afterCampaign: number[] | null = null;
  /** Kills after which a task still had a superseded generation: they hit a clean-up in flight. */
  let cleanUpsInterrupted = 0;

  beforeAll(() => {
    dir = temp.make();
  });

  it('should keep every task loadable at its last acknowledged revision or one later across 60 kills', async () => {
    const random = mulberry32(SEED);
    const acknowledged = taskIds.map(() => 0);
    const seen = taskIds.map(() => 0);
    const problems: string[] = [];
    let acks = 0;
    let kills = 0;
    for (let kill = 1; kill <= KILLS && problems.length === 0; kill += 1) {
      const where = `seed ${SEED}, kill ${kill}`;
      const child = startFixture('crashSaver.mjs', [dir, ...taskIds]);
      const ready = numbersAfter(await child.nextLine(), 'ready');
      if (JSON.stringify(ready) !== JSON.stringify(seen)) {
        problems.push(`${where}: child started from revisions ${ready}, the parent saw ${seen}`);
      }
      // What the child loaded on start is durable and it continues from there: that counts as acknowledged.
      for (const [index, revision] of ready.entries()) {
        acknowledged[index] = Math.max(acknowledged[index] ?? 0, revision);
      }
      // Kill in the middle of the save loop, not while the child is still starting (on a busy machine it may).
      await child.waitUntil(
        () => child.lines.length >= 2,
        15_000,
        (exit) => `${where}: the child acknowledged no save (exit ${JSON.stringify(exit)})`,
      );
      await sleep(5 + Math.floor(random() * 56));
      child.process.kill('SIGKILL');
      const exit = await child.exited;
      if (exit.signal !== 'SIGKILL') {
        problems.push(
          `${where}: child ended by itself (code ${exit.code}) instead of by SIGKILL; stderr: ${child.stderr()}`,
        );
      }
      kills += 1;
      const leftBehind = (taskId: string): boolean => {
        const generations = generationsOf(dir, taskId);
        return (generations[0] ?? 0) < (keptGenerations(generations.at(-1) ?? 0)[0] ?? 0);
      };
      if (taskIds.some(leftBehind)) cleanUpsInterrupted += 1;
      for (const line of child.lines.slice(1)) {
        const [index = -1, revision = -1] = numbersAfter(line, 'ack');
        const previous = acknowledged[index];
        if (previous === undefined || revision <= previous) {
          problems.push(
            `${where}: unexpected acknowledgement '${line}' after revision ${previous}`,
          );
        } else {
          acknowledged[index] = revision;
          acks += 1;
        }
      }
      const store = await FileTaskStore.open(dir);
      for (const [index, taskId] of taskIds.entries()) {
        const ack = acknowledged[index] ?? 0;
        try {
          const stored = await store.load(taskId);
          const revision = stored?.revision ?? 0;
          if (revision !== ack && revision !== ack + 1) {
            problems.push(
              `${where}: task '${taskId}' is at revision ${revision}, last acknowledged ${ack}`,
            );
          } else if (
            stored !== null &&
            JSON.stringify(stored.snapshot) !== JSON.stringify(crashSnapshotAt(taskId, revision))
          ) {
            problems.push(`${where}: task '${taskId}' revision ${revision} holds another snapshot`);
          }
          seen[index] = revision;
        } catch (error) {
          problems.push(`${where}: task '${taskId}' failed to load: ${describeError(error)}`);
        }
      }
      await store.close();
    }
    expect(problems).toEqual([]);
    expect({ seed: SEED, kills }).toEqual({ seed: SEED, kills: KILLS });
    // The children really wrote between kills, so the kills hit saves in flight.
    expect({ seed: SEED, enoughAcks: acks >= 2 * KILLS }).toEqual({ seed: SEED, enoughAcks: true });
    afterCampaign = seen;
  }, 60_000);

  it('should reopen after the kills with list() naming exactly the tasks and saves working', async () => {
    expect(afterCampaign).not.toBeNull(); // the kill campaign above ran and passed
    const revisions = [...(afterCampaign ?? [])];
    const store = await FileTaskStore.open(dir);
    expect(await store.list()).toEqual([...taskIds].sort());
    for (const [index, taskId] of taskIds.entries()) {
      const revision = revisions[index] ?? 0;
      expect({ taskId, revision: (await store.load(taskId))?.revision }).toEqual({
        taskId,
        revision,
      });
      // No lock, temporary file or half-made revision left by a kill stands in the way of the next saves,
      // up to the next generation that cleans up (every fourth does; here every change is a save).
      let saved = revision;
      do {
        await expect(
          store.save(taskId, crashSnapshotAt(taskId, saved + 1), { expectedRevision: saved }),
        ).resolves.toBe(saved + 1);
        saved += 1;
      } while (saved % COMPACT_EVERY !== 0);
      revisions[index] = saved;
    }
    expect(await store.list()).toEqual([...taskIds].sort());
    await store.flush();
    // The clean-ups the kills interrupted are finished by the next one: one generation per task is left.
    expect({ seed: SEED, interrupted: cleanUpsInterrupted > 0 }).toEqual({
      seed: SEED,
      interrupted: true,
    });
    for (const taskId of taskIds) {
      expect({ taskId, generations: generationsOf(dir, taskId) }).toEqual({
        taskId,
        generations: [revisions[taskIds.indexOf(taskId)]],
      });
    }
    await store.close();
  });
});

describe('FileTaskStore with two racing processes', () => {
  it('should refuse a slow save whose expectedRevision was overtaken by two newer saves', async () => {
    // Two stores on one directory in this process. The slow save writes 32 MB, so the fast store very likely
    // saves twice while it is still being written — after which the slow one must not win too.
    const dir = temp.make();
    const slowStore = await FileTaskStore.open(dir);
    const fastStore = await FileTaskStore.open(dir);
    expect(await slowStore.save('overtaken', { by: 'parent' }, { expectedRevision: null })).toBe(1);
    const slow = slowStore
      .save('overtaken', { by: 'slow', pad: 'y'.repeat(32 * 1024 * 1024) }, { expectedRevision: 1 })
      .then(
        (revision) => ({ revision }),
        (error: unknown) => ({ error: error instanceof Error ? error.name : String(error) }),
      );
    const fast: Array<number | string> = [];
    try {
      fast.push(await fastStore.save('overtaken', { by: 'fast' }, { expectedRevision: 1 }));
      fast.push(await fastStore.save('overtaken', { by: 'fast again' }, { expectedRevision: 2 }));
    } catch (error) {
      fast.push(error instanceof Error ? error.name : String(error));
    }
    const outcome = { slow: await slow, fast };
    // Both expected revision 1: at most one of the two first saves may win.
    const winners = ['revision' in outcome.slow ? 'slow' : null, fast[0] === 2 ? 'fast' : null];
    expect({ outcome, winners: winners.filter((winner) => winner !== null) }).toEqual({
      outcome,
      winners: [expect.any(String)],
    });
    const stored = await fastStore.load('overtaken');
    expect(stored?.revision).toBe('revision' in outcome.slow ? 2 : 3);
  }, 30_000);

  it('should lose no increment when two processes load and save the same task with expectedRevision', async () => {
    const INCREMENTS = 300;
    const dir = temp.make();
    const taskId = 'race/counter';
    const store = await FileTaskStore.open(dir);
    expect(
      await store.save(taskId, { counter: 0, writer: 'parent' }, { expectedRevision: null }),
    ).toBe(1);
    const writers = ['a', 'b'].map((writer) =>
      startFixture('raceIncrementer.mjs', [dir, taskId, writer, String(INCREMENTS)]),
    );
    for (const writer of writers) expect(await writer.nextLine()).toBe('ready');
    for (const writer of writers) writer.send('go'); // the start barrier: both are loaded and waiting
    const reports = await Promise.all(
      writers.map(async (writer) => {
        const line = await writer.nextLine(40_000);
        expect(line.startsWith('done ')).toBe(true);
        return JSON.parse(line.slice('done '.length)) as {
          writer: string;
          successes: number;
          conflicts: number;
          won: number[];
        };
      }),
    );
    const exits = await Promise.all(writers.map((writer) => writer.exited));
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    const successes = reports.reduce((sum, report) => sum + report.successes, 0);
    const stored = await store.load(taskId);
    expect(stored).toEqual({
      snapshot: { counter: successes, writer: expect.any(String) },
      revision: 1 + successes,
      lease: null,
    });
    // Every revision from 2 on was won by exactly one process.
    const won = reports.flatMap((report) => report.won).sort((x, y) => x - y);
    expect(won).toEqual(Array.from({ length: successes }, (_, i) => i + 2));
    // Contention really happened: each process lost at least one race.
    expect(reports.map((report) => report.conflicts > 0)).toEqual([true, true]);
    await store.close();
  }, 60_000);

  it('should let exactly one of two processes win each round saved with the same expectedRevision', async () => {
    const ROUNDS = 150;
    const random = mulberry32(SEED ^ 0x5eed);
    const dir = temp.make();
    const taskId = 'race/round';
    const store = await FileTaskStore.open(dir);
    expect(
      await store.save(taskId, { round: 0, writer: 'parent' }, { expectedRevision: null }),
    ).toBe(1);
    const names = ['a', 'b'];
    const writers = names.map((writer) => startFixture('roundSaver.mjs', [dir, taskId, writer]));
    for (const writer of writers) expect(await writer.nextLine()).toBe('ready');
    const wins = [0, 0];
    const problems: string[] = [];
    for (let round = 1; round <= ROUNDS && problems.length === 0; round += 1) {
      const where = `seed ${SEED}, round ${round}`;
      const expected = round; // created at 1, one winner per round
      const order = random() < 0.5 ? [0, 1] : [1, 0];
      for (const index of order) writers[index]?.send(`save ${round} ${expected}`);
      const answers = await Promise.all(writers.map((writer) => writer.nextLine()));
      const winners = answers.flatMap((answer, index) =>
        answer === `won ${round} ${expected + 1}` ? [index] : [],
      );
      const losers = answers.flatMap((answer, index) =>
        answer === `conflict ${round} ${expected} ${expected + 1}` ? [index] : [],
      );
      if (winners.length !== 1 || losers.length !== 1) {
        problems.push(
          `${where}: expected one winner and one ConflictError, got ${JSON.stringify(answers)}`,
        );
        break;
      }
      const winner = winners[0] ?? -1;
      wins[winner] = (wins[winner] ?? 0) + 1;
      const stored = await store.load(taskId);
      const want = {
        snapshot: { round, writer: names[winner] },
        revision: expected + 1,
        lease: null,
      };
      if (JSON.stringify(stored) !== JSON.stringify(want)) {
        problems.push(
          `${where}: stored ${JSON.stringify(stored)}, expected ${JSON.stringify(want)}`,
        );
      }
    }
    for (const writer of writers) writer.send('quit');
    await Promise.all(writers.map((writer) => writer.exited));
    expect(problems).toEqual([]);
    expect({ seed: SEED, totalWins: (wins[0] ?? 0) + (wins[1] ?? 0) }).toEqual({
      seed: SEED,
      totalWins: ROUNDS,
    });
    // Both processes won some rounds, so the rounds were real races rather than one always arriving first.
    expect({ seed: SEED, bothWon: wins.every((count) => count > 0) }).toEqual({
      seed: SEED,
      bothWon: true,
    });
    expect((await store.load(taskId))?.revision).toBe(ROUNDS + 1);
    await store.close();
  }, 60_000);
});
