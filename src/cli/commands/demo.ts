import { Command, Option } from 'commander';
import { type FileTaskStore, InvalidArgumentError, SnapshotError } from '../../index.js';
import { DemoRun, isSettled } from '../demo/DemoRun.js';
import { type DemoSettings, planDemo } from '../demo/graph.js';
import { LiveView } from '../demo/liveView.js';
import { deleteManifest, readManifest, writeManifest } from '../demo/manifest.js';
import { type DemoReporter, PlainLog } from '../demo/reporter.js';
import { describeSettings, summarize } from '../demo/summary.js';
import { CliError, EXIT_CODES_HELP, ExitCode } from '../exit.js';
import { dirOption, integerIn, rate } from '../options.js';
import { dirFlag, shellQuote } from '../paths.js';
import { openStore } from '../store.js';
import { DEFAULT_PORT } from './serve.js';

/** The options of `task-runtime demo`, as commander parses them. */
interface DemoOptions extends DemoSettings {
  readonly dir: string;
  readonly fresh?: boolean;
  readonly delayMs: number;
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
as blocked. Every step is saved in a FileTaskStore before the next one.

Stopped (Ctrl-C) it lets the agents at work finish their step, then ends; killed (a second Ctrl-C, SIGKILL)
it ends at once. Started again, it resumes from the store: a task found running lost its agent, and is failed
as a lost attempt ('worker lost', not counted against --max-attempts) and retried; a task found pr_created
waits for its merge again. A finished run is shown, not redone.
The same options give the same summary every time; --fail-rate 0 gives a run without failures.
The run ends with exit code 0 when every task is settled, failed tasks included (they are part of the show).

Examples:
  $ task-runtime demo
  $ task-runtime demo --tasks 30 --seed 7 --fail-rate 0.4 --dir /tmp/demo-store
  $ task-runtime demo --fresh --delay-ms 0
${EXIT_CODES_HELP}`;

/** `task-runtime demo`: a simulated orchestrator over a FileTaskStore, resumable after a kill. */
export function createDemoCommand(): Command {
  return new Command('demo')
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
    .addOption(dirOption())
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

async function runDemo(options: DemoOptions, explicit: ReadonlySet<string>): Promise<void> {
  const { dir } = options;
  const store = await openStore(dir);
  try {
    if (options.fresh === true) await deleteRun(store, dir);
    const stored = await readManifest(store.dir);
    const settings = stored ?? settingsOf(options);
    if (stored === null) {
      const ids = await store.list();
      if (ids.length > 0) {
        throw new CliError(
          `The store ${shellQuote(dir)} holds ${ids.length} task(s) that no demo run wrote (there is no demo-run.json). ` +
            'Add --fresh to delete them and start a demo run, or use another --dir.',
        );
      }
      await writeManifest(store.dir, settings);
    } else {
      checkSameRun(stored, options, explicit, dir);
    }
    const plan = planDemo(settings);
    const reporter: DemoReporter =
      process.stdout.isTTY === true
        ? new LiveView(process.stdout)
        : new PlainLog((line) => console.log(line));
    const run = await openRun(store, plan, reporter, dir);
    if (stored !== null && run.isFinished) {
      console.log(
        `The demo run in ${shellQuote(dir)} already finished; here is its summary. Add --fresh to start a new run.\n`,
      );
      printSummary(settings, run, dir);
      return;
    }
    console.log(
      stored === null
        ? `Starting a demo run in ${shellQuote(dir)} (${describeSettings(settings)}).`
        : `Resuming the demo run in ${shellQuote(dir)} (${describeSettings(settings)}): ` +
            `${run.tasks.filter(isSettled).length} of ${run.tasks.length} tasks settled.`,
    );
    const result = await executeWithSignals(run, reporter, options.delayMs);
    if (result === 'interrupted') {
      throw new CliError(
        `Interrupted. Every step so far is saved in ${shellQuote(dir)}; run the same command again to resume.`,
        ExitCode.INTERRUPTED,
      );
    }
    console.log('');
    printSummary(settings, run, dir);
  } finally {
    await store.close();
  }
}

/** Deletes the manifest first, then every stored task: a kill halfway leaves no manifest over old tasks. */
async function deleteRun(store: FileTaskStore, dir: string): Promise<void> {
  await deleteManifest(store.dir);
  const ids = await store.list();
  for (const id of ids) {
    let stored: Awaited<ReturnType<FileTaskStore['load']>>;
    try {
      stored = await store.load(id);
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      throw new CliError(
        `Cannot delete task '${id}'. ${error.message} Remove the directory ${shellQuote(store.dir)} by hand, then run the demo again.`,
      );
    }
    if (stored !== null) await store.delete(id, { expectedRevision: stored.revision });
  }
  if (ids.length > 0) console.log(`Deleted ${ids.length} stored task(s) from ${shellQuote(dir)}.`);
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
  store: FileTaskStore,
  plan: ReturnType<typeof planDemo>,
  reporter: DemoReporter,
  dir: string,
): Promise<DemoRun> {
  try {
    return await DemoRun.open(store, plan, reporter);
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      throw new CliError(
        `${error.message} The store holds a task this demo run does not plan (another run or program wrote it). ` +
          'Add --fresh to delete the stored tasks and start over, or use another --dir.',
      );
    }
    if (!(error instanceof SnapshotError)) throw error;
    throw new CliError(
      `${error.message} The stored run cannot go on: add --fresh to start a new one` +
        ` (\`task-runtime status${dirFlag(dir)}\` shows which tasks are damaged).`,
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

function printSummary(settings: DemoSettings, run: DemoRun, dir: string): void {
  for (const line of summarize(settings, run.tasks)) console.log(line);
  console.log(
    `\nSaved in ${shellQuote(dir)}. Look closer: task-runtime status${dirFlag(dir)} · ` +
      `task-runtime history <task-id>${dirFlag(dir)}`,
  );
  console.log(
    `See it live in the browser: task-runtime serve${dirFlag(dir)}, then open http://127.0.0.1:${DEFAULT_PORT}/`,
  );
}
