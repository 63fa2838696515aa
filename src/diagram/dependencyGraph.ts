import { blockedByOf } from '../graph/blocking.js';
import type { TaskStatus } from '../machines/status.js';
import type { PersistedTaskRuntime } from '../runtime/snapshot.js';
import { htmlLabelText, quoteDot, quoteDotTooltip } from './graphviz.js';
import { BLOCKED_BORDER, type DiagramStatus, STATUS_COLOURS } from './palette.js';

/** A task of a dependency graph as the diagrams draw it. */
export interface DependencyNode {
  readonly id: string;
  /** The task's role; empty for a `missing` or `corrupt` node. */
  readonly role: string;
  /** The task's status; `missing` when it is depended on but not stored, `corrupt` when its document cannot be read. */
  readonly status: TaskStatus | 'missing' | 'corrupt';
  /** The dependency whose final failure blocked the task (see `blockedByOf`), or null. */
  readonly blockedBy: string | null;
  /** The ids it depends on, in declared order; empty for a `missing` or `corrupt` node. */
  readonly dependencies: readonly string[];
}

/** A stored task as a tool read it: its snapshot, or null when it cannot be read. */
export interface StoredTaskView {
  readonly id: string;
  readonly snapshot: PersistedTaskRuntime | null;
}

/** Options of {@link dependencyGraphDot}. */
export interface DependencyGraphDotOptions {
  /** The link of each node (the dashboard passes `/tasks/<encodeURIComponent(id)>`). */
  readonly href?: (id: string) => string;
}

/** The edges and nodes of a dependency graph, as {@link dependencyGraphJSON} gives them to other tools. */
export interface DependencyGraphJSON {
  readonly nodes: DependencyNode[];
  readonly edges: { from: string; to: string }[];
}

const FONT = 'Helvetica';

/**
 * The nodes of the stored tasks' dependency graph: one per stored task (status and `blockedBy` read from its
 * snapshot; `corrupt` when the snapshot is null), then one `missing` node per id depended on but not stored.
 * The result is sorted by id, whatever the input order.
 */
export function dependencyNodesOf(stored: readonly StoredTaskView[]): DependencyNode[] {
  const nodes = new Map<string, DependencyNode>();
  for (const { id, snapshot } of stored) {
    nodes.set(
      id,
      snapshot === null
        ? { id, role: '', status: 'corrupt', blockedBy: null, dependencies: [] }
        : {
            id,
            role: snapshot.context.task.role,
            status: snapshot.status,
            blockedBy: blockedByOf(snapshot),
            dependencies: [...snapshot.context.task.dependencies],
          },
    );
  }
  for (const node of [...nodes.values()]) {
    for (const dependency of node.dependencies) {
      if (!nodes.has(dependency)) {
        nodes.set(dependency, {
          id: dependency,
          role: '',
          status: 'missing',
          blockedBy: null,
          dependencies: [],
        });
      }
    }
  }
  return [...nodes.values()].sort((a, b) => compareIds(a.id, b.id));
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The nodes in topological order, dependencies first, the smallest ready id first (so input order never
 * matters); nodes on a cycle (a store can hold one) follow in id order. Duplicate ids keep their first node.
 */
function orderOf(nodes: readonly DependencyNode[]): DependencyNode[] {
  const byId = new Map<string, DependencyNode>();
  for (const node of nodes) if (!byId.has(node.id)) byId.set(node.id, node);
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const node of byId.values()) {
    const known = [...new Set(node.dependencies)].filter((id) => byId.has(id) && id !== node.id);
    waiting.set(node.id, known.length);
    for (const id of known) dependents.set(id, [...(dependents.get(id) ?? []), node.id]);
  }
  const ready = [...byId.keys()].filter((id) => waiting.get(id) === 0).sort(compareIds);
  const ordered: DependencyNode[] = [];
  while (ready.length > 0) {
    const id = ready.shift() as string;
    ordered.push(byId.get(id) as DependencyNode);
    for (const dependent of dependents.get(id) ?? []) {
      const left = (waiting.get(dependent) ?? 0) - 1;
      waiting.set(dependent, left);
      if (left === 0) {
        ready.push(dependent);
        ready.sort(compareIds);
      }
    }
  }
  const placed = new Set(ordered.map((node) => node.id));
  const rest = [...byId.values()].filter((node) => !placed.has(node.id));
  return [...ordered, ...rest.sort((a, b) => compareIds(a.id, b.id))];
}

