import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import {
  type FileTaskStore,
  InvalidArgumentError,
  PostgresTaskStore,
  SnapshotError,
  TaskRuntimeError,
  type TaskStore,
} from '../../index.js';
import { DemoRun, isSettled, type RunObserver } from '../demo/DemoRun.js';
import { type DemoPlan, type DemoSettings, planDemo } from '../demo/graph.js';
import { LiveView } from '../demo/liveView.js';
import { deleteManifest, readManifest, writeManifest } from '../demo/manifest.js';
import type { SharedStoreSpec } from '../demo/messages.js';
import {
  describeEnd,
  endedWell,
  runWorkerProcesses,
  WORKER_LEASE_MS,
  workerIdsOf,
} from '../demo/processes.js';
import { type DemoReporter, PlainLog } from '../demo/reporter.js';
import { describeSettings, summarize, summarizeWorkers } from '../demo/summary.js';
import { CliError, EXIT_CODES_HELP, ExitCode } from '../exit.js';
import { integerIn, rate } from '../options.js';
import { dirFlag, shellQuote } from '../paths.js';
import {
  addStoreOptions,
  openStore,
  type StoreOptions,
  storeFlagsOf,
  storeLabelOf,
} from '../store.js';
import { DEFAULT_PORT } from './serve.js';

/** The options of `task-runtime demo`, as commander parses them. */
interface DemoOptions extends DemoSettings, StoreOptions {
  readonly fresh?: boolean;
  readonly delayMs: number;
  readonly processes: number;
}

/** The table `demo --pg` uses unless `--pg-table` says otherwise: not the orchestrators' default table. */
const DEMO_PG_TABLE = 'task_runtime_demo';

/** The most worker processes `--processes` starts. */
const MAX_PROCESSES = 16;

/** The store of a demo run, open, and how to name it. */
interface DemoStore {
  readonly store: TaskStore;
  /** The FileTaskStore (its directory holds the run manifest), or null on PostgreSQL. */
  readonly file: FileTaskStore | null;
  /** How to name the store in messages, e.g. `/tmp/store` or `postgresql://me@host/db (table t)`. */
  readonly label: string;
  /** The options to repeat in a suggested command line: ` --dir …`, or ` --pg … --pg-table …`. */
  readonly flags: string;
  /** What a worker process opens. */
  readonly spec: SharedStoreSpec;
}

/** The options that define a run, by their option attribute, with their flag. */
const RUN_OPTIONS = [
  ['tasks', '--tasks'],
  ['seed', '--seed'],
  ['failRate', '--fail-rate'],
  ['maxAttempts', '--max-attempts'],
  ['workers', '--workers'],
] as const;

const HELP_AFTER = `
A GraphWorker runs a graph of tasks (spec → tests → impl per feature, with seeded links between features)
on a DurableTaskGraphRuntime, with simulated agents as its work and merge handlers (--workers at a time).
Seeded agents fail now and then; a failed task is retried while attempts remain. The run keeps the graph's
rules: a task starts only once its dependencies merged, and a task whose dependency failed for good is failed
as blocked. Every step is saved in the task store before the next one.

Stopped (Ctrl-C) it lets the agents at work finish their step, then ends; killed (a second Ctrl-C, SIGKILL)
it ends at once. Started again, it resumes from the store: a task found running lost its agent, and is failed
as a lost attempt ('worker lost', not counted against --max-attempts) and retried; a task found pr_created
waits for its merge again. A finished run is shown, not redone.
The same options give the same summary every time; --fail-rate 0 gives a run without failures.
The run ends with exit code 0 when every task is settled, failed tasks included (they are part of the show).

--pg runs it on PostgreSQL (a PostgresTaskStore, its table created when missing; by default the table
${DEMO_PG_TABLE}, not the orchestrators' default) instead of the FileTaskStore in --dir. There is no
demo-run.json there: a run in the table is resumed when its tasks are the ones the options plan.

--processes N (2-${MAX_PROCESSES}) shows a run shared by many workers: the demo plans the graph, then starts N worker
processes (worker-1 … worker-N) that open the same run on the same store, each a GraphWorker with --workers
agents. Each line names the worker that saved the step; the summary ends with the attempts each worker ran.
Which worker takes which task is a race, so the history differs from run to run. A worker process that dies
is said so; the others take its tasks over once its leases run out (${WORKER_LEASE_MS / 1000} s), and the demo exits 0 when they
settle the run (1 when every worker ended with the run unsettled: run it again to resume). Ctrl-C stops every
worker gracefully (exit code 130); a second Ctrl-C kills them at once.

Examples:
  $ task-runtime demo
  $ task-runtime demo --tasks 30 --seed 7 --fail-rate 0.4 --dir /tmp/demo-store
  $ task-runtime demo --fresh --delay-ms 0
  $ task-runtime demo --fresh --processes 3 --tasks 30
  $ task-runtime demo --fresh --processes 4 --pg postgresql://me@127.0.0.1:5432/tasks
${EXIT_CODES_HELP}`;

