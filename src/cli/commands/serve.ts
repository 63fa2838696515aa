import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import type { DashboardServer } from '../../dashboard/server.js';
import { StoreSlot } from '../../dashboard/storeSlot.js';
import type { TaskStore } from '../../index.js';
import { CliError, ExitCode } from '../exit.js';
import { integerIn } from '../options.js';
import {
  addStoreOptions,
  openNamedStoreOnceThere,
  type StoreOpening,
  type StoreOptions,
} from '../store.js';

/** The port `serve` listens on unless `--port` says otherwise. */
export const DEFAULT_PORT = 4280;

/** How often `serve` looks again for a store that is not there yet. */
const LOOK_AGAIN_MS = 500;

const HELP_AFTER = `
A read-only web dashboard over a task store: the run's outcome, counts per status, the lifecycle diagram
with each state's count, the dependency graph coloured by status (blocked tasks marked), the run's timeline
(a row per task, a bar per attempt coloured by outcome and labelled with its worker), and a table of every
task with the worker holding it and its lease's expiry, in the run's order (dependencies first) or the latest
change first, that you can filter by status and search by id; a page per task (spec, state, lease,
artifacts, attempt timeline, raw snapshot). Times are in UTC. What any process saves appears in open pages
within about a second, without a reload. JSON for other tools: /api/tasks (?sort=recent) and
/api/tasks/<id>. Every asset is served by the command itself (works offline).

It may start before the orchestrator: a --dir that does not exist yet (or holds no store yet), a --pg
server that does not answer yet or a table not created yet, is waited for. It prints that it waits, its
pages say so, and they show the store once it appears (it never creates anything itself).

It listens on 127.0.0.1 (this machine only) unless --host says otherwise; the dashboard has no
authentication, so another --host lets anyone who can reach it read every stored task. It never writes to
the store. Stop it with Ctrl-C (exit code 0).

Examples:
  $ task-runtime serve
  $ task-runtime serve --dir /tmp/store --port 0
  $ task-runtime serve --pg postgresql://me@127.0.0.1:5432/tasks

Exit codes:
  0    stopped with Ctrl-C or SIGTERM
  1    the store cannot be read (and will not appear by waiting), or the address cannot be listened on
  2    usage error (unknown option, bad option value, both --dir and --pg)`;

/** The options of `task-runtime serve`, as commander parses them. */
interface ServeOptions extends StoreOptions {
  readonly port: number;
  readonly host: string;
}

/** Why the server could not listen, as a sentence with what to do. */
function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): string {
  if (error.code === 'EADDRINUSE') {
    return `Port ${port} on ${host} is in use. Pass another --port, or --port 0 for any free port.`;
  }
  if (error.code === 'EACCES') {
    return `Not allowed to listen on port ${port} (ports below 1024 need privileges). Pass another --port.`;
  }
  return `Cannot listen on ${host}:${port}: ${error.message}. Check --host (an address of this machine).`;
}

/**
 * Listens for Ctrl-C and SIGTERM from now on: the returned promise resolves on the first one once `isServing()`,
 * while before that (still connecting) the process ends at once with exit code 130.
 */
function stopRequested(isServing: () => boolean): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (!isServing()) process.exit(ExitCode.INTERRUPTED);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * Looks for the store every {@link LOOK_AGAIN_MS} until it is there, then fills `slot` with it; says on stdout
 * when the reason it waits for changes and when the store appeared. Resolves with the store (null once
 * `stopped()`), rejects with the CliError of a store that will not appear by waiting.
 */
async function fillOnceThere(
  options: StoreOptions,
  first: StoreOpening,
  slot: StoreSlot,
  stopped: () => boolean,
): Promise<TaskStore | null> {
  if (first.store !== null) return first.store;
  let opening: StoreOpening = first;
  while (opening.store === null) {
    await new Promise((resolve) => setTimeout(resolve, LOOK_AGAIN_MS));
    if (stopped()) return null;
    const reason: string = opening.notYet;
    opening = await openNamedStoreOnceThere(options);
    if (stopped()) {
      await opening.store?.close();
      return null;
    }
    if (opening.store === null && opening.notYet !== reason) {
      slot.wait(opening.notYet);
      console.log(`Still waiting for the task store ${opening.label}: ${opening.notYet}.`);
    }
  }
  slot.fill(opening.store);
  console.log(`The task store ${opening.label} is there now; the dashboard shows it.`);
  return opening.store;
}

/** `task-runtime serve`: the live, read-only dashboard over a store, until Ctrl-C. */
export function createServeCommand(): Command {
  const command = new Command('serve').description(
    'serve a live, read-only dashboard of a task store in the browser',
  );
  addStoreOptions(command, 'serve');
  return command
    .addOption(
      new Option('-p, --port <port>', 'the port to listen on; 0 for any free port (0-65535)')
        .default(DEFAULT_PORT)
        .argParser(integerIn(0, 65_535)),
    )
    .addOption(
      new Option(
        '--host <address>',
        'the address to listen on; anything but loopback is reachable by others',
      )
        .default('127.0.0.1')
        .argParser((value) => {
          if (value.trim() === '' || /[\s/]/.test(value)) {
            throw new InvalidArgumentError('Expected an IP address or a host name.');
          }
          return value;
        }),
    )
    .addHelpText('after', HELP_AFTER)
    .action(async (options: ServeOptions) => {
      // Listening for Ctrl-C before anything is printed: whoever reads the URL may stop the server at once.
      let server: DashboardServer | null = null;
      const stop = stopRequested(() => server !== null);
      const opening = await openNamedStoreOnceThere(options);
      const { label } = opening;
      const slot = new StoreSlot(opening.store, opening.notYet ?? undefined);
      let stopped = false;
      // Loaded here, so that the other commands never load Hono.
      const { isLoopback, startDashboard } = await import('../../dashboard/server.js');
      try {
        try {
          server = await startDashboard({
            store: slot,
            storeLabel: label,
            host: options.host,
            port: options.port,
          });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (typeof code !== 'string') throw error;
          throw new CliError(
            listenProblem(error as NodeJS.ErrnoException, options.host, options.port),
          );
        }
        if (opening.notYet !== null) {
          console.log(
            `Waiting for the task store ${label}: ${opening.notYet}. The dashboard shows it once it appears.`,
          );
        }
        console.log(`Serving ${label} at ${server.url}`);
        if (!isLoopback(options.host)) {
          process.stderr.write(
            `${pc.yellow(`warning: listening on ${options.host}: the dashboard has no authentication, so anyone who can reach this address and port can read every stored task.`)}\n`,
          );
        }
        console.log('Read-only; live updates as tasks are saved. Press Ctrl-C to stop.');
        // A store that will not appear by waiting (say, a wrong password once the server is up) ends the command.
        const found = fillOnceThere(options, opening, slot, () => stopped);
        found.catch(() => undefined); // heard through `failed` below, or after Ctrl-C not at all
        const failed = found.then(() => stop);
        await Promise.race([stop, failed]);
        stopped = true;
        await server.close();
        console.log('Stopped.');
        process.exitCode = ExitCode.OK;
      } finally {
        stopped = true;
        await server?.close().catch(() => undefined);
        await slot.store?.close();
      }
    });
}
