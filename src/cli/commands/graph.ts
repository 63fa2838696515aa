import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  type DependencyNode,
  dependencyGraphDot,
  dependencyGraphJSON,
  dependencyGraphMermaid,
  dependencyNodesOf,
} from '../../diagram/dependencyGraph.js';
import { renderSvg } from '../../diagram/graphviz.js';
import { readStoredTasks, type StoredEntry } from '../../graph/storedTasks.js';
import { CliError, EXIT_CODES_HELP } from '../exit.js';
import { dirFlag, shellQuote } from '../paths.js';
import { addStoreOptions, damagedMessage, openNamedStore, type StoreOptions } from '../store.js';

const FORMATS = ['mermaid', 'svg', 'json'] as const;
type GraphFormat = (typeof FORMATS)[number];

const HELP_AFTER = `
Draws the stored tasks' dependency graph: an arrow from each dependency to the task that depends on it,
every task coloured by its status. A blocked task (failed because a dependency failed for good) has a
dashed red border and says \`blocked by <dependency>\`; an id that is depended on but not stored is drawn
as \`missing\`, a stored task that cannot be read as \`corrupt\` (and the exit code is 1).

Formats:
  mermaid  a Mermaid flowchart (the default: text that GitHub and most Markdown viewers draw)
  svg      an SVG image laid out by Graphviz
  json     { nodes: [{ id, role, status, blockedBy, dependencies }], edges: [{ from, to }] }, for other tools

Examples:
  $ task-runtime graph --dir .task-runtime
  $ task-runtime graph --format svg --output graph.svg
  $ task-runtime graph --pg postgresql://me@127.0.0.1:5432/tasks --pg-table task_runtime_demo
  $ task-runtime graph --format json | jq '.nodes[] | select(.blockedBy != null) | .id'
${EXIT_CODES_HELP}`;

/** The graph of `nodes` in `format`, ending with a newline. */
async function render(nodes: readonly DependencyNode[], format: GraphFormat): Promise<string> {
  switch (format) {
    case 'mermaid':
      return dependencyGraphMermaid(nodes);
    case 'svg':
      return renderSvg(dependencyGraphDot(nodes)); // Graphviz ends it with a newline
    case 'json':
      return `${JSON.stringify(dependencyGraphJSON(nodes), null, 2)}\n`;
  }
}

/** Writes `text` to `path`; a path that cannot be written is a CliError that says why. */
async function writeOutput(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CliError(`Cannot write the graph to ${shellQuote(path)} (${reason}).`);
  }
}

function outputPath(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('Expected a file path.');
  return value;
}

/** The options of `task-runtime graph`, as commander parses them. */
interface GraphOptions extends StoreOptions {
  readonly format: GraphFormat;
  readonly output?: string;
}

/**
 * `task-runtime graph [--dir D | --pg URL [--pg-table T]] [--format mermaid|svg|json] [--output file]`: the
 * stored dependency graph.
 */
export function createGraphCommand(): Command {
  const command = new Command('graph').description(
    "print the stored tasks' dependency graph, coloured by status, as Mermaid, SVG, or JSON",
  );
  addStoreOptions(command, 'draw the graph of');
  return command
    .addOption(
      new Option('-f, --format <format>', 'what to print')
        .choices(FORMATS)
        .default('mermaid' satisfies GraphFormat),
    )
    .addOption(
      new Option('-o, --output <file>', 'write the graph to this file instead of stdout').argParser(
        outputPath,
      ),
    )
    .addHelpText('after', HELP_AFTER)
    .action(async (options: GraphOptions) => {
      const { store, label } = await openNamedStore(options);
      let stored: StoredEntry[];
      try {
        stored = await readStoredTasks(store);
      } finally {
        await store.close();
      }
      const nodes = dependencyNodesOf(
        stored.map((entry) => ({
          id: entry.id,
          snapshot: entry.kind === 'task' ? entry.persisted : null,
        })),
      );
      const text = await render(nodes, options.format);
      if (options.output === undefined) process.stdout.write(text);
      else await writeOutput(options.output, text);
      if (stored.length === 0) {
        const fill =
          options.pg === undefined
            ? ` Run \`task-runtime demo${dirFlag(options.dir)}\` to fill it.`
            : '';
        process.stderr.write(`The task store ${label} is empty.${fill}\n`);
      }
      const damaged = stored.filter(({ kind }) => kind === 'corrupt').map(({ id }) => id);
      if (damaged.length > 0) throw new CliError(damagedMessage(damaged, options));
    });
}
