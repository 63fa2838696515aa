import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDirs } from '../support/tempDir.js';
import { installInNewProject, pack, ROOT, TSC } from './packed.js';

jest.setTimeout(180_000);

const dirs = tempDirs('task-runtime-consumer-');
afterAll(() => dirs.removeAll());

/** Writes `files` (path → text) under `dir`. */
function write(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/** Runs `node file` in `cwd`; returns what it printed, failing with its stderr when it fails. */
function node(cwd: string, file: string): string {
  const result = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`node ${file} exited ${result.status}:\n${result.stderr}`);
  expect(result.stderr).toBe('');
  return result.stdout;
}

/** Runs `tsc -p dir`; the list of its diagnostics ('' when it compiled cleanly). */
function typecheck(dir: string): string {
  const result = spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`.trim();
}

/** The first ```js block under the README heading `## <title>`. */
function readmeExample(title: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${title}\n`);
  const match = start === -1 ? null : /```js\n([\s\S]*?)```/.exec(readme.slice(start));
  if (match?.[1] === undefined) throw new Error(`README has no \`\`\`js block under "## ${title}"`);
  return match[1];
}

/** What the `// =>` comments after the `console.log(…);` lines of `code` say it prints, one line each. */
function expectedOutput(code: string): string {
  const lines = [...code.matchAll(/console\.log\(.*\); \/\/ => (.*)$/gm)].map((match) => match[1]);
  expect(lines.length).toBeGreaterThan(1);
  return `${lines.join('\n')}\n`;
}

const USES_LIBRARY = `
const runtime = new TaskRuntime(createTask({ id: 'login', role: 'implementer' }));
runtime.markRunning();
let refused = '';
try {
  runtime.markPrMerged();
} catch (error) {
  refused = error instanceof TaskRuntimeError ? error.name : 'not a TaskRuntimeError';
}
console.log(runtime.status, refused);
`;

describe('the packed package', () => {
  let tarball = '';

  beforeAll(() => {
    tarball = pack(dirs.make());
  });

  describe('installed without its optional peers', () => {
    let project = '';

    beforeAll(() => {
      project = installInNewProject(dirs, tarball);
    });

    it('should really lack @opentelemetry/api and pg there (what the next tests rely on)', () => {
      const check = `for (const name of ['@opentelemetry/api', 'pg']) {
        try { require.resolve(name); console.log(name, 'found'); } catch { console.log(name, 'missing'); }
      }`;
      write(project, { 'peers.cjs': check });
      expect(node(project, 'peers.cjs')).toBe('@opentelemetry/api missing\npg missing\n');
    });

    it('should load with import from an ES module', () => {
      const code = `import { createTask, TaskRuntime, TaskRuntimeError } from 'task-runtime';\n${USES_LIBRARY}`;
      write(project, { 'esm.mjs': code });
      expect(node(project, 'esm.mjs')).toBe('running IllegalTransitionError\n');
    });

    it('should load with require from CommonJS, the same classes as import gives', () => {
      const code = `const { createTask, TaskRuntime, TaskRuntimeError } = require('task-runtime');\n${USES_LIBRARY}
      import('task-runtime').then((esm) => console.log(esm.TaskRuntime === TaskRuntime));`;
      write(project, { 'cjs.cjs': code });
      expect(node(project, 'cjs.cjs')).toBe('running IllegalTransitionError\ntrue\n');
    });

    it('should run its command line with npx', () => {
      const help = execFileSync('npx', ['--no', '--', 'task-runtime', '--help'], {
        cwd: project,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      expect(help.split('\n')[0]).toBe('Usage: task-runtime [options] [command]');
      expect(help).toContain('Exit codes:');
    });

    it('should say which package is missing when task-runtime/opentelemetry is loaded without its peer', () => {
      write(project, { 'otel.mjs': "import 'task-runtime/opentelemetry';\n" });
      const result = spawnSync(process.execPath, ['otel.mjs'], { cwd: project, encoding: 'utf8' });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain("Cannot find package '@opentelemetry/api'");
    });
  });

  describe('installed with @opentelemetry/api and its SDK', () => {
    let project = '';

    beforeAll(() => {
      project = installInNewProject(dirs, tarball, [
        '@opentelemetry/api',
        '@opentelemetry/sdk-trace-base',
      ]);
    });

    it.each([
      ['Use from CommonJS', 'readme-commonjs.cjs'],
      ['Tracing with OpenTelemetry', 'readme-tracing.mjs'],
    ])(
      'should run the README example "%s" as written and print what its // => comments say',
      (title, file) => {
        const code = readmeExample(title);
        write(project, { [file]: code });
        expect(node(project, file)).toBe(expectedOutput(code));
      },
    );

    /** Code that must compile, with one line that must not (so a type resolved to `any` would fail). */
    const source = (importLines: string): string => `${importLines}
const runtime: TaskRuntime = new TaskRuntime(createTask({ id: 'login', role: 'implementer' }));
const status: 'pending' | 'running' | 'pr_created' | 'pr_merged' | 'failed' = runtime.status;
const stop: () => void = instrument(runtime, { tracer: trace.getTracer('consumer') });
// @ts-expect-error a PR URL is a string
runtime.markPrCreated(42);
export { status, stop };
`;
    const IMPORTS = `import { trace } from '@opentelemetry/api';
import { createTask, TaskRuntime } from 'task-runtime';
import { instrument } from 'task-runtime/opentelemetry';`;
    /** A tsconfig; `skipLibCheck` false checks the package's declarations whole (once: it is slow). */
    const compilerOptions = (
      module: string,
      moduleResolution: string,
      skipLibCheck = true,
    ): string =>
      JSON.stringify({
        compilerOptions: {
          module,
          moduleResolution,
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: [],
          skipLibCheck,
        },
        include: ['*.ts', '*.cts', '*.mts'],
      });

    it('should type-check an ES module package under NodeNext, the declarations included', () => {
      const dir = join(project, 'esm');
      write(dir, {
        'package.json': '{ "type": "module" }',
        'tsconfig.json': compilerOptions('NodeNext', 'NodeNext', false),
        'index.ts': source(IMPORTS),
      });
      expect(typecheck(dir)).toBe('');
    });

    it('should type-check a CommonJS package under NodeNext, with import and with import = require', () => {
      const dir = join(project, 'cjs');
      write(dir, {
        'package.json': '{ "type": "commonjs" }',
        'tsconfig.json': compilerOptions('NodeNext', 'NodeNext'),
        'index.ts': source(IMPORTS),
        'required.cts': `import taskRuntime = require('task-runtime');
const task: taskRuntime.Task = taskRuntime.createTask({ id: 'login', role: 'implementer' });
export = task;
`,
      });
      expect(typecheck(dir)).toBe('');
    });

    it('should type-check under Bundler resolution', () => {
      const dir = join(project, 'bundler');
      write(dir, {
        'tsconfig.json': compilerOptions('ESNext', 'Bundler'),
        'index.ts': source(IMPORTS),
      });
      expect(typecheck(dir)).toBe('');
    });

    it('should fail to type-check a wrong call (the checks above can fail)', () => {
      const dir = join(project, 'wrong');
      write(dir, {
        'package.json': '{ "type": "module" }',
        'tsconfig.json': compilerOptions('NodeNext', 'NodeNext'),
        'index.ts': `${IMPORTS}\ninstrument(new TaskRuntime(createTask({ id: 'a', role: 'implementer' })), {});\nexport { trace };\n`,
      });
      expect(typecheck(dir)).toContain("Property 'tracer' is missing");
    });
  });
});
