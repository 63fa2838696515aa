import { MultiBar, type SingleBar } from 'cli-progress';
import type { RejectionRecord, TaskGraphTaskView, TransitionRecord } from '../../index.js';
import { colorStatus, formatTime, pc, table } from '../render.js';
import { type DemoRun, isSettled } from './DemoRun.js';
import { type DemoReporter, transitionDetail } from './reporter.js';

/** Rows of the table before and after the task rows: the progress bar, the header, a margin. */
const CHROME_ROWS = 4;

const RANK: Record<string, number> = { running: 0, pr_created: 1, failed: 2, pending: 3 };

/** What a task row says after its status. */
function rowDetail(task: TaskGraphTaskView, demo: DemoRun): string {
  switch (task.status) {
    case 'running':
      return `agent ${task.artifacts.agentAddress?.label ?? '?'} working`;
    case 'pr_created':
      return `in review: ${task.artifacts.prUrl ?? ''}`;
    case 'failed':
      return pc.red(task.state.error ?? '');
    case 'pr_merged':
      return task.artifacts.prUrl ?? '';
    default: {
      const waiting = task.task.dependencies.filter(
        (id) => demo.run.task(id).status !== 'pr_merged',
      );
      return waiting.length > 0 ? pc.dim(`waiting for ${waiting.join(', ')}`) : pc.dim('ready');
    }
  }
}

/**
 * The terminal view: a progress bar (cli-progress) over a status table, redrawn in place. With more tasks
 * than the terminal has rows, the busiest tasks are shown first.
 */
export class LiveView implements DemoReporter {
  readonly #stream: NodeJS.WriteStream;
  #multibar: MultiBar | null = null;
  #bar: SingleBar | null = null;
  #rows: SingleBar[] = [];
  #run: DemoRun | null = null;

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  attach(run: DemoRun): void {
    this.#run = run;
    const multibar = new MultiBar({
      stream: this.#stream,
      format: `{bar} {value}/{total} settled | ${pc.green('{merged} merged')} | ${pc.red('{failed} failed')} | {time}`,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      fps: 12,
      barCompleteChar: '█',
      barIncompleteChar: '░',
    });
    this.#multibar = multibar;
    this.#bar = multibar.create(run.tasks.length, 0, {});
    const room = Math.max(3, (this.#stream.rows ?? 24) - CHROME_ROWS);
    const lines = Math.min(run.tasks.length + 1, room);
    this.#rows = Array.from({ length: lines }, () =>
      multibar.create(1, 0, { line: '' }, { format: (_o, _p, payload) => String(payload.line) }),
    );
    this.#refresh();
  }

  note(text: string): void {
    this.#multibar?.log(`${pc.yellow('note:')} ${text}\n`);
  }

  transition(record: TransitionRecord, task: TaskGraphTaskView): void {
    if (record.to === 'failed' && record.from !== 'failed') {
      this.#multibar?.log(
        `${formatTime(record.at)}  ${record.taskId} attempt ${record.attemptNum} failed: ${transitionDetail(record, task)}\n`,
      );
    }
    this.#refresh();
  }

  rejection(record: RejectionRecord): void {
    this.#multibar?.log(
      `${pc.red('refused:')} ${record.taskId} ${record.event} in ${record.status} (${record.reason})\n`,
    );
  }

  stop(): void {
    this.#refresh();
    this.#multibar?.stop();
    this.#multibar = null;
  }

  #refresh(): void {
    const run = this.#run;
    if (run === null || this.#bar === null) return;
    const counts = { merged: 0, failed: 0 };
    for (const task of run.tasks) {
      if (task.status === 'pr_merged') counts.merged += 1;
      if (task.status === 'failed') counts.failed += 1;
    }
    this.#bar.update(run.tasks.filter(isSettled).length, {
      ...counts,
      time: `simulated ${formatTime(run.clock.read().toISOString())}`,
    });
    const slots = this.#rows.length - 1;
    const shown =
      run.tasks.length <= slots
        ? run.tasks
        : [...run.tasks]
            .map((task, index) => ({ task, index, rank: RANK[task.status] ?? 4 }))
            .sort((a, b) => a.rank - b.rank || a.index - b.index)
            .slice(0, slots - 1)
            .map(({ task }) => task);
    const lines = table(
      [
        ['task', 'status'.padEnd('pr_created'.length), 'attempt', ''],
        ...shown.map((task) => [
          task.task.id,
          colorStatus(task.status),
          String(task.state.attemptNum),
          rowDetail(task, run),
        ]),
      ],
      ' ',
    );
    if (shown.length < run.tasks.length) {
      lines.push(pc.dim(` … and ${run.tasks.length - shown.length} more tasks`));
    }
    this.#rows.forEach((row, index) => {
      row.update(0, { line: index === 0 ? pc.bold(lines[0] ?? '') : (lines[index] ?? '') });
    });
  }
}
