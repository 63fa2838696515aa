import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readStoredTasks } from '../src/graph/storedTasks.js';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import { killRunning, watchProcess } from './support/childProcess.js';
import { makeTempDir } from './support/tempDir.js';

jest.setTimeout(60_000);
afterEach(killRunning);

const root = resolve(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const TITLE = 'Many workers on one run';

/** The first ```js block under `## Many workers on one run`. */
function example(): string {
  const match = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf(`## ${TITLE}`)));
  if (match?.[1] === undefined) throw new Error(`README has no \`\`\`js block under "## ${TITLE}"`);
  return match[1];
}

describe(`README "${TITLE}"`, () => {
  it('should run as written in three processes at once, sharing the run', async () => {
    const dir = makeTempDir('readme-shared-');
    const distIndex = join(root, 'dist', 'index.js');
    writeFileSync(
      join(dir, 'worker.mjs'),
      example().replace("from 'task-runtime'", `from ${JSON.stringify(distIndex)}`),
    );
    const workers = Array.from({ length: 3 }, () =>
      watchProcess(spawn(process.execPath, ['worker.mjs'], { cwd: dir })),
    );
    const exits = await Promise.all(
      workers.map(async (worker) => {
        const { code } = await worker.exited;
        return [code, worker.stdout(), worker.stderr()];
      }),
    );
    expect(exits).toEqual(workers.map(() => [0, 'succeeded\n', '']));

    const store = await FileTaskStore.open(join(dir, '.task-runtime-shared'));
    try {
      const tasks = (await readStoredTasks(store)).flatMap((entry) =>
        entry.kind === 'task' ? [entry.persisted] : [],
      );
      expect(tasks).toHaveLength(30);
      // Every task merged in one attempt: none was worked twice.
      expect(tasks.filter((task) => task.status !== 'pr_merged')).toEqual([]);
      expect(tasks.filter((task) => task.context.attempts.length !== 1)).toEqual([]);
      const pids = new Set(workers.map((worker) => `worker-${worker.process.pid}`));
      const named = new Set(tasks.map((task) => task.context.attempts[0]?.workerId));
      expect([...named].filter((workerId) => !pids.has(workerId ?? ''))).toEqual([]);
      expect(named.size).toBeGreaterThan(1);
    } finally {
      await store.close();
    }
  });
});