/** Every edge dependency → dependent between nodes of the graph, in node order, each once. */
function edgesOf(ordered: readonly DependencyNode[]): { from: string; to: string }[] {
  const ids = new Set(ordered.map((node) => node.id));
  return ordered.flatMap((node) =>
    [...new Set(node.dependencies)]
      .filter((id) => ids.has(id))
      .map((id) => ({ from: id, to: node.id })),
  );
}

/** The lines of a node's label: its id, its status (and role), and who blocked it. */
function labelLines(node: DependencyNode): string[] {
  const lines = [node.id, node.role === '' ? node.status : `${node.status} · ${node.role}`];
  if (node.blockedBy !== null) lines.push(`blocked by ${node.blockedBy}`);
  return lines;
}

/** `text` in an HTML-like label, its line breaks as `<br/>`. */
function htmlLines(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map(htmlLabelText)
    .join('<br/>');
}

/**
 * A node's HTML-like label: the id in bold, then its status and role, then who blocked it. HTML-like labels,
 * not quoted ones: Graphviz 16's WebAssembly build traps on some quoted multi-line labels of linked nodes.
 */
function htmlLabel(node: DependencyNode): string {
  const [id = '', ...rest] = labelLines(node);
  const details = rest.map((line) => `<br/><font point-size="10">${htmlLines(line)}</font>`);
  return `<<b>${htmlLines(id)}</b>${details.join('')}>`;
}

/**
 * The dependency graph as a Graphviz DOT digraph for `renderSvg`: left to right, edges dependency → dependent,
 * one rounded box per task filled with its status colour (`STATUS_COLOURS`), a blocked task with a thick dashed
 * red border and `blocked by <id>` in its label, a `missing` node dashed. Node keys are generated (`n0`, `n1`…);
 * every id and role is escaped (`htmlLabelText`, `quoteDotTooltip`), every link quoted (`quoteDot`), so hostile
 * ids stay verbatim text. Deterministic: nodes in
 * topological order (smallest ready id first), the same input gives the same text.
 */
