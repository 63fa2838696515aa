import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import { AgentRole } from '../../src/task/enums.js';
import {
  describeWithPostgres,
  type FreshTable,
  freshTable,
  queryRows,
  requirePostgresUrl,
  tableExists,
} from '../store/postgres.js';
import { killAll, removeTempDirs, runCli, storeDir } from './cliHarness.js';
import { saveBlockedRun } from './storeFixtures.js';

/*
 * `graph`, `history` and the `--pg-table` check of every command, on a real PostgreSQL server
 * (`.ci/with-postgres npx jest test/cli/postgresCommands.test.ts`).
 */

jest.setTimeout(30_000);

afterEach(killAll);
afterAll(removeTempDirs);

/** What `graph --format json` prints. */
interface GraphJson {
  readonly nodes: { id: string; status: string; blockedBy: string | null }[];
  readonly edges: { from: string; to: string }[];
}

/** A connection string of the test server with a password, the password, and the string as the CLI shows it. */
interface SecretUrl {
  readonly url: string;
  readonly password: string;
  readonly shown: string;
}

/**
 * The test server's connection string with a password that no output may show: its own, or else one added
 * (a server that trusts the connection, as `.ci/with-postgres`'s does, ignores it).
 */
function withPassword(url: string): SecretUrl {
  const secret = new URL(url);
  if (secret.password === '') secret.password = 'hunter2-secret';
  const shown = new URL(secret.href);
  shown.password = '***';
  return { url: secret.href, password: secret.password, shown: shown.href };
}

/** Makes `id`'s stored snapshot unreadable, as a row edited by hand would be. */
async function breakRow(table: string, id: string): Promise<void> {
  await queryRows(`UPDATE "${table}" SET snapshot_json = '{"broken' WHERE task_id = $1`, [
    Buffer.from(id, 'utf8'),
  ]);
}

describeWithPostgres('task-runtime graph --pg and history --pg', () => {
  let url = '';
  let table: FreshTable;
  let store: PostgresTaskStore;

  beforeAll(async () => {
    url = requirePostgresUrl();
    table = freshTable();
    store = await PostgresTaskStore.connect({ connectionString: url, table: table.name });
    await saveBlockedRun(store);
    // A task with a ledger of two attempts: one failed and retried, then one merged.
    const retried = await DurableTaskRuntime.create(store, {
      id: 'retried',
      role: AgentRole.IMPLEMENTER,
      description: 'Implement the retried feature',
      dependencies: ['spec'],
    });
    await retried.markRunning();
    await retried.markFailed('tests failed: 3 of 41');
    await retried.resetForRetry();
    await retried.prepareForAttempt(1);
    await retried.markRunning();
    await retried.markPrCreated('https://example.test/pr/7');
    await retried.markPrMerged();
  });

  afterAll(async () => {
    await store?.close();
    await table?.drop();
  });

  it("should draw the graph of a PostgreSQL table's tasks as JSON: statuses, who blocked whom, missing dependencies, edges", async () => {
    const result = await runCli(['graph', '--pg', url, '--pg-table', table.name, '-f', 'json']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const graph = JSON.parse(result.stdout) as GraphJson;
    expect(graph.nodes.map(({ id, status, blockedBy }) => [id, status, blockedBy])).toEqual([
      ['ghost', 'missing', null],
      ['spec', 'pr_merged', null],
      ['api', 'failed', null],
      ['docs', 'failed', null],
      ['retried', 'pr_merged', null],
      ['ui', 'running', null],
      ['app', 'failed', 'api'],
    ]);
    expect(graph.edges).toEqual([
      { from: 'spec', to: 'api' },
      { from: 'spec', to: 'docs' },
      { from: 'spec', to: 'retried' },
      { from: 'spec', to: 'ui' },
      { from: 'ghost', to: 'ui' },
      { from: 'ui', to: 'app' },
      { from: 'api', to: 'app' },
    ]);
  });

  it('should draw the same graph as a Mermaid flowchart by default, the blocked task in the blocked class', async () => {
    const result = await runCli(['graph', '--pg', url, '--pg-table', table.name]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('flowchart LR');
    expect(lines).toContain('  app["app<br>failed · implementer<br>blocked by api"]');
    expect(lines).toContain('  retried["retried<br>pr_merged · implementer"]');
    expect(lines).toContain('  ghost["ghost<br>missing"]');
    expect(lines).toContain('  api --> app');
    expect(lines).toContain('  class app blocked');
    expect(lines).toContain('  class ghost missing');
  });

  it("should show a PostgreSQL task's attempt ledger as a timeline, with its concerns", async () => {
    const ledger = TaskRuntime.restore((await store.load('retried'))?.snapshot);
    expect(ledger.attempts).toHaveLength(2);
    const result = await runCli(['history', 'retried', '--pg', url, '--pg-table', table.name]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'retried (implementer): pr_merged, attempt 1',
      '  Implement the retried feature',
      '  depends on: spec',
    ]);
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}attempt\s+started\s+ended\s+duration\s+outcome\s+error\s+PR$/),
    );
    const [first, second] = ledger.attempts;
    const rowOf = (attempt: number) => lines.find((line) => line.startsWith(`  ${attempt} `));
    expect(rowOf(0)).toMatch(/^ {2}0\s+\S+ \S+\s+\S+ \S+\s+\S+\s+failed\s+tests failed: 3 of 41$/);
    expect(rowOf(0)).toContain((first?.startedAt ?? '').replace('T', ' ').slice(0, 19));
    expect(rowOf(1)).toMatch(
      /^ {2}1\s+\S+ \S+\s+\S+ \S+\s+\S+\s+pr_merged\s+https:\/\/example\.test\/pr\/7$/,
    );
    expect(rowOf(1)).toContain((second?.startedAt ?? '').replace('T', ' ').slice(0, 19));
    const concerns = lines
      .slice(lines.indexOf('Concerns') + 1)
      .filter((line) => line.startsWith('  - '));
    expect(concerns).toEqual(['  - attempt_0_error: tests failed: 3 of 41']);
    expect(ledger.artifacts.concerns).toEqual(['attempt_0_error: tests failed: 3 of 41']);
  });

  it('should show a blocked PostgreSQL task with one attempt that never started', async () => {
    const result = await runCli(['history', 'app', '--pg', url, '--pg-table', table.name]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(
      /^ {2}0\s+—\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+—\s+failed \(final\)\s+Blocked by orchestration rules: dependency 'api'/m,
    );
  });

  it('should exit 1 for a task not in the table, naming close ids and how to list them, the password hidden', async () => {
    const secret = withPassword(url);
    const result = await runCli(['history', 'retr', '--pg', secret.url, '--pg-table', table.name]);
    expect([result.code, result.stdout]).toEqual([1, '']);
    expect(result.stderr).toContain(`No task 'retr' in ${secret.shown} (table ${table.name}).`);
    expect(result.stderr).toContain("Did you mean 'retried'?");
    expect(result.stderr).toContain(
      `See the stored ids with \`task-runtime status --pg '${secret.shown}' --pg-table ${table.name}\`.`,
    );
    expect(result.stderr).not.toContain(secret.password);
  });
});

