import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDirs } from '../support/tempDir.js';
import { pack, ROOT } from './packed.js';

jest.setTimeout(120_000);

const dirs = tempDirs('task-runtime-lint-');
afterAll(() => dirs.removeAll());

/** Runs a command-line tool installed in the repository; its exit code and all it printed. */
function run(tool: string, args: readonly string[]): { code: number | null; output: string } {
  const result = spawnSync(join(ROOT, 'node_modules', '.bin', tool), args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * The one problem attw may report. The package ships a single ES module build, which CommonJS loads through
 * Node's require of ES modules (Node >= 20.19): one copy of every class, so `instanceof` works whichever way a
 * program loads it. attw still reports that a require() resolves to ES modules (CJSResolvesToESM), and nothing
 * else may be reported.
 */
const IGNORED_RULE = 'cjs-resolves-to-esm';

describe('the packed package, as the ecosystem checks it', () => {
  let tarball = '';

  beforeAll(() => {
    tarball = pack(dirs.make());
  });

  it('should pass publint, warnings and suggestions included', () => {
    const { code, output } = run('publint', ['run', tarball, '--strict']);
    expect(output).toContain('All good!');
    expect(code).toBe(0);
  });

  it('should pass attw (are the types wrong) with only the CJSResolvesToESM rule ignored', () => {
    const { code, output } = run('attw', [tarball, '--ignore-rules', IGNORED_RULE]);
    expect(output).toContain('"task-runtime/opentelemetry"');
    expect(code).toBe(0);
  });

  it('should have attw report CJSResolvesToESM and nothing else when no rule is ignored', () => {
    const { code, output } = run('attw', [tarball]);
    const problems = new Set([...output.matchAll(/docs\/problems\/(\w+)\.md/g)].map((m) => m[1]));
    expect([...problems]).toEqual(['CJSResolvesToESM']);
    expect(code).toBe(1);
  });
});
