import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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

/**
 * A FileTaskStore in `dir`/store holding task 'login' after `saves` saves (a concern added before each after the
 * first), once the store's clean-up is done; the task's `g/` directory.
 */
async function storeWithGenerations(dir: string, saves: number): Promise<string> {
  const store = await FileTaskStore.open(join(dir, 'store'));
  const runtime = runningRuntime();
  for (let save = 1; save <= saves; save += 1) {
    if (save > 1) runtime.addConcern(`concern ${save}`);
    await store.save('login', runtime.persist(), {
      expectedRevision: save === 1 ? null : save - 1,
    });
  }
  await store.close();
  return join(dir, 'store', 'tasks', 'login', 'g');
}

/** Cuts `file` to its first half, as a crash of the disk or a hand would. */
function truncate(file: string): void {
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.slice(0, text.length / 2));
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
  ])('should exit 1, not the usage code, for %s', async (_case, text, message) => {
    const { error } = await validate([writeJson(tempDir(), 'file.json', text)]);
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toMatch(message);
  });

  it('should exit 1 for a file that cannot be read', async () => {
    const { error } = await validate([join(tempDir(), 'missing.json')]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toMatch(/cannot read .*missing\.json \(no such file\)/);
  });

  it("should name the store's layout record for what it is, and say what validate expects", async () => {
    const dir = tempDir();
    await storeWithGenerations(dir, 1);
    const file = join(dir, 'store', 'store.json');
    const { error } = await validate([file]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    const message = (error as Error).message;
    expect(message).toContain(
      `${file} is the store's layout record (store.json), not a task document: it records that the store's task directories are in layout 2.`,
    );
    expect(message).toContain(
      "validate expects one task's snapshot (the JSON of runtime.persist(), an object with schemaVersion, status and context) or a FileTaskStore task document (<dir>/tasks/<task>/g/<generation>/doc.json).",
    );
    expect(message).not.toContain('newer');
  });

  it('should name the guard file of an upgraded task directory for what it is', async () => {
    const dir = tempDir();
    const generations = await storeWithGenerations(dir, 1);
    const file = join(generations, '..', `${Number.MAX_SAFE_INTEGER}.json`);
    const { error } = await validate([file]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toContain(
      'is the guard an upgraded store keeps in every task directory',
    );
    expect((error as Error).message).toContain('not a task document');
  });

  it("should name a graph run's snapshot as not one task's", async () => {
    const graphRun = { schemaVersion: 1, kind: 'task-graph-run', tasks: [] };
    const { error } = await validate([writeJson(tempDir(), 'run.json', graphRun)]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toContain("is a graph run's snapshot");
  });

  it.each([
    [
      'an object of other keys',
      { format: 'task-runtime/demo-run', settings: {} },
      'an object (format "task-runtime/demo-run") with the keys format, settings',
    ],
    ['an empty object', {}, 'an empty object'],
    ['an array', [1, 2], 'an array of 2'],
    ['a number', 42, 'a number (42)'],
  ])('should say what it expected and what it got for %s', async (_case, json, got) => {
    const file = writeJson(tempDir(), 'other.json', JSON.stringify(json));
    const { error } = await validate([file]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toBe(
      `${file} is not a task: expected one task's snapshot (the JSON of runtime.persist(), an object with schemaVersion, status and context) or a FileTaskStore task document (<dir>/tasks/<task>/g/<generation>/doc.json), got ${got}.`,
    );
  });

  it('should say that a store document without a version lacks one, not that it is newer', async () => {
    const dir = tempDir();
    const document = JSON.parse(
      readFileSync(await storeRevisionFile(dir, runningRuntime()), 'utf8'),
    );
    delete document.version;
    const { error } = await validate([writeJson(dir, 'doc.json', document)]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    expect((error as Error).message).toContain('path:   version\n');
    expect((error as Error).message).toContain(
      'reason: is undefined; a FileTaskStore task document names its version (1 to 2)',
    );
  });

  it('should list the older generations beside a truncated newest one, and the advice it gives should work', async () => {
    const dir = tempDir();
    const generations = await storeWithGenerations(dir, 3);
    expect(readdirSync(generations).sort()).toEqual(['1', '2', '3']);
    const newest = join(generations, '3', 'doc.json');
    truncate(newest);
    const { error } = await validate([newest]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    const message = (error as Error).message;
    expect(message).toContain('is not valid JSON');
    expect(message).toContain(
      'The store keeps older generations of this task beside it: g/2, g/1 (newest first).',
    );
    expect(message).toContain(`task-runtime validate ${join(generations, '2', 'doc.json')}`);
    expect(message).toContain(`mv ${join(generations, '3')} <a directory outside the store>`);
    expect(message).toContain('and the next change writes generation 3 again');

    // As the advice says: the older one validates, and with the damaged one moved out the store goes on from it.
    expect((await validate([join(generations, '2', 'doc.json')])).error).toBeNull();
    renameSync(join(generations, '3'), join(dir, 'damaged-3'));
    const store = await FileTaskStore.open(join(dir, 'store'));
    const stored = await store.load('login');
    expect(stored?.revision).toBe(2);
    expect(TaskRuntime.restore(stored?.snapshot).artifacts.concerns).toEqual([
      'attempt_0_error: tests failed',
      'concern 2',
    ]);
    await expect(store.save('login', stored?.snapshot, { expectedRevision: 2 })).resolves.toBe(3);
    await store.close();
    expect((await validate([newest])).error).toBeNull();
  });

  it('should say when the store kept no older generation beside a damaged newest one', async () => {
    const dir = tempDir();
    const generations = await storeWithGenerations(dir, 4); // the writer of generation 4 removes 1 to 3
    expect(readdirSync(generations)).toEqual(['4']);
    const newest = join(generations, '4', 'doc.json');
    const document = JSON.parse(readFileSync(newest, 'utf8'));
    document.snapshot.status = 'archived';
    writeFileSync(newest, JSON.stringify(document));
    const { error } = await validate([newest]);
    expect(error).toMatchObject({ exitCode: ExitCode.FAILURE });
    const message = (error as Error).message;
    expect(message).toContain('path:   snapshot.status\n');
    expect(message).toContain(
      'The store keeps no older generation of this task (the writer of every fourth generation removes the ones before it): restore the task from a backup',
    );
  });

  it('should say which generation is the newest when an older one is validated', async () => {
    const generations = await storeWithGenerations(tempDir(), 2);
    const older = join(generations, '1', 'doc.json');
    truncate(older);
    const { error } = await validate([older]);
    expect((error as Error).message).toContain(
      `This is not the task's newest generation: the store reads ${join(generations, '2')}/doc.json.`,
    );
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

  it('should exit 1, as documented, for a truncated task document and for a missing file', async () => {
    const generations = await storeWithGenerations(tempDir(), 2);
    const newest = join(generations, '2', 'doc.json');
    truncate(newest);
    const truncated = await runCli(['validate', newest]);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toContain('is not valid JSON');
    expect(truncated.stderr).toContain(
      'The store keeps older generations of this task beside it: g/1',
    );
    const missing = await runCli(['validate', join(tempDir(), 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
  });

  it("should exit 1 naming the store's layout record for what it is", async () => {
    const dir = tempDir();
    await storeWithGenerations(dir, 1);
    const result = await runCli(['validate', join(dir, 'store', 'store.json')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "is the store's layout record (store.json), not a task document",
    );
    expect(result.stderr).not.toContain('upgrade task-runtime');
  });

  it('should exit 2 without a file argument, pointing at --help', async () => {
    const result = await runCli(['validate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("missing required argument 'file'");
    expect(result.stderr).toContain('task-runtime validate --help');
  });
});