export function dependencyGraphDot(
  nodes: readonly DependencyNode[],
  options: DependencyGraphDotOptions = {},
): string {
  const ordered = orderOf(nodes);
  const keys = new Map(ordered.map((node, index) => [node.id, `n${index}`]));
  const lines = [
    'digraph dependencies {',
    `  graph [rankdir=LR, fontname=${quoteDot(FONT)}, nodesep=0.3, ranksep=0.6, pad=0.2];`,
    `  node [shape=box, style="rounded,filled", fontname=${quoteDot(FONT)}, fontsize=12, margin="0.12,0.06"];`,
    `  edge [color="#4b5563", arrowsize=0.7];`,
  ];
  for (const node of ordered) {
    const colour = STATUS_COLOURS[node.status as DiagramStatus];
    const blocked = node.blockedBy !== null;
    const style = blocked
      ? 'rounded,filled,dashed'
      : node.status === 'missing'
        ? 'rounded,filled,dashed'
        : 'rounded,filled';
    const attributes = [
      `label=${htmlLabel(node)}`,
      `tooltip=${quoteDotTooltip(node.id)}`,
      `style=${quoteDot(style)}`,
      `fillcolor=${quoteDot(colour.fill)}`,
      `color=${quoteDot(blocked ? BLOCKED_BORDER : colour.border)}`,
      `fontcolor=${quoteDot(colour.text)}`,
      `penwidth=${blocked ? 2 : 1}`,
      `class=${quoteDot(`task status-${node.status}${blocked ? ' blocked' : ''}`)}`,
    ];
    if (options.href !== undefined) attributes.push(`URL=${quoteDot(options.href(node.id))}`);
    lines.push(`  ${keys.get(node.id)} [${attributes.join(', ')}];`);
  }
  for (const { from, to } of edgesOf(ordered))
    lines.push(`  ${keys.get(from)} -> ${keys.get(to)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

const MERMAID_KEY = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Words Mermaid's flowchart grammar reads as keywords, so they cannot be node keys. */
const MERMAID_KEYWORDS = new Set([
  'end',
  'graph',
  'flowchart',
  'subgraph',
  'style',
  'linkstyle',
  'classdef',
  'class',
  'click',
  'call',
  'href',
  'direction',
  'default',
  'accdescr',
  'acctitle',
]);
/** Characters that mean something inside a quoted Mermaid label (quote, entity, HTML, Markdown, escape). */
const MERMAID_SPECIAL = '"#&<>`\\';

/** Whether Mermaid shows the code point as it is inside a quoted label (no control, no lone surrogate, not special). */
function isMermaidPlain(char: string, code: number): boolean {
  if (code < 0x20 || code === 0x7f || (code >= 0xd800 && code <= 0xdfff)) return false;
  return !MERMAID_SPECIAL.includes(char);
}

/**
 * `text` as the inside of a quoted Mermaid label: quotes, `#`, `&`, `<`, `>`, backticks, backslashes and control
 * characters as Mermaid's `#<code>;` entities; U+0000 and lone surrogates as `#65533;` (U+FFFD).
 */
function mermaidText(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (isMermaidPlain(char, code)) out += char;
    else out += `#${code === 0 || (code >= 0xd800 && code <= 0xdfff) ? 0xfffd : code};`;
  }
  return out;
}

function isMermaidKey(id: string): boolean {
  return MERMAID_KEY.test(id) && !MERMAID_KEYWORDS.has(id.toLowerCase());
}

/** The Mermaid node key of every id: the id itself when it is Mermaid-safe, else `n0`, `n1`… (never a used id). */
function mermaidKeys(ordered: readonly DependencyNode[]): Map<string, string> {
  const taken = new Set(ordered.map((node) => node.id).filter(isMermaidKey));
  const keys = new Map<string, string>();
  let next = 0;
  for (const { id } of ordered) {
    if (isMermaidKey(id)) {
      keys.set(id, id);
      continue;
    }
    while (taken.has(`n${next}`)) next++;
    keys.set(id, `n${next}`);
    taken.add(`n${next}`);
  }
  return keys;
}

/**
 * The dependency graph as a Mermaid `flowchart LR`: edges dependency → dependent, a `classDef` per status (the
 * `STATUS_COLOURS`) and one `blocked` (dashed red border); every label quoted, its special characters as Mermaid
 * entities, lines joined with `<br>`; ids that are not Mermaid-safe get generated keys (`n0`, `n1`…).
 * Deterministic, in the same node order as {@link dependencyGraphDot}.
 */
export function dependencyGraphMermaid(nodes: readonly DependencyNode[]): string {
  const ordered = orderOf(nodes);
  const keys = mermaidKeys(ordered);
  const lines = ['flowchart LR'];
  for (const node of ordered) {
    lines.push(`  ${keys.get(node.id)}["${labelLines(node).map(mermaidText).join('<br>')}"]`);
  }
  for (const { from, to } of edgesOf(ordered))
    lines.push(`  ${keys.get(from)} --> ${keys.get(to)}`);
  for (const [status, colour] of Object.entries(STATUS_COLOURS)) {
    const dashed = status === 'missing' ? ',stroke-dasharray:4 3' : '';
    lines.push(
      `  classDef ${status} fill:${colour.fill},stroke:${colour.border},color:${colour.text}${dashed}`,
    );
  }
  const failed = STATUS_COLOURS.failed;
  lines.push(
    `  classDef blocked fill:${failed.fill},stroke:${BLOCKED_BORDER},color:${failed.text},stroke-width:2px,stroke-dasharray:5 3`,
  );
  const classes = new Map<string, string[]>();
  for (const node of ordered) {
    const name = node.blockedBy === null ? node.status : 'blocked';
    classes.set(name, [...(classes.get(name) ?? []), keys.get(node.id) as string]);
  }
  for (const [name, members] of classes) lines.push(`  class ${members.join(',')} ${name}`);
  return `${lines.join('\n')}\n`;
}

/** The dependency graph as plain JSON for other tools: the nodes in graph order, and every edge dependency → dependent. */
export function dependencyGraphJSON(nodes: readonly DependencyNode[]): DependencyGraphJSON {
  const ordered = orderOf(nodes);
  return {
    nodes: ordered.map((node) => ({ ...node, dependencies: [...node.dependencies] })),
    edges: edgesOf(ordered),
  };
}
