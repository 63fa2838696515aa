import { TASK_STATUSES, type TaskStatus } from '../machines/status.js';
import { taskMachine } from '../machines/taskMachine.js';
import { htmlLabelText, quoteDot, quoteDotTooltip } from './graphviz.js';
import { type MachineState, machineModel } from './machineModel.js';
import { STATUS_COLOURS } from './palette.js';

/** Options of {@link machineToDot}. */
export interface LifecycleDotOptions {
  /** How many tasks are in each state; a state's label then reads `running (3)` (0 when absent). */
  readonly counts?: Partial<Record<TaskStatus, number>>;
  /** The link of each state node (e.g. a dashboard page listing the tasks in that state). */
  readonly href?: (status: TaskStatus) => string;
}

const FONT = 'Helvetica';
const EDGE_COLOUR = '#4b5563';
const NOTE_KEY = 'note_everywhere';
const INITIAL_KEY = 'initial';

function isTaskStatus(key: string): key is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(key);
}

/** A state's HTML-like label: its name in bold (with its count), then its context-only transitions. */
function stateLabel(state: MachineState, count: number | undefined): string {
  const name = count === undefined ? state.key : `${state.key} (${count})`;
  const rows = [`<tr><td><b>${htmlLabelText(name)}</b></td></tr>`];
  if (state.internal.length > 0) {
    const lines = state.internal.map((line) => `${htmlLabelText(line)}<br align="left"/>`);
    rows.push(
      `<hr/><tr><td align="left" balign="left"><font point-size="10">${lines.join('')}</font></td></tr>`,
    );
  }
  return `<<table border="0" cellborder="0" cellspacing="2" cellpadding="3">${rows.join('')}</table>>`;
}

function stateNode(state: MachineState, options: LifecycleDotOptions): string {
  const status = isTaskStatus(state.key) ? state.key : null;
  const colour = status === null ? STATUS_COLOURS.pending : STATUS_COLOURS[status];
  const count =
    options.counts === undefined || status === null ? undefined : (options.counts[status] ?? 0);
  const attributes = [
    `label=${stateLabel(state, count)}`,
    `fillcolor=${quoteDot(colour.fill)}`,
    `color=${quoteDot(colour.border)}`,
    `fontcolor=${quoteDot(colour.text)}`,
    `peripheries=${state.final ? 2 : 1}`,
  ];
  if (options.href !== undefined && status !== null) {
    attributes.push(
      `URL=${quoteDot(options.href(status))}`,
      `tooltip=${quoteDotTooltip(state.key)}`,
    );
  }
  return `  ${state.key} [${attributes.join(', ')}];`;
}

/** The arrows of the machine, those joining the same two states merged into one edge with one line per label. */
function edges(states: readonly MachineState[]): string[] {
  const merged = new Map<string, { from: string; to: string; labels: string[] }>();
  for (const { key, arrows } of states) {
    for (const { to, label } of arrows) {
      const pair = `${key} ${to}`;
      const edge = merged.get(pair) ?? { from: key, to, labels: [] };
      edge.labels.push(label);
      merged.set(pair, edge);
    }
  }
  return [...merged.values()].map(
    ({ from, to, labels }) =>
      `  ${from} -> ${to} [label=${quoteDot(labels.map((label) => ` ${label} `).join('\n'))}];`,
  );
}

/**
 * The task lifecycle machine (read off `taskMachine`, like `machineToMermaid`) as a Graphviz DOT digraph, for
 * {@link renderSvg}: one rounded box per state filled with its status colour (`STATUS_COLOURS`), its context-only
 * transitions (`EVENT / action`) listed inside it; arrows labelled `EVENT [guard]`, those between the same two
 * states merged (self-loops included); a dot for the initial state; the root-level transitions in a note beside the
 * initial dot. Deterministic: same options, same text.
 */
export function machineToDot(options: LifecycleDotOptions = {}): string {
  const { initial, states, everywhere } = machineModel(taskMachine, 'machineToDot');
  const lines = [
    'digraph lifecycle {',
    `  graph [rankdir=TB, fontname=${quoteDot(FONT)}, nodesep=0.5, ranksep=0.45, pad=0.2];`,
    `  node [shape=box, style="rounded,filled", fontname=${quoteDot(FONT)}, fontsize=12, margin="0.1,0.04"];`,
    `  edge [fontname=${quoteDot(FONT)}, fontsize=10, color=${quoteDot(EDGE_COLOUR)}, fontcolor="#1f2937", arrowsize=0.7];`,
  ];
  if (initial !== undefined) {
    lines.push(
      `  ${INITIAL_KEY} [shape=circle, label="", width=0.18, fixedsize=true, style=filled, fillcolor="#111827", color="#111827", tooltip="initial state"];`,
      `  ${INITIAL_KEY} -> ${initial};`,
    );
  }
  for (const state of states) lines.push(stateNode(state, options));
  lines.push(...edges(states));
  if (everywhere.length > 0 && initial !== undefined) {
    const text = ['Accepted in every state (root-level transitions)', ...everywhere]
      .map((line) => `${htmlLabelText(line)}<br align="left"/>`)
      .join('');
    lines.push(
      `  ${NOTE_KEY} [shape=note, style=filled, fillcolor="#fef9c3", color="#ca8a04", fontsize=10, label=<${text}>];`,
      `  { rank=same; ${INITIAL_KEY}; ${NOTE_KEY}; }`,
      `  ${INITIAL_KEY} -> ${NOTE_KEY} [style=invis, minlen=4];`,
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
