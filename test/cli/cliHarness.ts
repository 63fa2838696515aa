import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built command line; the CLI tests run it as a user would (`npm run build` first). */
export const MAIN = resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');

/** What a finished run of the command printed, and how it ended. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running command, read as it prints. */
export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything printed on stdout so far. */
  stdout(): string;
  /** Resolves once the process ended and its output was read to the end. */
  readonly done: Promise<CliResult>;
  /** Resolves once `predicate(stdout)` holds; rejects if the process ends first or after `timeoutMs`. */
  waitFor(predicate: (stdout: string) => boolean, timeoutMs?: number): Promise<void>;
}

const started = new Set<ChildProcessWithoutNullStreams>();

function checkBuilt(): void {
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run \`npm run build\` before the CLI tests`);
}

/** Starts `task-runtime …args` (colour off, stdout a pipe, so plain output). */
export function startCli(args: readonly string[]): CliProcess {
  checkBuilt();
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  // In a temporary working directory: even a default --dir never reaches the repository's .task-runtime.
  const child = spawn(process.execPath, [MAIN, ...args], { env, cwd: workingDir() });
  started.add(child);
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    for (const wake of waiters) wake();
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  let ended = false;
  const done = new Promise<CliResult>((resolveDone) => {
    child.on('close', (code, signal) => {
      ended = true;
      started.delete(child);
      for (const wake of waiters) wake();
      resolveDone({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    done,
    waitFor(predicate, timeoutMs = 15_000) {
      return new Promise<void>((resolveWait, rejectWait) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          rejectWait(new Error(`timed out after ${timeoutMs} ms; stdout so far:\n${stdout}`));
        }, timeoutMs);
        const check = (): void => {
          if (predicate(stdout)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolveWait();
          } else if (ended) {
            clearTimeout(timer);
            waiters.delete(check);
            rejectWait(
              new Error(`the command ended first; stdout:\n${stdout}\nstderr:\n${stderr}`),
            );
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Runs `task-runtime …args` to the end. */
export function runCli(args: readonly string[]): Promise<CliResult> {
  return startCli(args).done;
}

/** Kills every command still running (for afterEach). */
export function killAll(): void {
  for (const child of started) child.kill('SIGKILL');
}

const dirs: string[] = [];
let cwd: string | null = null;

function workingDir(): string {
  cwd ??= tempDir();
  return cwd;
}

/** A new empty temporary directory, removed by {@link removeTempDirs}. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'task-runtime-cli-'));
  dirs.push(dir);
  return dir;
}

/** A path inside a new temporary directory that does not exist yet: a store `demo` creates. */
export function storeDir(): string {
  return join(tempDir(), 'store');
}

/** Removes the directories {@link tempDir} made. */
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  cwd = null;
}

/** The lines of `text` from the one starting with `Summary` up to the next empty line. */
export function summaryBlock(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith('Summary'));
  if (start === -1) throw new Error(`no summary in:\n${text}`);
  const end = lines.indexOf('', start);
  return lines.slice(start, end === -1 ? undefined : end);
}

/** A row of the summary's task table. */
export interface SummaryRow {
  readonly id: string;
  readonly status: string;
  readonly attempts: number;
  readonly error: string;
}

/** The task rows and totals of a summary block. */
export function parseSummary(block: readonly string[]): {
  rows: SummaryRow[];
  merged: number;
  failed: number;
  blocked: number;
  total: number;
} {
  const rows = block
    .slice(2)
    .filter((line) => line.startsWith('  '))
    .map((line) => {
      const match = /^ {2}(\S+)\s+(\S+)\s+(\d+)\s*(.*)$/.exec(line);
      if (match === null) throw new Error(`not a summary row: ${line}`);
      const [, id = '', status = '', attempts = '', error = ''] = match;
      return { id, status, attempts: Number(attempts), error };
    });
  const totals = block
    .map((line) => /^(\d+) merged, (\d+) failed \((\d+) blocked.*\) of (\d+) tasks$/.exec(line))
    .find((match) => match !== null);
  if (totals === undefined || totals === null)
    throw new Error(`no totals in:\n${block.join('\n')}`);
  const [merged, failed, blocked, total] = totals.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return { rows, merged, failed, blocked, total };
}
