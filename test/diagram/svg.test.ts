import { machineToMermaid } from '../../src/diagram/mermaid.js';
import { mermaidToSvg } from '../../src/diagram/svg.js';
import { TASK_STATUSES } from '../../src/machines/status.js';
import { allText, findAll, hasClass, parseXml, type XmlElement } from './xml.js';

const svg = mermaidToSvg(machineToMermaid());
const root = parseXml(svg);
const withClass = (element: XmlElement, name: string): XmlElement[] =>
  findAll(element, (e) => hasClass(e, name));
const number = (element: XmlElement, attribute: string): number =>
  Number(element.attributes[attribute]);

describe('mermaidToSvg', () => {
  it('should write a well-formed standalone SVG document', () => {
    expect(root.name).toBe('svg');
    expect(root.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
    const [, , width = 0, height = 0] = (root.attributes.viewBox ?? '').split(' ').map(Number);
    expect(width).toBeGreaterThan(0);
    expect(height).toBeGreaterThan(0);
  });

  it('should draw one node per state of the task machine, named after it', () => {
    const nodes = findAll(root, (e) => e.name === 'g' && hasClass(e, 'node'));
    expect(nodes).toHaveLength(5);
    expect(nodes.map((node) => node.attributes['data-state']).sort()).toEqual(
      [...TASK_STATUSES].sort(),
    );
    for (const node of nodes) {
      const name = withClass(node, 'name')[0];
      expect(name && allText(name)).toBe(node.attributes['data-state']);
    }
  });

  it('should keep every node inside the viewBox', () => {
    const [x0 = 0, y0 = 0, width = 0, height = 0] = (root.attributes.viewBox ?? '')
      .split(' ')
      .map(Number);
    for (const node of withClass(root, 'node')) {
      const rect = node.children.find((child) => child.name === 'rect');
      expect(rect).toBeDefined();
      if (rect === undefined) continue;
      expect(number(rect, 'x')).toBeGreaterThanOrEqual(x0);
      expect(number(rect, 'y')).toBeGreaterThanOrEqual(y0);
      expect(number(rect, 'x') + number(rect, 'width')).toBeLessThanOrEqual(x0 + width);
      expect(number(rect, 'y') + number(rect, 'height')).toBeLessThanOrEqual(y0 + height);
    }
  });

  it('should draw one arrow per pair of states joined by transitions, with every transition label', () => {
    const edges = withClass(root, 'edge').map(
      (e) => `${e.attributes['data-from']}->${e.attributes['data-to']}`,
    );
    expect(edges.sort()).toEqual(
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
    const labels = withClass(root, 'label').map(allText).join('\n');
    for (const label of [
      'PREPARE_ATTEMPT [isAttemptAvailable]',
      'MARK_PENDING',
      'START [isCurrentAttemptUnused]',
      'PR_CREATED',
      'PR_MERGED',
      'FAIL',
      'RETRY [isRetryAllowed]',
      'MARK_PENDING [isRetryAllowed]',
    ]) {
      expect(labels).toContain(label);
    }
  });

  it('should mark the initial state and show the context-only transitions and the note', () => {
    const initial = withClass(root, 'initial');
    expect(initial.map((e) => e.attributes['data-to'])).toEqual(['pending']);
    const running = withClass(root, 'node').find((e) => e.attributes['data-state'] === 'running');
    expect(running && allText(running)).toContain('ASSIGN_WORKTREE / assignWorktree');
    const notes = withClass(root, 'note');
    expect(notes.map(allText)).toEqual([
      'Accepted in every state (root-level transitions)ADD_CONCERN / addConcern',
    ]);
  });

  it('should be deterministic', () => {
    expect(mermaidToSvg(machineToMermaid())).toBe(svg);
  });

  it('should escape text that is markup in XML', () => {
    const text = mermaidToSvg(
      'stateDiagram-v2\n  [*] --> a\n  a --> b: GO [x < y & "z"]\n  b : <done>\n',
    );
    const doc = parseXml(text);
    expect(withClass(doc, 'label').map(allText)).toEqual(['GO [x < y & "z"]']);
    expect(allText(doc)).toContain('<done>');
  });

  it('should draw a final state with a double border', () => {
    const doc = parseXml(
      mermaidToSvg('stateDiagram-v2\n  [*] --> a\n  a --> b: GO\n  b --> [*]\n'),
    );
    const rects = (state: string): number =>
      withClass(doc, 'node')
        .find((e) => e.attributes['data-state'] === state)
        ?.children.filter((child) => child.name === 'rect').length ?? 0;
    expect(rects('a')).toBe(1);
    expect(rects('b')).toBe(2);
  });

  it('should refuse Mermaid it does not render, naming the line', () => {
    expect(() => mermaidToSvg('flowchart LR\n  a --> b\n')).toThrow(/line 1 .*stateDiagram-v2/);
    expect(() => mermaidToSvg('stateDiagram-v2\n  a --> b\n  state x {\n')).toThrow(/line 3/);
    expect(() => mermaidToSvg('stateDiagram-v2\n  note right of a\n  text\n')).toThrow(
      /no 'end note'/,
    );
  });
});