describeWithPostgres('task-runtime history --pg after a demo on PostgreSQL', () => {
  const table = freshTable();

  afterAll(() => table.drop());

  it('should show the ledger of a task the demo ran, with the command line the demo suggests', async () => {
    const demo = await runCli([
      ...['demo', '--delay-ms', '0', '--tasks', '3', '--fail-rate', '0'],
      ...['--pg', requirePostgresUrl(), '--pg-table', table.name],
    ]);
    expect(demo.code).toBe(0);
    const suggested = /· task-runtime (history <task-id> .*)$/m.exec(demo.stdout)?.[1];
    if (suggested === undefined) throw new Error(`no history suggested in:\n${demo.stdout}`);
    const args = suggested
      .replace('<task-id>', 'spec-login')
      .split(' ')
      .map((word) => word.replace(/^'(.*)'$/, '$1'));
    // The suggestion hides a password: the connection string shown is the one given, less its password.
    const shown = new URL(requirePostgresUrl());
    if (shown.password !== '') shown.password = '***';
    expect(args).toEqual(['history', 'spec-login', '--pg', shown.href, '--pg-table', table.name]);
    const result = await runCli(args.with(3, requirePostgresUrl()));
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(/^spec-login \(spec_writer\): pr_merged, attempt 0$/m);
    expect(result.stdout).toMatch(/^ {2}0\s+.*\s+pr_merged\s+https:\/\/\S+$/m);
  });
});