/** `task-runtime demo`: a simulated orchestrator over a task store, resumable after a kill. */
export function createDemoCommand(): Command {
  const command = new Command('demo')
    .description(
      'run a simulated orchestrator over a task graph, saved in a task store (resumable)',
    )
    .addOption(
      new Option('-n, --tasks <n>', 'tasks in the graph (1-500)')
        .default(12)
        .argParser(integerIn(1, 500)),
    )
    .addOption(
      new Option('-s, --seed <seed>', 'seed of every random choice (0-4294967295)')
        .default(42)
        .argParser(integerIn(0, 4_294_967_295)),
    )
    .addOption(
      new Option('--fail-rate <rate>', 'probability that an agent attempt fails (0-1)')
        .default(0.25)
        .argParser(rate),
    )
    .addOption(
      new Option('--max-attempts <k>', 'attempts per task (1-20)')
        .default(3)
        .argParser(integerIn(1, 20)),
    )
    .addOption(
      new Option('--workers <n>', 'agents working at the same time (1-64)')
        .default(3)
        .argParser(integerIn(1, 64)),
    )
    .addOption(
      new Option('--delay-ms <ms>', 'real milliseconds per simulated step; 0 for instant (0-60000)')
        .default(20)
        .argParser(integerIn(0, 60_000)),
    )
    .addOption(
      new Option(
        '--processes <n>',
        `worker processes sharing the run, each with --workers agents (1-${MAX_PROCESSES})`,
      )
        .default(1)
        .argParser(integerIn(1, MAX_PROCESSES)),
    );
  addStoreOptions(command, 'run the demo on', DEMO_PG_TABLE);
  return command
    .option('--fresh', 'delete the stored tasks first and start a new run')
    .addHelpText('after', HELP_AFTER)
    .action(async (options: DemoOptions, command: Command) => {
      await runDemo(options, explicitRunOptions(command));
    });
}

/** The run-defining options given on the command line (not defaulted), by attribute name. */
function explicitRunOptions(command: Command): ReadonlySet<string> {
  return new Set(
    RUN_OPTIONS.map(([key]) => key).filter((key) => command.getOptionValueSource(key) === 'cli'),
  );
}

function settingsOf(options: DemoOptions): DemoSettings {
  const { tasks, seed, failRate, maxAttempts, workers } = options;
  return { tasks, seed, failRate, maxAttempts, workers };
}

/**
 * Opens the store the options name: the FileTaskStore in --dir, or the PostgresTaskStore's table at --pg, each
 * created when missing; one that cannot be used is a CliError that says why.
 */
async function openDemoStore(options: DemoOptions): Promise<DemoStore> {
  const label = storeLabelOf(options);
  if (options.pg === undefined) {
    const file = await openStore(options.dir);
    const spec: SharedStoreSpec = { kind: 'file', dir: resolve(options.dir) };
    return { store: file, file, label, flags: storeFlagsOf(options), spec };
  }
  const connectionString = options.pg;
  const table = options.pgTable;
  let store: TaskStore;
  try {
    store = await PostgresTaskStore.connect({ connectionString, table, maxConnections: 4 });
  } catch (error) {
    if (error instanceof TaskRuntimeError)
      throw new CliError(`Cannot use ${label}: ${error.message}`);
    throw error;
  }
  return {
    store,
    file: null,
    label,
    flags: storeFlagsOf(options),
    spec: { kind: 'pg', connectionString, table },
  };
}

/** The run to show: its settings, and whether the store already holds it (resumed, or shown when finished). */
interface RunChoice {
  readonly settings: DemoSettings;
  readonly resuming: boolean;
}

/** A FileTaskStore's run: the one its manifest records, else a new one with the options' settings. */
async function fileRunOf(
  file: FileTaskStore,
  options: DemoOptions,
  explicit: ReadonlySet<string>,
): Promise<RunChoice> {
  const { dir } = options;
  const stored = await readManifest(file.dir);
  if (stored !== null) {
    checkSameRun(stored, options, explicit, dir);
    return { settings: stored, resuming: true };
  }
  const ids = await file.list();
  if (ids.length > 0) {
    throw new CliError(
      `The store ${shellQuote(dir)} holds ${ids.length} task(s) that no demo run wrote (there is no demo-run.json). ` +
        'Add --fresh to delete them and start a demo run, or use another --dir.',
    );
  }
  const settings = settingsOf(options);
  await writeManifest(file.dir, settings);
  return { settings, resuming: false };
}

