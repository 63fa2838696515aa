import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir, removeDir } from '../support/tempDir.js';

const REPO = resolve(__dirname, '..', '..');

/**
 * A consumer project that installed task-runtime (the built dist/) and xstate but not the optional peer `pg`,
 * in a temporary directory outside this repository so that Node cannot find the repository's own `pg`.
 */
function projectWithoutPg(): string {
  const root = makeTempDir('without-pg-');
  const pkg = join(root, 'node_modules', 'task-runtime');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(REPO, 'dist'), join(pkg, 'dist'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(REPO, 'node_modules', 'xstate'), join(root, 'node_modules', 'xstate'), 'dir');
  return root;
}

describe('task-runtime without the optional peer dependency pg', () => {
  let root: string;
  beforeAll(() => {
    root = projectWithoutPg();
  });
  afterAll(() => removeDir(root));

  it('should import and run without pg, and say how to install it when PostgresTaskStore is used', () => {
    writeFileSync(
      join(root, 'main.mjs'),
      `import { PostgresTaskStore, TaskRuntime } from 'task-runtime';
       const runtime = new TaskRuntime({ id: 'a', role: 'generic' });
       runtime.markRunning();
       let pgMissing = false;
       try { await import('pg'); } catch { pgMissing = true; }
       try {
         await PostgresTaskStore.connect({ connectionString: 'postgresql://nobody@127.0.0.1:1/none' });
         console.log(JSON.stringify({ status: runtime.status, pgMissing, connected: true }));
       } catch (error) {
         console.log(JSON.stringify({ status: runtime.status, pgMissing, name: error.name, message: error.message }));
       }`,
    );
    const output = execFileSync(process.execPath, [join(root, 'main.mjs')], {
      cwd: root,
      encoding: 'utf8',
    });
    const result = JSON.parse(output) as Record<string, unknown>;
    expect(result).toMatchObject({ status: 'running', pgMissing: true, name: 'TaskStoreError' });
    expect(result.message).toContain('npm install pg');
  });
});
