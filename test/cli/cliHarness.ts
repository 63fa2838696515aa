import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { killRunning, watchProcess } from '../support/childProcess.js';
import { tempDirs } from '../support/tempDir.js';

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

function checkBuilt(): void {
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run \`npm run build\` before the CLI tests`);
}

/** Variables to set for one run, or to unset (`undefined`). */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** Starts `task-runtime …args` (colour off unless `changes` says otherwise, stdout a pipe, so plain output). */
export function startCli(args: readonly string[], changes: CliEnv = {}): CliProcess {
  checkBuilt();
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  // In a temporary working directory: even a default --dir never reaches the repository's .task-runtime.
  const watched = watchProcess(
    spawn(process.execPath, [MAIN, ...args], { env, cwd: workingDir() }),
  );
  return {
    child: watched.process,
    stdout: watched.stdout,
    done: watched.exited.then((exit) => ({
      ...exit,
      stdout: watched.stdout(),
      stderr: watched.stderr(),
    })),
    waitFor: (predicate, timeoutMs = 15_000) =>
      watched.waitUntil(
        () => predicate(watched.stdout()),
        timeoutMs,
        (exit) =>
          exit === null
            ? `timed out after ${timeoutMs} ms; stdout so far:\n${watched.stdout()}`
            : `the command ended first; stdout:\n${watched.stdout()}\nstderr:\n${watched.stderr()}`,
      ),
  };
}

/** What `command --help` prints, run in this process (commander ends it with helpDisplayed). */
export async function helpOf(command: Command): Promise<string> {
  let help = '';
  command.exitOverride().configureOutput({ writeOut: (text) => (help += text) });
  await expect(command.parseAsync(['--help'], { from: 'user' })).rejects.toMatchObject({
    code: 'commander.helpDisplayed',
  });
  return help;
}

/** Runs `task-runtime …args` to the end. */
export function runCli(args: readonly string[], changes: CliEnv = {}): Promise<CliResult> {
  return startCli(args, changes).done;
}

/** Kills every command still running (for afterEach); resolves once they exited. */
export function killAll(): Promise<void> {
  return killRunning();
}

const dirs = tempDirs('task-runtime-cli-');
let cwd: string | null = null;

function workingDir(): string {
  cwd ??= tempDir();
  return cwd;
}

/** A new empty temporary directory, removed by {@link removeTempDirs}. */
export function tempDir(): string {
  return dirs.make();
}

/** A path inside a new temporary directory that does not exist yet: a store `demo` creates. */
export function storeDir(): string {
  return join(tempDir(), 'store');
}

/** Removes the directories {@link tempDir} made. */
export function removeTempDirs(): void {
  dirs.removeAll();
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
