import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import { killRunning, watchProcess } from './support/childProcess.js';
import { makeTempDir } from './support/tempDir.js';

jest.setTimeout(60_000);
afterEach(killRunning);

const root = resolve(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const TITLE = 'Let the package run it';

/** The first ```js block under `## Let the package run it`. */
function example(): string {
  const match = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf(`## ${TITLE}`)));
  if (match?.[1] === undefined) throw new Error(`README has no \`\`\`js block under "## ${TITLE}"`);
  return match[1];
}

/**
 * The agent the example spawns: logs its start and end (with its orchestrator's pid) to agents.log, works 150 ms,
 * fails the first attempt at `api`, and prints the PR URL last.
 */
const AGENT = `
import { appendFileSync } from 'node:fs';
const [step, task, attempt] = process.argv.slice(2);
const orchestrator = process.ppid;
const log = (what) => appendFileSync('agents.log', \`\${Date.now()} \${orchestrator} \${what} \${step} \${task} \${attempt}\\n\`);
log('start');
await new Promise((resolve) => setTimeout(resolve, 150));
log('end');
if (step === 'work' && task === 'api' && attempt === '0') {
  console.error('tests failed');
  process.exit(1);
}
console.log(\`agent \${step} on \${task} done\`);
console.log(\`https://github.com/acme/app/pull/\${task}-\${attempt}\`);
`;

interface AgentLine {
  readonly at: number;
  readonly orchestrator: string;
  readonly what: 'start' | 'end';
  readonly step: 'work' | 'merge';
  readonly task: string;
  readonly attempt: number;
}

function agentLog(dir: string): AgentLine[] {
  const file = join(dir, 'agents.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [at, orchestrator, what, step, task, attempt] = line.split(' ');
      return {
        at: Number(at),
        orchestrator: orchestrator ?? '',
        what: what as AgentLine['what'],
        step: step as AgentLine['step'],
        task: task ?? '',
        attempt: Number(attempt),
      };
    });
}

/** Runs the orchestrator in `dir` until `until(log)` holds, then SIGKILLs it; or to its end without `until`. */
async function orchestrate(
  dir: string,
  until?: (log: AgentLine[]) => boolean,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = watchProcess(spawn(process.execPath, ['orchestrator.mjs'], { cwd: dir }));
  if (until !== undefined) {
    for (let waited = 0; !until(agentLog(dir)); waited += 10) {
      if (waited > 30_000)
        throw new Error(`the moment to kill never came; log:\n${JSON.stringify(agentLog(dir))}`);
      await sleep(10);
    }
    child.process.kill('SIGKILL');
  }
  const exit = await child.exited;
  return { code: exit.code, stdout: child.stdout(), stderr: child.stderr() };
}

/** The most agents of one orchestrator process alive at the same time. */
function mostAtOnce(log: readonly AgentLine[]): number {
  let most = 0;
  for (const orchestrator of new Set(log.map((line) => line.orchestrator))) {
    let alive = 0;
    for (const line of log.filter((entry) => entry.orchestrator === orchestrator)) {
      alive += line.what === 'start' ? 1 : -1;
      most = Math.max(most, alive);
    }
  }
  return most;
}

describe(`README "${TITLE}"`, () => {
  it('should be a complete orchestrator under 40 lines', () => {
    expect(example().trimEnd().split('\n').length).toBeLessThan(40);
  });

  it('should run as written with real agents: concurrency, retries, and a restart after each SIGKILL', async () => {
    const dir = makeTempDir('readme-worker-');
    const distIndex = join(root, 'dist', 'index.js');
    writeFileSync(
      join(dir, 'orchestrator.mjs'),
      example().replace("from 'task-runtime'", `from ${JSON.stringify(distIndex)}`),
    );
    writeFileSync(join(dir, 'agent.mjs'), AGENT);
    const starts = (log: AgentLine[], step: string, task: string, attempt: number) =>
      log.filter(
        (l) => l.what === 'start' && l.step === step && l.task === task && l.attempt === attempt,
      );

    // Killed while spec's PR waits for its merge, then while api's retry works.
    const first = await orchestrate(dir, (log) => starts(log, 'merge', 'spec', 0).length > 0);
    expect(first.code).toBeNull();
    const second = await orchestrate(dir, (log) => starts(log, 'work', 'api', 1).length > 0);
    expect(second.code).toBeNull();
    const last = await orchestrate(dir);
    expect([last.code, last.stdout, last.stderr]).toEqual([0, 'succeeded\n', '']);

    await sleep(300); // the killed runs' agents finish on their own
    const log = agentLog(dir);
    const works = log.filter((l) => l.what === 'start' && l.step === 'work');
    const workedPairs = works.map((l) => `${l.task}#${l.attempt}`);
    expect(workedPairs.length).toBe(new Set(workedPairs).size); // no attempt number used twice
    expect(starts(log, 'merge', 'spec', 0)).toHaveLength(2); // found pr_created: merged again …
    expect(starts(log, 'work', 'spec', 0)).toHaveLength(1); // … without doing its work again
    for (const task of ['spec', 'api', 'ui', 'app']) {
      const firstMerge = log.findIndex((l) => l.step === 'merge' && l.task === task);
      expect([
        task,
        log.findLastIndex((l) => l.step === 'work' && l.task === task) < firstMerge,
      ]).toEqual([task, true]);
    }
    expect(mostAtOnce(log)).toBeLessThanOrEqual(2);
    expect(mostAtOnce(log)).toBe(2); // spec merged, api and ui worked side by side

    const store = await FileTaskStore.open(join(dir, '.task-runtime'));
    try {
      const ledgers = new Map<string, TaskRuntime>();
      for (const id of await store.list()) {
        const stored = await store.load(id);
        ledgers.set(id, TaskRuntime.restore(stored?.snapshot));
      }
      expect([...ledgers.values()].map((task) => task.status)).toEqual(Array(4).fill('pr_merged'));
      const api = ledgers.get('api')?.attempts.map(({ attemptNum, outcome, error }) => ({
        attemptNum,
        outcome,
        error: error?.split(':')[0] ?? null,
      }));
      expect(api).toEqual([
        { attemptNum: 0, outcome: 'failed', error: 'agent exit 1' },
        { attemptNum: 1, outcome: 'lost', error: 'worker lost' },
        { attemptNum: 2, outcome: 'pr_merged', error: null },
      ]);
    } finally {
      await store.close();
    }
  });
});
