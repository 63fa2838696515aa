import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir, removeDir } from '../support/tempDir.js';

/*
 * Runs `npm run bench` (which builds bench/ first) in quick mode as a child process and checks the shape of what
 * it prints and writes. The numbers themselves are never asserted: they belong to the machine, not to the code.
 */

const root = resolve(__dirname, '..', '..');

/** The start of every row name the benchmark must report. */
const EXPECTED_ROWS = [
  'accepted command: addConcern',
  'accepted command: lifecycle pending → pr_merged',
  'refused command',
  'legality check',
  'state read',
  'create',
  'persist/restore',
  'memory: heap per live runtime',
  'snapshot size',
  'reference: facade vs hand-written reducer',
  'file store: save',
  'file store: load',
  'file store: save vs the fsync floor',
  'file store: list() of',
  'file store: listExpired() of',
  'file store: save after',
  'file store: load after',
  'file store: files per task after',
  'graph command:',
  'graph ready()',
  'graph open:',
  'dashboard: overview',
  'worker: run on TaskGraphRuntime',
  'worker: run on DurableTaskGraphRuntime',
  'worker: heap per in-flight attempt',
  ...(process.env.TASK_RUNTIME_PG_URL
    ? [
        'PostgreSQL store: save, 1 worker',
        'PostgreSQL store: save, 8',
        'PostgreSQL store: save vs one UPDATE, 1 worker',
        'PostgreSQL store: save vs one UPDATE, 8 workers',
      ]
    : []),
];

interface Row {
  readonly name: unknown;
  readonly measured: unknown;
  readonly baseline: unknown;
  readonly ratio: unknown;
  readonly target: unknown;
  readonly pass: unknown;
}

const isFigure = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { what?: unknown }).what === 'string' &&
  typeof (value as { value?: unknown }).value === 'number' &&
  typeof (value as { unit?: unknown }).unit === 'string';

describe('npm run bench (BENCH_QUICK=1)', () => {
  let dir: string;
  let stdout: string;
  let rows: readonly Row[];

  beforeAll(() => {
    dir = makeTempDir('task-runtime-bench-test-');
    const resultsFile = join(dir, 'results.json');
    stdout = execFileSync('npm', ['run', '--silent', 'bench'], {
      cwd: root,
      env: { ...process.env, BENCH_QUICK: '1', BENCH_RESULTS: resultsFile },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 170_000,
    });
    const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as { rows?: unknown };
    rows = Array.isArray(results.rows) ? (results.rows as Row[]) : [];
  }, 180_000);

  afterAll(() => {
    removeDir(dir);
  });

  it('should write a results file with every row', () => {
    const names = rows.map((row) => String(row.name));
    for (const expected of EXPECTED_ROWS) {
      expect(names.filter((name) => name.startsWith(expected)).length).toBeGreaterThan(0);
    }
  });

  it('should give every row a name, measured and baseline figures, a ratio, a target and a pass flag', () => {
    expect(rows.length).toBeGreaterThanOrEqual(EXPECTED_ROWS.length);
    for (const row of rows) {
      expect(typeof row.name).toBe('string');
      expect(isFigure(row.measured)).toBe(true);
      expect(row.baseline === null || isFigure(row.baseline)).toBe(true);
      expect(row.ratio === null || typeof row.ratio === 'number').toBe(true);
      expect(typeof row.target).toBe('string');
      expect(row.pass === null || typeof row.pass === 'boolean').toBe(true);
    }
  });

  it('should give a pass flag to every row with a target and none to reported rows', () => {
    for (const row of rows) {
      expect(row.pass === null).toBe(row.target === 'reported');
    }
  });

  it('should print one table with a line per row', () => {
    const tableLines = stdout.split('\n').filter((line) => line.startsWith('|'));
    expect(tableLines[0]).toMatch(
      /\| row .*\| measured .*\| baseline .*\| ratio .*\| target .*\| result/,
    );
    expect(tableLines).toHaveLength(rows.length + 2);
    for (const row of rows) expect(stdout).toContain(String(row.name));
    expect(stdout.match(/\| row /g)).toHaveLength(1);
  });
});

describe('npm run bench with BENCH_ONLY', () => {
  /** Runs the quick benchmark with `only` as BENCH_ONLY; its exit status, output and results file. */
  function runOnly(only: string): { status: number; stdout: string; rows: readonly Row[] } {
    const dir = makeTempDir('task-runtime-bench-only-');
    try {
      const resultsFile = join(dir, 'results.json');
      const result = spawnSync('npm', ['run', '--silent', 'bench'], {
        cwd: root,
        env: { ...process.env, BENCH_QUICK: '1', BENCH_ONLY: only, BENCH_RESULTS: resultsFile },
        encoding: 'utf8',
        timeout: 170_000,
      });
      const rows = existsSync(resultsFile)
        ? ((JSON.parse(readFileSync(resultsFile, 'utf8')) as { rows: Row[] }).rows ?? [])
        : [];
      return { status: result.status ?? -1, stdout: `${result.stdout}${result.stderr}`, rows };
    } finally {
      removeDir(dir);
    }
  }

  it('should run only the groups named', () => {
    const { status, rows } = runOnly('size,create');
    expect(status).toBe(0);
    expect(rows.map((row) => String(row.name).split(' (')[0])).toEqual(['create', 'snapshot size']);
  }, 180_000);

  it('should refuse a group it does not know, naming the ones it has, and write no results', () => {
    const { status, stdout, rows } = runOnly('store,nope');
    expect(status).not.toBe(0);
    expect(stdout).toContain('BENCH_ONLY names groups command, lifecycle');
    expect(stdout).toContain('got nope');
    expect(rows).toEqual([]);
  }, 180_000);
});
