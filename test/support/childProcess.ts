/** Child processes for tests: their output collected as it arrives, waited on, and killed at the end. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';

/** The folder of the fixture scripts, test/fixtures. */
export const FIXTURES = join(__dirname, '..', 'fixtures');

/** How long {@link Fixture.nextLine} waits for a line unless told otherwise. */
const LINE_TIMEOUT_MS = 15_000;

/** How a child process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process whose stdout and stderr are collected as they arrive. */
export interface WatchedProcess {
  readonly process: ChildProcessWithoutNullStreams;
  /** Every complete stdout line so far. */
  readonly lines: readonly string[];
  /** Resolves once the process exited and its output was read to the end. */
  readonly exited: Promise<Exit>;
  /** Everything printed on stdout so far. */
  stdout(): string;
  /** Everything printed on stderr so far. */
  stderr(): string;
  /**
   * Resolves once `ready()` holds, checked now and on every stdout chunk; rejects with the message
   * `failure(exit)` when the process ends first, or `failure(null)` after `timeoutMs`.
   */
  waitUntil(
    ready: () => boolean,
    timeoutMs: number,
    failure: (exit: Exit | null) => string,
  ): Promise<void>;
}

const running = new Set<WatchedProcess>();

/** Starts collecting the output of `child`, which {@link killRunning} kills if it still runs. */
export function watchProcess(child: ChildProcessWithoutNullStreams): WatchedProcess {
  const lines: string[] = [];
  let stdout = '';
  let partial = '';
  let stderr = '';
  let ended: Exit | null = null;
  const waiters = new Set<() => void>();
  const wakeAll = (): void => {
    for (const wake of waiters) wake();
  };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    wakeAll();
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => undefined); // a killed child closes its stdin under our feet
  const exited = new Promise<Exit>((resolveExit) => {
    child.on('close', (code, signal) => {
      const exit = { code, signal };
      ended = exit;
      running.delete(watched);
      wakeAll();
      resolveExit(exit);
    });
  });
  const watched: WatchedProcess = {
    process: child,
    lines,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    waitUntil: (ready, timeoutMs, failure) =>
      new Promise<void>((resolveWait, rejectWait) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          rejectWait(new Error(failure(null)));
        }, timeoutMs);
        function check(): void {
          if (ready()) {
            clearTimeout(timer);
            waiters.delete(check);
            resolveWait();
          } else if (ended !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            rejectWait(new Error(failure(ended)));
          }
        }
        waiters.add(check);
        check();
      }),
  };
  running.add(watched);
  return watched;
}

/** Kills every watched process still running with SIGKILL; resolves once they all exited. */
export async function killRunning(): Promise<void> {
  const still = [...running];
  for (const watched of still) watched.process.kill('SIGKILL');
  await Promise.all(still.map((watched) => watched.exited));
}

/** A fixture script running in a child process, read line by line. */
export interface Fixture extends WatchedProcess {
  /** The next stdout line not returned yet; rejects on exit or after `timeoutMs`. */
  nextLine(timeoutMs?: number): Promise<string>;
  /** Resolves once a stdout line equals `line`; rejects on exit or after `timeoutMs`. */
  waitForLine(line: string, timeoutMs: number): Promise<void>;
  /** Writes `line` and a newline to the child's stdin. */
  send(line: string): void;
}

/** Runs `node test/fixtures/<script> …args`. */
export function startFixture(script: string, args: readonly string[]): Fixture {
  const watched = watchProcess(
    spawn(process.execPath, [join(FIXTURES, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  let read = 0;
  return {
    ...watched,
    async nextLine(timeoutMs = LINE_TIMEOUT_MS) {
      await watched.waitUntil(
        () => watched.lines[read] !== undefined,
        timeoutMs,
        (exit) =>
          exit === null
            ? `${script} printed no line in ${timeoutMs} ms; stderr: ${watched.stderr()}`
            : `${script} exited (code ${exit.code}, signal ${exit.signal}) before printing a line; ` +
              `stderr: ${watched.stderr()}`,
      );
      const line = watched.lines[read] ?? '';
      read += 1;
      return line;
    },
    waitForLine: (line, timeoutMs) =>
      watched.waitUntil(
        () => watched.lines.includes(line),
        timeoutMs,
        (exit) =>
          exit === null
            ? `${script}: no line '${line}' within ${timeoutMs} ms; stderr: ${watched.stderr()}`
            : `${script} exited before printing '${line}'; stderr: ${watched.stderr()}`,
      ),
    send(line) {
      watched.process.stdin.write(`${line}\n`);
    },
  };
}
