import { execFileSync } from 'node:child_process';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { AgentRole } from '../../src/task/enums.js';
import {
  type CliEnv,
  killAll,
  MAIN,
  removeTempDirs,
  runCli,
  startCli,
  storeDir,
} from './cliHarness.js';

jest.setTimeout(30_000);

afterEach(killAll);
afterAll(removeTempDirs);

const ESCAPE = '\u001b[';
const RED_FAILED = `${ESCAPE}31mfailed`;

describe('task-runtime on a closed pipe', () => {
  it('should print the first line and no stack trace in `task-runtime --help | head -1`', () => {
    const output = execFileSync(
      'sh',
      ['-c', '"$0" "$1" --help 2>&1 | head -1', process.execPath, MAIN],
      {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    expect(output).toBe('Usage: task-runtime [options] [command]\n');
  });

  it.each([['--help'], ['diagram', '--format', 'json']])(
    'should exit quietly with code 0 when nobody reads what `%s` prints',
    async (...args) => {
      const cli = startCli(args);
      cli.child.stdout.destroy(); // the reader is gone before the command writes a byte: every write fails with EPIPE
      const result = await cli.done;
      expect([result.code, result.signal, result.stderr]).toEqual([0, null, '']);
    },
  );
});

describe('task-runtime colours', () => {
  let dir = '';

  beforeAll(async () => {
    dir = storeDir();
    const store = await FileTaskStore.open(dir);
    const task = await DurableTaskRuntime.create(store, {
      id: 'login',
      role: AgentRole.IMPLEMENTER,
    });
    await task.markRunning();
    await task.markFailed('tests failed');
    await store.close();
  });

  it.each<[string, CliEnv, boolean]>([
    ['nothing set (stdout is a pipe)', { NO_COLOR: undefined }, false],
    ['CI=true on a pipe', { NO_COLOR: undefined, CI: 'true' }, false],
    ['NO_COLOR=1', { NO_COLOR: '1' }, false],
    ['FORCE_COLOR=1', { NO_COLOR: undefined, FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR=0', { NO_COLOR: undefined, FORCE_COLOR: '0' }, false],
    ['FORCE_COLOR=1 and NO_COLOR=1 (FORCE_COLOR wins, as in Node)', { FORCE_COLOR: '1' }, true],
  ])('should colour `status` with %s: %s', async (_label, env, coloured) => {
    const result = await runCli(['status', '--dir', dir], env);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('error'); // with both set, Node itself warns that NO_COLOR is ignored
    expect(result.stdout).toContain('failed');
    expect(result.stdout.includes(RED_FAILED)).toBe(coloured);
    expect(result.stdout.includes(ESCAPE)).toBe(coloured);
  });

  it('should colour an error on stderr only when asked to', async () => {
    const missing = storeDir();
    const plain = await runCli(['status', '--dir', missing]);
    const forced = await runCli(['status', '--dir', missing], { FORCE_COLOR: '1' });
    expect([plain.code, forced.code]).toEqual([1, 1]);
    expect(plain.stderr).toMatch(/^error: /);
    expect(forced.stderr.startsWith(`${ESCAPE}31merror: `)).toBe(true);
  });
});
