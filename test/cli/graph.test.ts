import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { svgNodes, textLines } from '../diagram/svgRead.js';
import { killAll, removeTempDirs, runCli, storeDir, tempDir } from './cliHarness.js';
import { corrupt, storeBlockedRun } from './storeFixtures.js';

jest.setTimeout(30_000);

afterEach(killAll);
afterAll(removeTempDirs);

/** What `graph --format json` prints. */
interface GraphJson {
  readonly nodes: {
    id: string;
    role: string;
    status: string;
    blockedBy: string | null;
    dependencies: string[];
  }[];
  readonly edges: { from: string; to: string }[];
}

describe('task-runtime graph', () => {
  let dir = '';

  beforeAll(async () => {
    dir = storeDir();
    await storeBlockedRun(dir);
  });

  it('should print the stored graph as JSON: statuses, who blocked whom, missing dependencies, edges', async () => {
    const result = await runCli(['graph', '--dir', dir, '--format', 'json']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const graph = JSON.parse(result.stdout) as GraphJson;
    expect(graph.nodes.map(({ id, status, blockedBy }) => [id, status, blockedBy])).toEqual([
      ['ghost', 'missing', null],
      ['spec', 'pr_merged', null],
      ['api', 'failed', null],
      ['docs', 'failed', null],
      ['ui', 'running', null],
      ['app', 'failed', 'api'],
    ]);
    expect(graph.edges).toEqual([
      { from: 'spec', to: 'api' },
      { from: 'spec', to: 'docs' },
      { from: 'spec', to: 'ui' },
      { from: 'ghost', to: 'ui' },
      { from: 'ui', to: 'app' },
      { from: 'api', to: 'app' },
    ]);
  });

  it('should print a Mermaid flowchart by default, the blocked task in the blocked class', async () => {
    const [byDefault, mermaid] = await Promise.all([
      runCli(['graph', '--dir', dir]),
      runCli(['graph', '--dir', dir, '--format', 'mermaid']),
    ]);
    expect([byDefault.code, byDefault.stderr]).toEqual([0, '']);
    expect(byDefault.stdout).toBe(mermaid.stdout);
    const lines = byDefault.stdout.split('\n');
    expect(lines[0]).toBe('flowchart LR');
    expect(lines).toContain('  app["app<br>failed · implementer<br>blocked by api"]');
    expect(lines).toContain('  ghost["ghost<br>missing"]');
    expect(lines).toContain('  api --> app');
    expect(lines).toContain('  class app blocked');
    expect(lines).toContain('  class ghost missing');
  });

  it('should print a well-formed SVG through Graphviz with --format svg, or write it to --output', async () => {
    const output = join(tempDir(), 'graph.svg');
    const [printed, written] = await Promise.all([
      runCli(['graph', '--dir', dir, '--format', 'svg']),
      runCli(['graph', '--dir', dir, '-f', 'svg', '--output', output]),
    ]);
    expect([printed.code, printed.stderr]).toEqual([0, '']);
    expect(printed.stdout.startsWith('<svg')).toBe(true);
    const labels = svgNodes(printed.stdout).map((node) => textLines(node).join(' / '));
    expect(labels.sort()).toEqual([
      'api / failed · implementer',
      'app / failed · implementer / blocked by api',
      'docs / failed · test_writer',
      'ghost / missing',
      'spec / pr_merged · spec_writer',
      'ui / running · implementer',
    ]);
    expect([written.code, written.stdout, written.stderr]).toEqual([0, '', '']);
    expect(readFileSync(output, 'utf8')).toBe(printed.stdout);
  });

  it('should draw a corrupt task as a corrupt node, still draw the others, and exit 1 naming it', async () => {
    const damaged = storeDir();
    await storeBlockedRun(damaged);
    corrupt(damaged, 'docs');
    const result = await runCli(['graph', '--dir', damaged, '--format', 'json']);
    expect(result.code).toBe(1);
    const graph = JSON.parse(result.stdout) as GraphJson;
    expect(graph.nodes.find((node) => node.id === 'docs')).toEqual({
      id: 'docs',
      role: '',
      status: 'corrupt',
      blockedBy: null,
      dependencies: [],
    });
    expect(graph.nodes).toHaveLength(6);
    expect(result.stderr).toContain('1 stored task(s) cannot be read: docs.');
  });

  it('should print an empty graph and a hint for an empty store, and fail for a missing one', async () => {
    const empty = storeDir();
    await (await FileTaskStore.open(empty)).close();
    const missing = join(tempDir(), 'none');
    const [json, none] = await Promise.all([
      runCli(['graph', '--dir', empty, '--format', 'json']),
      runCli(['graph', '--dir', missing]),
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ nodes: [], edges: [] });
    expect(json.stderr).toContain('is empty');
    expect([none.code, none.stdout]).toEqual([1, '']);
    expect(none.stderr).toContain('does not exist');
  });

  it('should exit 1 with the reason when --output cannot be written, and 2 on a bad format or an empty path', async () => {
    const directory = join(tempDir(), 'a-directory');
    mkdirSync(directory);
    const [unwritable, format, path] = await Promise.all([
      runCli(['graph', '--dir', dir, '--output', directory]),
      runCli(['graph', '--dir', dir, '--format', 'png']),
      runCli(['graph', '--dir', dir, '--output', ' ']),
    ]);
    expect([unwritable.code, unwritable.stdout]).toEqual([1, '']);
    expect(unwritable.stderr).toContain(`Cannot write the graph to ${directory} (EISDIR).`);
    expect([format.code, format.stdout]).toEqual([2, '']);
    expect(format.stderr).toContain('Allowed choices are mermaid, svg, json');
    expect(path.code).toBe(2);
    expect(path.stderr).toContain('Expected a file path.');
  });
});

describe('task-runtime status (blocked tasks)', () => {
  it('should say who blocked a blocked task in the last error column', async () => {
    const dir = storeDir();
    await storeBlockedRun(dir);
    const result = await runCli(['status', '--dir', dir]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.find((line) => line.startsWith('  app '))).toMatch(
      /^ {2}app\s+failed\s+0\s+blocked by api$/,
    );
    expect(lines.find((line) => line.startsWith('  api '))).toMatch(
      /^ {2}api\s+failed\s+0\s+tests failed$/,
    );
    expect(lines.find((line) => line.startsWith('  docs '))).toMatch(
      /^ {2}docs\s+failed\s+0\s+flaky network$/,
    );
  });
});
