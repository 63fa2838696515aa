import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ExitCode } from '../exit.js';
import { colorStatus, formatTime, pc } from '../render.js';
import type { DemoSettings } from './graph.js';
import {
  isWorkerMessage,
  type ParentMessage,
  type SharedStoreSpec,
  type WorkerMessage,
} from './messages.js';

/*
 * The parent of `task-runtime demo --processes N`: forks N worker processes (`sharedWorker.js`), each opening the
 * same run shared with its own worker id, prints what each reports as one line naming the worker, forwards Ctrl-C
 * and SIGTERM to them as a graceful stop, and waits until every one has ended.
 */

/** How long a worker's lease on a task lasts unrenewed: how long a crashed worker's tasks wait to be taken over. */
export const WORKER_LEASE_MS = 3_000;

/**
 * How often each worker loads what the others saved (every task not merged yet): often on small runs, so that
 * the others see new work soon, and at most once a second.
 */
export function followMsFor(settings: DemoSettings): number {
  return Math.min(1_000, Math.max(50, 2 * settings.tasks));
}

/** The worker ids of a demo with `processes` worker processes: `worker-1` … `worker-N`. */
export function workerIdsOf(processes: number): string[] {
  return Array.from({ length: processes }, (_, index) => `worker-${index + 1}`);
}

/** What {@link runWorkerProcesses} needs. */
export interface WorkerProcessesRequest {
  readonly processes: number;
  readonly store: SharedStoreSpec;
  readonly settings: DemoSettings;
  /** Real milliseconds per simulated step, in each worker. */
  readonly delayMs: number;
  /** Width of the task id column (the longest id of the plan). */
  readonly idWidth: number;
  /** Prints one line on stdout. */
  readonly write: (line: string) => void;
  /** Prints one line on stderr. */
  readonly writeError: (line: string) => void;
}

/** How one worker process ended. */
export interface WorkerEnd {
  readonly workerId: string;
  /** Its exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or null. */
  readonly signal: NodeJS.Signals | null;
  /** What it reported before it ended: the run settled, or stopped; null when it died without saying. */
  readonly result: 'finished' | 'interrupted' | null;
}

/** How the worker processes ended, and whether the parent was interrupted (Ctrl-C, SIGTERM) meanwhile. */
export interface WorkerProcessesResult {
  readonly interrupted: boolean;
  readonly workers: readonly WorkerEnd[];
}

/** Whether the worker ended as it should: the run settled, or stopped because it was asked to. */
export function endedWell(worker: WorkerEnd): boolean {
  return (
    (worker.result === 'finished' && worker.code === ExitCode.OK) ||
    (worker.result === 'interrupted' && worker.code === ExitCode.INTERRUPTED)
  );
}

/** How a worker that did not end well ended, as a phrase: `exit code 1`, `killed by SIGKILL`. */
export function describeEnd(worker: WorkerEnd): string {
  return worker.signal === null ? `exit code ${worker.code}` : `killed by ${worker.signal}`;
}

/** The colours the worker names cycle through in a terminal. */
const WORKER_COLORS = [pc.cyan, pc.magenta, pc.blue, pc.yellow, pc.green] as const;

/** The path of the worker processes' entry, beside this module (in dist/cli/demo/). */
function workerEntry(): string {
  return fileURLToPath(new URL('./sharedWorker.js', import.meta.url));
}

/** A worker process being watched. */
interface Worker {
  readonly workerId: string;
  readonly label: string;
  readonly child: ChildProcess;
  result: 'finished' | 'interrupted' | null;
  /** Whether it said it opened the run. */
  opened: boolean;
}

/** Sends `message` to the worker if it still listens. */
function send(worker: Worker, message: ParentMessage): void {
  if (worker.child.connected) worker.child.send(message, (error) => void error);
}

/**
 * Forks the worker processes, prints their steps as they come, and resolves once every one has ended. The first
 * SIGINT or SIGTERM asks each to stop (it lets its agents finish their step, all of it saved); a second one kills
 * them at once and ends this process with exit code 130.
 */
