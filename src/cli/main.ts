#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { TaskRuntimeError } from '../index.js';
import { createDemoCommand } from './commands/demo.js';
import { createDiagramCommand } from './commands/diagram.js';
import { createGraphCommand } from './commands/graph.js';
import { createHistoryCommand } from './commands/history.js';
import { createReopenCommand } from './commands/reopen.js';
import { createServeCommand } from './commands/serve.js';
import { createStatusCommand } from './commands/status.js';
import { createValidateCommand } from './commands/validate.js';
import { CliError, EXIT_CODES_HELP, ExitCode } from './exit.js';
import { pcError } from './render.js';

/** Commander error codes that mean the command line itself was wrong: exit code 2. */
const USAGE_ERRORS = new Set([
  'commander.unknownCommand',
  'commander.unknownOption',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.invalidArgument',
  'commander.excessArguments',
  'commander.conflictingOption',
]);

function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const { version } = JSON.parse(text) as { version?: unknown };
  return typeof version === 'string' ? version : 'unknown';
}

/** Throws instead of exiting, and shows where help is after a usage error, on `command` and every subcommand. */
function configure(command: Command, path: string): void {
  command
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(pcError.red(text)) })
    .showHelpAfterError(`(see \`${path} --help\`)`);
  for (const sub of command.commands) configure(sub, `${path} ${sub.name()}`);
}

/** The `task-runtime` program with all its commands. */
function createProgram(): Command {
  const program = new Command('task-runtime')
    .description(
      'See and drive task-runtime task stores: run a demo, list tasks, show attempt histories, reopen a failed task.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .addCommand(createDemoCommand())
    .addCommand(createStatusCommand())
    .addCommand(createHistoryCommand())
    .addCommand(createGraphCommand())
    .addCommand(createDiagramCommand())
    .addCommand(createReopenCommand())
    .addCommand(createValidateCommand())
    .addCommand(createServeCommand())
    .addHelpText(
      'after',
      `\nRun \`task-runtime <command> --help\` for a command's options.\n${EXIT_CODES_HELP}`,
    );
  configure(program, 'task-runtime');
  return program;
}

/** The exit code for `error`, after telling the user about it on stderr when commander has not already. */
function report(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.help') return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    return USAGE_ERRORS.has(error.code) ? ExitCode.USAGE : error.exitCode;
  }
  if (error instanceof CliError) {
    const text =
      error.exitCode === ExitCode.INTERRUPTED ? error.message : `error: ${error.message}`;
    process.stderr.write(`${pcError.red(text)}\n`);
    return error.exitCode;
  }
  if (error instanceof TaskRuntimeError) {
    process.stderr.write(`${pcError.red(`error: ${error.message}`)}\n`);
    return ExitCode.FAILURE;
  }
  process.stderr.write(
    `${pcError.red('error: unexpected failure; this is a bug in task-runtime, please report it with the command you ran.')}\n` +
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return ExitCode.FAILURE;
}

/**
 * Ends the process quietly once the reader of `stream` has gone (`task-runtime --help | head -1`): the rest of the
 * output has nobody to read it. Any other write error is reported on stderr, with exit code 1.
 */
function exitWhenClosed(stream: NodeJS.WriteStream, name: string): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(Number(process.exitCode ?? ExitCode.OK));
    if (stream !== process.stderr)
      process.stderr.write(`error: cannot write to ${name}: ${error.message}\n`);
    process.exit(ExitCode.FAILURE);
  });
}

/** Runs the program on `argv` and returns the process exit code. */
async function main(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return Number(process.exitCode ?? ExitCode.OK);
  } catch (error) {
    return report(error);
  }
}

exitWhenClosed(process.stdout, 'stdout');
exitWhenClosed(process.stderr, 'stderr');
process.exitCode = await main(process.argv);