describeWithPostgres('task-runtime graph --pg and history --pg on a damaged or empty table', () => {
  const tables: FreshTable[] = [];

  afterAll(async () => {
    for (const each of tables) await each.drop();
  });

  /** A new table holding `saveBlockedRun`'s tasks, or none when `empty`. */
  async function newTable(empty = false): Promise<string> {
    const made = freshTable();
    tables.push(made);
    const store = await PostgresTaskStore.connect({
      connectionString: requirePostgresUrl(),
      table: made.name,
    });
    try {
      if (!empty) await saveBlockedRun(store);
    } finally {
      await store.close();
    }
    return made.name;
  }

  it('should print an empty graph for an empty table and say it is empty, without suggesting demo, the password hidden', async () => {
    const name = await newTable(true);
    const secret = withPassword(requirePostgresUrl());
    const result = await runCli(['graph', '--pg', secret.url, '--pg-table', name, '-f', 'json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ nodes: [], edges: [] });
    expect(result.stderr).toBe(`The task store ${secret.shown} (table ${name}) is empty.\n`);
  });

  it('should fail with exit code 1 on a table that does not exist, and not create it', async () => {
    const missing = freshTable();
    tables.push(missing);
    const [graph, history] = await Promise.all([
      runCli(['graph', '--pg', requirePostgresUrl(), '--pg-table', missing.name]),
      runCli(['history', 'spec', '--pg', requirePostgresUrl(), '--pg-table', missing.name]),
    ]);
    for (const result of [graph, history]) {
      expect([result.code, result.stdout]).toEqual([1, '']);
      expect(result.stderr).toContain(`(table ${missing.name})`);
      expect(result.stderr).toContain(`"${missing.name}" does not exist`);
    }
    expect(await tableExists(missing.name)).toBe(false);
  });

  it("should draw a task whose row cannot be read as corrupt, exit 1, and give a PostgreSQL store's advice", async () => {
    const name = await newTable();
    await breakRow(name, 'docs');
    const url = requirePostgresUrl();
    const [graph, history] = await Promise.all([
      runCli(['graph', '--pg', url, '--pg-table', name, '-f', 'json']),
      runCli(['history', 'docs', '--pg', url, '--pg-table', name]),
    ]);
    expect(graph.code).toBe(1);
    const nodes = (JSON.parse(graph.stdout) as GraphJson).nodes;
    expect(nodes.find((node) => node.id === 'docs')?.status).toBe('corrupt');
    expect(nodes).toHaveLength(6);
    expect(graph.stderr).toContain('1 stored task(s) cannot be read: docs.');
    expect([history.code, history.stdout]).toEqual([1, '']);
    expect(history.stderr).toContain('Its history cannot be shown.');
    for (const { stderr } of [graph, history]) {
      expect(stderr).toContain("keeps only a task's newest snapshot");
      expect(stderr).not.toContain('tasks/<task>/g/');
    }
  });

  it('should refuse --pg together with --dir as conflicting options (exit code 2)', async () => {
    const url = requirePostgresUrl();
    const name = await newTable();
    const [graph, history] = await Promise.all([
      runCli(['graph', '--dir', storeDir(), '--pg', url, '--pg-table', name]),
      runCli(['history', 'spec', '--pg', url, '--dir', storeDir(), '--pg-table', name]),
    ]);
    for (const result of [graph, history]) {
      expect([result.code, result.stdout]).toEqual([2, '']);
      expect(result.stderr).toMatch(
        /error: option '(-d, --dir <path>|--pg <url>)' cannot be used with option '(--pg <url>|-d, --dir <path>)'/,
      );
    }
  });
});

/** A tag that makes this run's bad table names its own, so that a table made of them would be this run's. */
const TAG = randomBytes(4).toString('hex');

/** Malformed --pg-table values: upper case and a dash, a leading digit, empty, 64 characters, SQL. */
const BAD_TABLES = [
  `Bad-Name_${TAG}`,
  `1abc_${TAG}`,
  '',
  `t_${TAG}_`.padEnd(64, 'x'),
  `x_${TAG}; drop table y`,
] as const;

/** Each command that takes --pg-table, with what it needs besides the store. */
const COMMANDS: readonly (readonly string[])[] = [
  ['status'],
  ['graph'],
  ['history', 'spec'],
  ['serve', '--port', '0'],
  ['reopen', 'api', '--reason', 'fixed'],
  ['demo', '--delay-ms', '0'],
];

describeWithPostgres('task-runtime --pg-table', () => {
  it.each(COMMANDS)(
    'should refuse a malformed table name as a usage error (exit code 2) for %s, creating nothing',
    async (...args) => {
      const url = requirePostgresUrl();
      const results = await Promise.all(
        BAD_TABLES.map((name) => runCli([...args, '--pg', url, '--pg-table', name])),
      );
      for (const [index, result] of results.entries()) {
        expect([result.code, result.stdout]).toEqual([2, '']);
        expect(result.stderr).toContain(
          `error: option '--pg-table <name>' argument '${BAD_TABLES[index]}' is invalid. ` +
            'Expected a lower-case SQL identifier',
        );
        expect(result.stderr).toContain(`(see \`task-runtime ${args[0]} --help\`)`);
      }
      const found = await queryRows<{ name: string }>(
        'SELECT relname AS name FROM pg_class WHERE position($1 in relname) > 0',
        [TAG],
      );
      expect(found).toEqual([]);
    },
  );
});

describe('task-runtime --pg-table without --pg', () => {
  it.each(COMMANDS)(
    'should be a usage error (exit code 2) for %s that names both options, leaving the directory untouched',
    async (...args) => {
      const dir = storeDir();
      const result = await runCli([...args, '--dir', dir, '--pg-table', `t_${TAG}`]);
      expect([result.code, result.stdout]).toEqual([2, '']);
      expect(result.stderr).toContain(
        "error: option '--pg-table <name>' names a table of a PostgresTaskStore: expected --pg <url> with it, given no --pg",
      );
      expect(result.stderr).toContain(`(see \`task-runtime ${args[0]} --help\`)`);
      expect(existsSync(dir)).toBe(false);
    },
  );
});
