import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createValidateCommand } from '../../src/cli/commands/validate.js';
import { CliError, ExitCode } from '../../src/cli/exit.js';
import { AgentRole, FileTaskStore, TaskRuntime } from '../../src/index.js';
import { DOCUMENT_VERSION as FILE_STORE_VERSION } from '../../src/store/FileTaskStore.js';
import { helpOf, removeTempDirs, runCli, tempDir } from './cliHarness.js';

const ESC = String.fromCharCode(27);
/** The text without ANSI colour codes (picocolors colours when it thinks the output is a terminal or CI). */
const plain = (text: string): string => text.split(new RegExp(`${ESC}\\[[0-9;]*m`)).join('');

/** A runtime in running, attempt 1, after a failed and retried attempt 0. */
function runningRuntime(): TaskRuntime {
  const runtime = new TaskRuntime({ id: 'login', role: AgentRole.IMPLEMENTER }, { maxAttempts: 3 });
  runtime.markRunning();
  runtime.markFailed('tests failed');
  runtime.resetForRetry();
  runtime.prepareForAttempt(1);
  runtime.markRunning();
  return runtime;
}

function writeJson(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

/** A FileTaskStore revision file holding `runtime`'s snapshot, written by the real store. */
async function storeRevisionFile(dir: string, runtime: TaskRuntime): Promise<string> {
  const store = await FileTaskStore.open(join(dir, 'store'));
  await store.save('login', runtime.persist(), { expectedRevision: null });
  await store.close();
  const files = readdirSync(join(dir, 'store'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('doc.json'))
    .map((name) => join(dir, 'store', name));
  expect(files).toHaveLength(1);
  return files[0] ?? '';
}

/** Runs `validate …args` in this process: what it printed, or the error it ended with. */
async function validate(args: readonly string[]): Promise<{ out: string; error: unknown }> {
  let out = '';
  const command = createValidateCommand()
    .exitOverride()
    .configureOutput({ writeOut: (text) => (out += text), writeErr: () => undefined });
  try {
    await command.parseAsync([...args], { from: 'user' });
    return { out: plain(out), error: null };
  } catch (error) {
    return { out: plain(out), error };
  }
}

afterAll(removeTempDirs);

describe('validate command', () => {
  it('should accept a persisted snapshot with one OK line naming status and attempt', async () => {
    const file = writeJson(tempDir(), 'good.json', runningRuntime().persist());
    const { out, error } = await validate([file]);
    expect(error).toBeNull();
    expect(out).toBe(
      `OK ${file}: task 'login' is restorable (snapshot; status running, attempt 1)\n`,
    );
  });

  it('should accept a FileTaskStore revision file by checking its snapshot', async () => {
    const file = await storeRevisionFile(tempDir(), runningRuntime());
    const { out, error } = await validate([file]);
    expect(error).toBeNull();
    expect(out).toContain('(FileTaskStore document, revision 1; status running, attempt 1)');
  });

  it('should refuse a broken snapshot with exit code 1, the path and the reason', async () => {
    const snapshot = JSON.parse(JSON.stringify(runningRuntime().persist()));
    snapshot.context.attemptNum = -1;
    const { out, error } = await validate([writeJson(tempDir(), 'bad.json', snapshot)]);
    expect(out).toBe('');
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toContain('path:   context.attemptNum\n');
    expect((error as Error).message).toContain('reason: must be a non-negative integer');
  });

  it('should give the path inside a FileTaskStore document for its broken snapshot', async () => {
    const dir = tempDir();
    const document = JSON.parse(
      readFileSync(await storeRevisionFile(dir, runningRuntime()), 'utf8'),
    );
    document.snapshot.status = 'archived';
    const { error } = await validate([writeJson(dir, 'doc.json', document)]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toContain('path:   snapshot.status\n');
  });

  it('should refuse a document from a newer FileTaskStore', async () => {
    const dir = tempDir();
    const document = JSON.parse(
      readFileSync(await storeRevisionFile(dir, runningRuntime()), 'utf8'),
    );
    document.version = FILE_STORE_VERSION + 1;
    const { error } = await validate([writeJson(dir, 'newer.json', document)]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toContain('path:   version\n');
    expect((error as Error).message).toContain('upgrade task-runtime');
  });

  it('should refuse a snapshot from a newer schema', async () => {
    const snapshot = { ...runningRuntime().persist(), schemaVersion: 99 };
    const { error } = await validate([writeJson(tempDir(), 'future.json', snapshot)]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toContain('path:   schemaVersion\n');
  });

  it.each([
    ['invalid JSON', '{"schemaVersion": 1,', /is not valid JSON/],
    ['an empty file', '', /is empty/],
  ])('should exit 2 for %s', async (_case, text, message) => {
    const { error } = await validate([writeJson(tempDir(), 'file.json', text)]);
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ exitCode: ExitCode.USAGE });
    expect((error as Error).message).toMatch(message);
  });

  it('should exit 2 for a file that cannot be read', async () => {
    const { error } = await validate([join(tempDir(), 'missing.json')]);
    expect(error).toMatchObject({ exitCode: ExitCode.USAGE });
    expect((error as Error).message).toMatch(/cannot read .*missing\.json \(no such file\)/);
  });

  it('should show a description and an example in --help', async () => {
    const help = await helpOf(createValidateCommand());
    expect(help).toContain('Usage: validate [options] <file>');
    expect(help).toContain('check that a snapshot file');
    expect(help).toContain('$ task-runtime validate snapshot.json');
  });
});

describe('task-runtime validate (built command)', () => {
  it('should exit 0 with one OK line for a restorable snapshot', async () => {
    const file = writeJson(tempDir(), 'good.json', runningRuntime().persist());
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `OK ${file}: task 'login' is restorable (snapshot; status running, attempt 1)\n`,
    );
    expect(result.stderr).toBe('');
  });

  it('should exit 0 for a FileTaskStore revision file', async () => {
    const result = await runCli(['validate', await storeRevisionFile(tempDir(), runningRuntime())]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'FileTaskStore document, revision 1; status running, attempt 1',
    );
  });

  it('should exit 1 and print the path and reason for a broken snapshot', async () => {
    const snapshot = JSON.parse(JSON.stringify(runningRuntime().persist()));
    snapshot.context.task.dependencies = ['login'];
    const result = await runCli(['validate', writeJson(tempDir(), 'bad.json', snapshot)]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('path:   context.task.dependencies');
    expect(result.stderr).toContain('reason: ');
  });

  it('should exit 2 for invalid JSON and for a missing file', async () => {
    const broken = await runCli(['validate', writeJson(tempDir(), 'broken.json', '{')]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('is not valid JSON');
    const missing = await runCli(['validate', join(tempDir(), 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
  });

  it('should exit 2 without a file argument, pointing at --help', async () => {
    const result = await runCli(['validate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("missing required argument 'file'");
    expect(result.stderr).toContain('task-runtime validate --help');
  });
});
