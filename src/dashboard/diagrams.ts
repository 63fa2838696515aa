import { dependencyGraphDot, dependencyNodesOf } from '../diagram/dependencyGraph.js';
import { renderSvg } from '../diagram/graphviz.js';
import { machineToDot } from '../diagram/lifecycleDot.js';
import type { StoredEntry } from '../graph/storedTasks.js';
import type { TaskStatus } from '../index.js';
import { statusFilterPath, taskPagePath } from './paths.js';
import type { ShownStatus } from './summary.js';

/** Above this many nodes the overview does not lay the dependency graph out (Graphviz takes ~0.5 s for 500). */
export const MAX_GRAPH_NODES = 600;

/** Rendered SVG by DOT text: a live page re-renders only when the graph changed. */
const rendered = new Map<string, string>();
const CACHED_GRAPHS = 16;

async function cachedSvg(dot: string): Promise<string> {
  const cached = rendered.get(dot);
  if (cached !== undefined) return cached;
  // Graphviz escapes every label it writes; its comments (node names again) are dropped as well.
  const svg = (await renderSvg(dot)).replace(/<!--[\s\S]*?-->\n?/g, '');
  rendered.set(dot, svg);
  if (rendered.size > CACHED_GRAPHS) rendered.delete(rendered.keys().next().value as string);
  return svg;
}

/** The lifecycle machine with each state's count, each state a link to the table filtered to it. */
export function lifecycleSvg(counts: Readonly<Record<ShownStatus, number>>): Promise<string> {
  const { corrupt: _corrupt, ...statusCounts } = counts;
  return cachedSvg(
    machineToDot({
      counts: statusCounts as Record<TaskStatus, number>,
      href: (status) => statusFilterPath(status),
    }),
  );
}

/** The dependency graph as SVG (nodes link to task pages), or why it is not drawn. */
export async function dependencySvg(
  entries: readonly StoredEntry[],
): Promise<{ readonly svg: string | null; readonly note: string | null }> {
  const nodes = dependencyNodesOf(
    entries.map((entry) => ({
      id: entry.id,
      snapshot: entry.kind === 'task' ? entry.persisted : null,
    })),
  );
  if (nodes.length === 0) return { svg: null, note: 'No tasks are stored yet.' };
  if (nodes.length > MAX_GRAPH_NODES) {
    return {
      svg: null,
      note: `The graph has ${nodes.length} tasks, more than the ${MAX_GRAPH_NODES} this page lays out; filter the table below instead.`,
    };
  }
  return { svg: await cachedSvg(dependencyGraphDot(nodes, { href: taskPagePath })), note: null };
}