export async function runWorkerProcesses(
  request: WorkerProcessesRequest,
): Promise<WorkerProcessesResult> {
  const { settings, store, delayMs, write, writeError } = request;
  const followMs = followMsFor(settings);
  const entry = workerEntry();
  let interrupted = false;
  const workers = workerIdsOf(request.processes).map((workerId, index): Worker => {
    const color = WORKER_COLORS[index % WORKER_COLORS.length] ?? pc.cyan;
    const child = fork(entry, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    return { workerId, label: color(workerId), child, result: null, opened: false };
  });
  const workerWidth = Math.max(...workers.map((worker) => worker.workerId.length));
  // Every worker starts working once all have opened the run (or ended trying), so that they start together.
  let waiting = workers.length;
  const oneLessToWait = (): void => {
    waiting -= 1;
    if (waiting === 0) for (const worker of workers) send(worker, { type: 'go' });
  };
  const show = (worker: Worker, message: WorkerMessage): void => {
    const label = worker.label + ' '.repeat(workerWidth - worker.workerId.length);
    switch (message.type) {
      case 'opened':
        write(
          `${label}  started (pid ${worker.child.pid}): up to ${settings.workers} agents at a time`,
        );
        worker.opened = true;
        oneLessToWait();
        break;
      case 'transition': {
        const { at, taskId, attemptNum, from, to, detail } = message;
        write(
          `${formatTime(at)}  ${label}  ${taskId.padEnd(request.idWidth)}  attempt ${attemptNum}  ` +
            `${colorStatus(from)} → ${colorStatus(to)}${detail === '' ? '' : `  ${detail}`}`,
        );
        break;
      }
      case 'note':
        write(`${label}  note: ${message.text}`);
        break;
      case 'done':
        worker.result = message.result;
        write(
          message.result === 'finished'
            ? `${label}  done: the run is settled`
            : `${label}  stopped, every step saved`,
        );
        break;
    }
  };
  const ended = workers.map(
    (worker) =>
      new Promise<WorkerEnd>((resolve) => {
        const { child, workerId } = worker;
        const forward = (stream: NodeJS.ReadableStream | null, print: (line: string) => void) => {
          if (stream === null) return;
          createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on(
            'line',
            (line) => print(`${worker.label}: ${line}`),
          );
        };
        forward(child.stdout, write);
        forward(child.stderr, writeError);
        child.on('message', (message: unknown) => {
          if (isWorkerMessage(message)) show(worker, message);
        });
        let failedToStart: Error | null = null;
        child.on('error', (error) => {
          failedToStart = error;
        });
        child.on('close', (code, signal) => {
          if (!worker.opened) oneLessToWait();
          const end: WorkerEnd = { workerId, code, signal, result: worker.result };
          if (failedToStart !== null) {
            writeError(`${worker.label}: could not run: ${failedToStart.message}`);
          } else if (!endedWell(end)) {
            write(
              interrupted
                ? `${worker.label}  died (${describeEnd(end)}) while stopping`
                : `${worker.label}  died (${describeEnd(end)}) before the run was settled; the other workers ` +
                    `take its tasks over once its leases run out (${WORKER_LEASE_MS / 1000} s)`,
            );
          }
          resolve(end);
        });
        send(worker, {
          type: 'start',
          config: {
            workerId,
            leaseMs: WORKER_LEASE_MS,
            followMs,
            store,
            settings,
            delayMs,
          },
        });
      }),
  );
  const onSignal = (): void => {
    if (interrupted) {
      for (const { child } of workers) child.kill('SIGKILL');
      process.exit(ExitCode.INTERRUPTED);
    }
    interrupted = true;
    write(
      'Stopping: each worker lets its agents finish their step (Ctrl-C again to kill them at once).',
    );
    for (const worker of workers) send(worker, { type: 'stop' });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const ends = await Promise.all(ended);
    return { interrupted, workers: ends };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
