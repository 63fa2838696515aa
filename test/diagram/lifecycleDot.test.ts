import { renderSvg } from '../../src/diagram/graphviz.js';
import { machineToDot } from '../../src/diagram/lifecycleDot.js';
import { STATUS_COLOURS } from '../../src/diagram/palette.js';
import { TASK_STATUSES, type TaskStatus } from '../../src/machines/status.js';
import { taskMachine } from '../../src/machines/taskMachine.js';
import { anchorOf, nodeTitles, svgNodes, textLines } from './svgRead.js';
import { allText, findAll, hasClass, parseXml, type XmlElement } from './xml.js';

const titleOf = (element: XmlElement): string =>
  allText(element.children.find((child) => child.name === 'title') ?? element);
const nodeNamed = (svg: string, key: string): XmlElement | undefined =>
  svgNodes(svg).find((node) => titleOf(node) === key);

describe('machineToDot', () => {
  let svg = '';
  beforeAll(async () => {
    svg = await renderSvg(machineToDot());
  });

  it('should draw one node per state of the task machine, named after it in bold', () => {
    const states = nodeTitles(svg).filter((title) => (TASK_STATUSES as string[]).includes(title));
    expect(states.sort()).toEqual(Object.keys(taskMachine.root.states).sort());
    for (const status of TASK_STATUSES) {
      const node = nodeNamed(svg, status);
      expect(node && textLines(node)[0]).toBe(status);
      expect(node && findAll(node, (e) => e.name === 'text')[0]?.attributes['font-weight']).toBe(
        'bold',
      );
    }
  });

  it('should fill each state with its status colour from STATUS_COLOURS', () => {
    for (const status of TASK_STATUSES) {
      const shape = nodeNamed(svg, status)?.children.find((child) => child.name === 'path');
      expect(shape?.attributes.fill).toBe(STATUS_COLOURS[status].fill);
      expect(shape?.attributes.stroke).toBe(STATUS_COLOURS[status].border);
    }
  });

  it('should draw one arrow per pair of states joined by transitions, self-loops included, with every label', () => {
    const edges = findAll(parseXml(svg), (e) => e.name === 'g' && hasClass(e, 'edge'));
    const pairs = edges.map(titleOf).filter((title) => !title.startsWith('initial'));
    expect(pairs.sort()).toEqual(
      [
        'pending->pending',
        'pending->running',
        'pending->failed',
        'running->pr_created',
        'running->failed',
        'pr_created->pr_merged',
        'pr_created->failed',
        'failed->pending',
      ].sort(),
    );
    const labelOf = (pair: string): string[] =>
      textLines(edges.find((edge) => titleOf(edge) === pair) as XmlElement).map((line) =>
        line.trim(),
      );
    expect(labelOf('pending->pending')).toEqual([
      'PREPARE_ATTEMPT [isAttemptAvailable]',
      'MARK_PENDING',
    ]);
    expect(labelOf('failed->pending')).toEqual([
      'RETRY [isRetryAllowed]',
      'REOPEN [isFailureFinal]',
      'MARK_PENDING [isRetryAllowed]',
    ]);
    expect(labelOf('pending->running')).toEqual(['START [isCurrentAttemptUnused]']);
    expect(labelOf('pr_created->pr_merged')).toEqual(['PR_MERGED']);
  });

  it('should list the context-only transitions inside pending and running, and mark the initial state', () => {
    for (const status of ['pending', 'running'] as const) {
      expect(textLines(nodeNamed(svg, status) as XmlElement).slice(1)).toEqual([
        'ASSIGN_WORKTREE / assignWorktree',
        'ASSIGN_WORKSTREAM / assignWorkstream',
        'RECORD_AGENT_ADDRESS / recordAgentAddress',
      ]);
    }
    expect(textLines(nodeNamed(svg, 'failed') as XmlElement)).toEqual(['failed']);
    const initialEdges = findAll(parseXml(svg), (e) => hasClass(e, 'edge')).map(titleOf);
    expect(initialEdges).toContain('initial->pending');
  });

  it('should show the root-level ADD_CONCERN in a note', () => {
    expect(textLines(nodeNamed(svg, 'note_everywhere') as XmlElement)).toEqual([
      'Accepted in every state (root-level transitions)',
      'ADD_CONCERN / addConcern',
    ]);
  });

  it('should show every count in its state label, 0 for a state without one', async () => {
    const counted = await renderSvg(machineToDot({ counts: { running: 3, failed: 12 } }));
    const names = TASK_STATUSES.map(
      (status) => textLines(nodeNamed(counted, status) as XmlElement)[0],
    );
    expect(names).toEqual([
      'pending (0)',
      'running (3)',
      'pr_created (0)',
      'pr_merged (0)',
      'failed (12)',
    ]);
  });

  it('should link every state node to href(status), with the state as tooltip', async () => {
    const href = (status: TaskStatus): string => `/tasks?status=${status}&x="<y>"`;
    const linked = await renderSvg(machineToDot({ href }));
    for (const status of TASK_STATUSES) {
      const anchor = anchorOf(nodeNamed(linked, status) as XmlElement);
      expect(anchor?.attributes['xlink:href']).toBe(href(status));
      expect(anchor?.attributes['xlink:title']).toBe(status);
    }
    expect(anchorOf(nodeNamed(linked, 'note_everywhere') as XmlElement)).toBeUndefined();
  });

  it('should be deterministic', async () => {
    expect(machineToDot({ counts: { pending: 1 } })).toBe(machineToDot({ counts: { pending: 1 } }));
    expect(await renderSvg(machineToDot())).toBe(svg);
  });
});
