import { Command, Option } from 'commander';
import { renderSvg } from '../../diagram/graphviz.js';
import { machineToDot } from '../../diagram/lifecycleDot.js';
import { machineToMermaid } from '../../diagram/mermaid.js';
import { machineToStatelyJSON } from '../../diagram/statelyJson.js';
import { EXIT_CODES_HELP } from '../exit.js';

const FORMATS = ['mermaid', 'svg', 'json'] as const;
type DiagramFormat = (typeof FORMATS)[number];

const HELP_AFTER = `
Formats:
  mermaid  stateDiagram-v2 text, generated from the machine (the README's diagram is this text)
  svg      a standalone SVG image of that diagram, laid out by Graphviz: one box per state, coloured by status
  json     the machine config as JSON, the shape Stately's inspector reads; to edit it in Stately
           Studio, paste it as \`createMachine(<json>)\` into Machine > Import

Examples:
  $ task-runtime diagram
  $ task-runtime diagram --format svg > lifecycle.svg
  $ task-runtime diagram --format json > task-machine.json
${EXIT_CODES_HELP}`;

/** The machine in `format`, ending with a newline. */
async function render(format: DiagramFormat): Promise<string> {
  switch (format) {
    case 'mermaid':
      return machineToMermaid();
    case 'svg':
      return renderSvg(machineToDot()); // Graphviz ends it with a newline
    case 'json':
      return `${JSON.stringify(machineToStatelyJSON(), null, 2)}\n`;
  }
}

/** `task-runtime diagram [--format mermaid|svg|json]`: prints the task machine to stdout. */
export function createDiagramCommand(): Command {
  return new Command('diagram')
    .description('print the task lifecycle machine as Mermaid, SVG, or JSON for Stately')
    .addOption(
      new Option('-f, --format <format>', 'what to print')
        .choices(FORMATS)
        .default('mermaid' satisfies DiagramFormat),
    )
    .addHelpText('after', HELP_AFTER)
    .action(async (options: { readonly format: DiagramFormat }, command: Command) => {
      const write = command.configureOutput().writeOut ?? ((text) => process.stdout.write(text));
      write(await render(options.format));
    });
}