/**
 * A PostgreSQL table's run, which keeps no manifest: the options' settings, resumed when the table holds tasks and
 * every one is a task they plan (a task of another plan is refused when the run opens).
 */
async function pgRunOf(target: DemoStore, options: DemoOptions): Promise<RunChoice> {
  const settings = settingsOf(options);
  const planned = new Set(planDemo(settings).graph.taskIds);
  const ids = await target.store.list();
  const foreign = ids.filter((id) => !planned.has(id));
  if (foreign.length > 0) {
    const some = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', …' : '');
    throw new CliError(
      `${target.label} holds ${foreign.length} task(s) this demo run does not plan (${some}): a demo ` +
        'run with other options, or another program, wrote them. Give the options of that run to resume it, add ' +
        '--fresh to delete every task in the table and start over, or use another --pg-table.',
    );
  }
  return { settings, resuming: ids.length > 0 };
}

async function runDemo(options: DemoOptions, explicit: ReadonlySet<string>): Promise<void> {
  const target = await openDemoStore(options);
  const { store, label } = target;
  try {
    if (options.fresh === true) await deleteRun(target);
    const { settings, resuming } =
      target.file === null
        ? await pgRunOf(target, options)
        : await fileRunOf(target.file, options, explicit);
    const plan = planDemo(settings);
    if (options.processes > 1) {
      await runShared(target, plan, resuming, options);
      return;
    }
    const reporter: DemoReporter =
      process.stdout.isTTY === true
        ? new LiveView(process.stdout)
        : new PlainLog((line) => console.log(line));
    const run = await openRun(store, plan, reporter, target.flags);
    if (resuming && run.isFinished) {
      console.log(
        `The demo run in ${label} already finished; here is its summary. Add --fresh to start a new run.\n`,
      );
      printSummary(settings, run, target);
      return;
    }
    console.log(
      resuming
        ? `Resuming the demo run in ${label} (${describeSettings(settings)}): ` +
            `${run.tasks.filter(isSettled).length} of ${run.tasks.length} tasks settled.`
        : `Starting a demo run in ${label} (${describeSettings(settings)}).`,
    );
    const result = await executeWithSignals(run, reporter, options.delayMs);
    if (result === 'interrupted') {
      throw new CliError(
        `Interrupted. Every step so far is saved in ${label}; run the same command again to resume.`,
        ExitCode.INTERRUPTED,
      );
    }
    console.log('');
    printSummary(settings, run, target);
  } finally {
    await store.close();
  }
}

/** Tells nothing: the run opened again once the worker processes ended, to read how they left it. */
const QUIET: RunObserver = {
  note: () => undefined,
  transition: () => undefined,
  rejection: () => undefined,
};

/**
 * `--processes N`: opens the run here (creating its tasks, completing what a crash interrupted), then has N worker
 * processes work it together, and prints the summary once they all ended. Exits 0 when the run is settled, even
 * if a worker died on the way; 130 when interrupted; 1 when every worker ended with the run unsettled.
 */
async function runShared(
  target: DemoStore,
  plan: DemoPlan,
  resuming: boolean,
  options: DemoOptions,
): Promise<void> {
  const { settings } = plan;
  const { label } = target;
  const workerIds = workerIdsOf(options.processes);
  const opened = await openRun(
    target.store,
    plan,
    new PlainLog((line) => console.log(line)),
    target.flags,
  );
  if (resuming && opened.isFinished) {
    console.log(
      `The demo run in ${label} already finished; here is its summary. Add --fresh to start a new run.\n`,
    );
    printSummary(settings, opened, target, workerIds);
    return;
  }
  const processes = `${options.processes} worker processes`;
  console.log(
    resuming
      ? `Resuming the demo run in ${label} (${describeSettings(settings)}) with ${processes}: ` +
          `${opened.tasks.filter(isSettled).length} of ${opened.tasks.length} tasks settled.`
      : `Starting a demo run in ${label} (${describeSettings(settings)}) with ${processes} sharing the store.`,
  );
  const { interrupted, workers } = await runWorkerProcesses({
    processes: options.processes,
    store: target.spec,
    settings,
    delayMs: options.delayMs,
    idWidth: Math.max(...plan.graph.taskIds.map((id) => id.length)),
    write: (line) => console.log(line),
    writeError: (line) => process.stderr.write(`${line}\n`),
  });
  const run = await openRun(target.store, plan, QUIET, target.flags);
  const died = workers.filter((worker) => !endedWell(worker));
  if (!run.isFinished) {
    const settled = `${run.tasks.filter(isSettled).length} of ${run.tasks.length} tasks settled`;
    if (interrupted) {
      throw new CliError(
        `Interrupted (${settled}). Every step so far is saved in ${label}; run the same command again to resume.`,
        ExitCode.INTERRUPTED,
      );
    }
    const ends = died.map((worker) => `${worker.workerId}: ${describeEnd(worker)}`).join(', ');
    throw new CliError(
      `The worker processes ended before the run was settled (${ends}): ${settled}, every step saved in ` +
        `${label}. Run the same command again to resume.`,
    );
  }
  console.log('');
  printSummary(
    settings,
    run,
    target,
    workerIds,
    died.map(
      (worker) =>
        `${worker.workerId} died (${describeEnd(worker)}); the other workers finished the run without it.`,
    ),
  );
}

