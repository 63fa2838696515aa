import type { TaskGraphTaskView, TransitionRecord } from '../../index.js';
import { colorStatus, formatTime } from '../render.js';
import type { DemoRun, RunObserver } from './DemoRun.js';

/** Shows a run as it goes: the orchestrator's observer, attached to the run once it is open. */
export interface DemoReporter extends RunObserver {
  /** Called once the run is open, before its first step. */
  attach(run: DemoRun): void;
  /** Called when the run ends (finished, interrupted or failed); the reporter releases the terminal. */
  stop(): void;
}

/** What a transition adds to its line: the error of a failure, the PR of a PR, the retry. */
export function transitionDetail(record: TransitionRecord, task: TaskGraphTaskView): string {
  if (record.to === 'failed') return task.state.error ?? '';
  if (record.to === 'pr_created') return task.artifacts.prUrl ?? '';
  if (record.event === 'RETRY') return 'retry';
  return '';
}

/** One plain line per status change, for logs and pipes: `2026-01-05 09:12:00  spec-login  attempt 0  pending → running`. */
export class PlainLog implements DemoReporter {
  readonly #write: (line: string) => void;
  #idWidth = 0;

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  attach(run: DemoRun): void {
    this.#idWidth = Math.max(0, ...run.tasks.map((task) => task.task.id.length));
  }

  note(text: string): void {
    this.#write(`note: ${text}`);
  }

  transition(record: TransitionRecord, task: TaskGraphTaskView): void {
    if (record.from === record.to) return;
    const detail = transitionDetail(record, task);
    this.#write(
      `${formatTime(record.at)}  ${record.taskId.padEnd(this.#idWidth)}  attempt ${record.attemptNum}  ` +
        `${colorStatus(record.from)} → ${colorStatus(record.to)}${detail === '' ? '' : `  ${detail}`}`,
    );
  }

  rejection(record: { taskId: string; event: string; status: string; reason: string }): void {
    this.#write(`refused: ${record.taskId} ${record.event} in ${record.status} (${record.reason})`);
  }

  stop(): void {}
}
