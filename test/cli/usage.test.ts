import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { killAll, removeTempDirs, runCli } from './cliHarness.js';

jest.setTimeout(30_000);

afterEach(killAll);
afterAll(removeTempDirs);

const { version } = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'),
) as {
  version: string;
};

const COMMANDS = ['demo', 'status', 'history', 'graph', 'diagram', 'validate'] as const;

describe('task-runtime usage', () => {
  it('should print the version from package.json with --version', async () => {
    const result = await runCli(['--version']);
    expect([result.code, result.stdout.trim()]).toEqual([0, version]);
  });

  it('should list every command and the exit codes in the top-level --help', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: task-runtime /);
    for (const command of COMMANDS)
      expect(result.stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    expect(result.stdout).toMatch(/Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 +usage error/);
  });

  it.each(COMMANDS)(
    'should print the help of %s with --help and with help <command>',
    async (command) => {
      const [flag, word] = await Promise.all([
        runCli([command, '--help']),
        runCli(['help', command]),
      ]);
      expect([flag.code, flag.stderr]).toEqual([0, '']);
      expect(flag.stdout).toMatch(new RegExp(`^Usage: task-runtime ${command} `));
      expect(flag.stdout).toContain('Exit codes:');
      expect([word.code, word.stdout]).toEqual([0, flag.stdout]);
    },
  );

  it.each([
    [
      ['demo', '--tasks', '0'],
      "option '-n, --tasks <n>' argument '0' is invalid. Expected an integer from 1 to 500.",
    ],
    [['demo', '--tasks', '3.5'], "option '-n, --tasks <n>' argument '3.5' is invalid."],
    [
      ['demo', '--seed', 'abc'],
      "option '-s, --seed <seed>' argument 'abc' is invalid. Expected an integer",
    ],
    [
      ['demo', '--fail-rate', '1.5'],
      "option '--fail-rate <rate>' argument '1.5' is invalid. Expected a number from 0 to 1",
    ],
    [
      ['demo', '--max-attempts', '-1'],
      "option '--max-attempts <k>' argument '-1' is invalid. Expected an integer from 1 to 20.",
    ],
    [['demo', '--workers', ''], "option '--workers <n>' argument '' is invalid."],
    [
      ['demo', '--delay-ms', 'fast'],
      "option '--delay-ms <ms>' argument 'fast' is invalid. Expected an integer from 0 to 60000.",
    ],
    [['demo', '--bogus'], "unknown option '--bogus'"],
    [['status', '--dir'], "option '-d, --dir <path>' argument missing"],
    [['history'], "missing required argument 'taskId'"],
    [['history', 'a', 'b'], 'too many arguments'],
    [['launch'], "unknown command 'launch'"],
    [
      ['graph', '--pg-table', 'Bad-Name'],
      "option '--pg-table <name>' argument 'Bad-Name' is invalid. Expected a lower-case SQL identifier",
    ],
    [
      ['history', 'spec', '--pg-table', 'x; drop table y'],
      "option '--pg-table <name>' argument 'x; drop table y' is invalid. Expected a lower-case SQL identifier",
    ],
    [
      ['status', '--dir', 'store', '--pg', 'postgresql://me@127.0.0.1/tasks'],
      "option '-d, --dir <path>' cannot be used with option '--pg <url>'",
    ],
  ])('should exit 2 and say what is wrong for %j', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`error: ${message}`);
    expect(result.stderr).toContain('--help');
  });

  it('should exit 2 and show the help on stderr when no command is given', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Usage: task-runtime /);
  });
});