/** Deletes the manifest first, then every stored task: a kill halfway leaves no manifest over old tasks. */
async function deleteRun(target: DemoStore): Promise<void> {
  const { store, file } = target;
  if (file !== null) await deleteManifest(file.dir);
  const ids = await store.list();
  for (const id of ids) {
    let stored: Awaited<ReturnType<TaskStore['load']>>;
    try {
      stored = await store.load(id);
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      const byHand =
        file === null
          ? `Delete its row from the table by hand`
          : `Remove the directory ${shellQuote(file.dir)} by hand`;
      throw new CliError(
        `Cannot delete task '${id}'. ${error.message} ${byHand}, then run the demo again.`,
      );
    }
    if (stored !== null) await store.delete(id, { expectedRevision: stored.revision });
  }
  if (ids.length > 0) console.log(`Deleted ${ids.length} stored task(s) from ${target.label}.`);
}

/** Refuses run-defining options that contradict the stored, unfinished run. */
function checkSameRun(
  stored: DemoSettings,
  options: DemoOptions,
  explicit: ReadonlySet<string>,
  dir: string,
): void {
  const conflicts = RUN_OPTIONS.filter(
    ([key]) => explicit.has(key) && options[key] !== stored[key],
  ).map(([key, flag]) => `${flag} ${options[key]} (the stored run has ${stored[key]})`);
  if (conflicts.length === 0) return;
  throw new CliError(
    `The store ${shellQuote(dir)} holds a demo run started with ${describeSettings(stored)}; you gave ${conflicts.join(', ')}. ` +
      `Run \`task-runtime demo${dirFlag(dir)}\` to resume (or show) it, or add --fresh to start a new run with your options.`,
  );
}

async function openRun(
  store: TaskStore,
  plan: DemoPlan,
  observer: RunObserver,
  flags: string,
): Promise<DemoRun> {
  try {
    return await DemoRun.open(store, plan, observer);
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      const elsewhere = flags.startsWith(' --pg') ? '--pg-table' : '--dir';
      throw new CliError(
        `${error.message} The store holds a task this demo run does not plan (another run or program wrote it). ` +
          `Add --fresh to delete the stored tasks and start over, or use another ${elsewhere}.`,
      );
    }
    if (!(error instanceof SnapshotError)) throw error;
    throw new CliError(
      `${error.message} The stored run cannot go on: add --fresh to start a new one` +
        ` (\`task-runtime status${flags}\` shows which tasks are damaged).`,
    );
  }
}

/** Runs to the end; the first Ctrl-C (or SIGTERM) stops after the current step, a second one at once. */
async function executeWithSignals(
  run: DemoRun,
  reporter: DemoReporter,
  delayMs: number,
): Promise<'finished' | 'interrupted'> {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      reporter.stop();
      process.exit(ExitCode.INTERRUPTED);
    }
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    reporter.attach(run);
    return await run.execute({ delayMs, signal: controller.signal });
  } finally {
    reporter.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The summary, then (a shared run) what each worker did and what became of it, then where to look closer. */
function printSummary(
  settings: DemoSettings,
  run: DemoRun,
  target: DemoStore,
  workerIds: readonly string[] | null = null,
  workerNotes: readonly string[] = [],
): void {
  for (const line of summarize(settings, run.tasks)) console.log(line);
  if (workerIds !== null) {
    console.log('');
    for (const line of summarizeWorkers(workerIds, run.tasks)) console.log(line);
    for (const note of workerNotes) console.log(note);
  }
  const { label, flags } = target;
  console.log(
    `\nSaved in ${label}. Look closer: task-runtime status${flags} · task-runtime history <task-id>${flags}`,
  );
  console.log(
    `See it live in the browser: task-runtime serve${flags}, then open http://127.0.0.1:${DEFAULT_PORT}/`,
  );
}
