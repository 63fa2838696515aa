import {
  type DependencyNode,
  dependencyGraphDot,
  dependencyGraphJSON,
  dependencyGraphMermaid,
  dependencyNodesOf,
} from '../../src/diagram/dependencyGraph.js';
import { renderSvg, xmlSafe } from '../../src/diagram/graphviz.js';
import { BLOCKED_BORDER, STATUS_COLOURS } from '../../src/diagram/palette.js';
import { blockedError } from '../../src/graph/blocking.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { AgentRole } from '../../src/task/enums.js';
import { anchorOf, HOSTILE_TEXTS, svgNodes, textLines } from './svgRead.js';
import { allText, findAll, hasClass, parseXml, type XmlElement } from './xml.js';

const node = (
  id: string,
  status: DependencyNode['status'],
  dependencies: readonly string[] = [],
  blockedBy: string | null = null,
): DependencyNode => ({ id, role: 'implementer', status, blockedBy, dependencies });

/** A diamond with a failure: spec → api, ui → app; api failed for good, so app is blocked by it. */
const DIAMOND: readonly DependencyNode[] = [
  node('app', 'failed', ['ui', 'api'], 'api'),
  node('ui', 'running', ['spec']),
  node('api', 'failed', ['spec']),
  node('spec', 'pr_merged'),
];

/** The SVG's nodes by the id in their first text line, and its edges as `from->to` ids. */
function readGraph(svg: string): { nodes: Map<string, XmlElement>; edges: string[] } {
  const root = parseXml(svg);
  const title = (e: XmlElement): string =>
    allText(e.children.find((child) => child.name === 'title') ?? e);
  const byKey = new Map(svgNodes(svg).map((e) => [title(e), e]));
  const idOf = (key: string): string => textLines(byKey.get(key) as XmlElement)[0] ?? '';
  const nodes = new Map([...byKey.values()].map((e) => [textLines(e)[0] ?? '', e]));
  const edges = findAll(root, (e) => e.name === 'g' && hasClass(e, 'edge')).map((e) => {
    const [from = '', to = ''] = title(e).split('->');
    return `${idOf(from)}->${idOf(to)}`;
  });
  return { nodes, edges };
}

describe('dependencyNodesOf', () => {
  const runtime = (id: string, dependencies: string[] = []): TaskRuntime =>
    new TaskRuntime({ id, role: AgentRole.IMPLEMENTER, dependencies });

  it('should read status, role and blockedBy off each snapshot, sorted by id, with missing and corrupt nodes', () => {
    const spec = runtime('spec');
    spec.markFailed('boom', { retryable: false });
    const app = runtime('app', ['spec', 'ghost']);
    app.markFailed(blockedError('spec'), { retryable: false });
    const docs = runtime('docs', ['ghost']);
    const nodes = dependencyNodesOf([
      { id: 'spec', snapshot: spec.persist() },
      { id: 'docs', snapshot: docs.persist() },
      { id: 'broken', snapshot: null },
      { id: 'app', snapshot: app.persist() },
    ]);
    expect(nodes).toEqual([
      {
        id: 'app',
        role: 'implementer',
        status: 'failed',
        blockedBy: 'spec',
        dependencies: ['spec', 'ghost'],
      },
      { id: 'broken', role: '', status: 'corrupt', blockedBy: null, dependencies: [] },
      {
        id: 'docs',
        role: 'implementer',
        status: 'pending',
        blockedBy: null,
        dependencies: ['ghost'],
      },
      { id: 'ghost', role: '', status: 'missing', blockedBy: null, dependencies: [] },
      { id: 'spec', role: 'implementer', status: 'failed', blockedBy: null, dependencies: [] },
    ]);
  });

  it('should not call a failure blocked when its error only looks like one of a non-dependency', () => {
    const task = runtime('x', ['a']);
    task.markFailed(blockedError('b'), { retryable: false });
    expect(dependencyNodesOf([{ id: 'x', snapshot: task.persist() }])[0]?.blockedBy).toBeNull();
  });
});

describe('dependencyGraphDot', () => {
  let svg = '';
  beforeAll(async () => {
    svg = await renderSvg(dependencyGraphDot(DIAMOND));
  });

  it('should draw every node with its id, status and role, and every edge dependency → dependent', () => {
    const { nodes, edges } = readGraph(svg);
    expect([...nodes.keys()].sort()).toEqual(['api', 'app', 'spec', 'ui']);
    expect(textLines(nodes.get('ui') as XmlElement)).toEqual(['ui', 'running · implementer']);
    expect(edges.sort()).toEqual(['api->app', 'spec->api', 'spec->ui', 'ui->app']);
  });

  it('should fill every node with its status colour and mark a blocked one with a dashed red border', () => {
    const { nodes } = readGraph(svg);
    const shape = (id: string): XmlElement | undefined =>
      findAll(nodes.get(id) as XmlElement, (e) => e.name === 'path')[0];
    for (const { id, status } of DIAMOND.filter((n) => n.blockedBy === null)) {
      expect(shape(id)?.attributes.fill).toBe(STATUS_COLOURS[status].fill);
      expect(shape(id)?.attributes.stroke).toBe(STATUS_COLOURS[status].border);
      expect(shape(id)?.attributes['stroke-dasharray']).toBeUndefined();
    }
    expect(shape('app')?.attributes.stroke).toBe(BLOCKED_BORDER);
    expect(shape('app')?.attributes['stroke-dasharray']).toBeDefined();
    expect(textLines(nodes.get('app') as XmlElement)).toEqual([
      'app',
      'failed · implementer',
      'blocked by api',
    ]);
    expect(nodes.get('app')?.attributes.class).toBe('node task status-failed blocked');
  });

  it('should give the same text whatever the input order, dependencies before dependents', () => {
    const dot = dependencyGraphDot(DIAMOND);
    expect(dependencyGraphDot([...DIAMOND].reverse())).toBe(dot);
    expect(
      dependencyGraphDot([DIAMOND[2], DIAMOND[0], DIAMOND[3], DIAMOND[1]] as DependencyNode[]),
    ).toBe(dot);
    const order = [...dot.matchAll(/^ {2}n\d+ \[label=<<b>([^<]*)<\/b>/gm)].map((m) => m[1]);
    expect(order).toEqual(['spec', 'api', 'ui', 'app']);
  });

  it('should draw a graph with a cycle (a store can hold one) and an empty one', async () => {
    const cyclic = [
      node('a', 'pending', ['b']),
      node('b', 'pending', ['a']),
      node('c', 'pending', ['a']),
    ];
    const { nodes, edges } = readGraph(await renderSvg(dependencyGraphDot(cyclic)));
    expect([...nodes.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(edges.sort()).toEqual(['a->b', 'a->c', 'b->a']);
    expect(svgNodes(await renderSvg(dependencyGraphDot([])))).toEqual([]);
  });

  it('should keep hostile ids verbatim as text, tooltip and link, and never break the DOT', async () => {
    const hostile = HOSTILE_TEXTS.map((id, index) =>
      node(id, 'pending', index === 0 ? [] : [HOSTILE_TEXTS[index - 1] as string]),
    );
    const href = (id: string): string => `/tasks/${encodeURIComponent(xmlSafe(id))}`;
    const { nodes, edges } = readGraph(await renderSvg(dependencyGraphDot(hostile, { href })));
    const shownId = (id: string): string => xmlSafe(id).replace(/\t/g, ' ');
    const drawn = [...svgNodes(await renderSvg(dependencyGraphDot(hostile, { href })))];
    expect(drawn).toHaveLength(HOSTILE_TEXTS.length);
    for (const id of HOSTILE_TEXTS) {
      const lines = id.split('\n').length;
      const element = drawn.find((e) => textLines(e).slice(0, lines).join('\n') === shownId(id));
      expect(element).toBeDefined();
      const anchor = element && anchorOf(element);
      expect(anchor?.attributes['xlink:title']?.replace(/\u00A0/g, ' ')).toBe(xmlSafe(id));
      expect(anchor?.attributes['xlink:href']).toBe(href(id));
    }
    expect(nodes.size).toBe(HOSTILE_TEXTS.length);
    expect(edges).toHaveLength(HOSTILE_TEXTS.length - 1);
  });
});

describe('dependencyGraphMermaid', () => {
  it('should write a flowchart LR with a classDef per status, blocked included, and every edge', () => {
    const lines = dependencyGraphMermaid(DIAMOND).trimEnd().split('\n');
    expect(lines[0]).toBe('flowchart LR');
    expect(lines.slice(1, 5)).toEqual([
      '  spec["spec<br>pr_merged · implementer"]',
      '  api["api<br>failed · implementer"]',
      '  ui["ui<br>running · implementer"]',
      '  app["app<br>failed · implementer<br>blocked by api"]',
    ]);
    expect(lines.slice(5, 9)).toEqual([
      '  spec --> api',
      '  spec --> ui',
      '  ui --> app',
      '  api --> app',
    ]);
    for (const status of Object.keys(STATUS_COLOURS)) {
      expect(lines).toContain(
        `  classDef ${status} fill:${STATUS_COLOURS[status as keyof typeof STATUS_COLOURS].fill},stroke:${STATUS_COLOURS[status as keyof typeof STATUS_COLOURS].border},color:${STATUS_COLOURS[status as keyof typeof STATUS_COLOURS].text}${status === 'missing' ? ',stroke-dasharray:4 3' : ''}`,
      );
    }
    expect(lines.find((line) => line.startsWith('  classDef blocked'))).toContain(
      'stroke-dasharray',
    );
    expect(lines.slice(-4)).toEqual([
      '  class spec pr_merged',
      '  class api failed',
      '  class ui running',
      '  class app blocked',
    ]);
  });

  it('should give unsafe ids generated keys that never collide with a real id, and escape their labels', () => {
    const text = dependencyGraphMermaid([
      node('n0', 'pending'),
      node('end', 'pending'),
      node('a"b', 'pending', ['n0']),
      node('x\n<script>#1;&`\\\u0000', 'pending'),
    ]);
    const lines = text.split('\n');
    expect(lines).toContain('  n0["n0<br>pending · implementer"]');
    expect(lines).toContain('  n1["end<br>pending · implementer"]');
    expect(lines).toContain('  n2["a#34;b<br>pending · implementer"]');
    expect(lines).toContain(
      '  n3["x#10;#60;script#62;#35;1;#38;#96;#92;#65533;<br>pending · implementer"]',
    );
    expect(lines).toContain('  n0 --> n2');
    expect(text.split('\n')).toHaveLength(1 + 4 + 1 + 8 + 1 + 1); // header, nodes, edge, classDefs, class, ''
  });

  it('should be deterministic whatever the input order', () => {
    expect(dependencyGraphMermaid([...DIAMOND].reverse())).toBe(dependencyGraphMermaid(DIAMOND));
  });
});

describe('dependencyGraphJSON', () => {
  it('should give the nodes in graph order and the edges dependency → dependent, as plain JSON', () => {
    const json = dependencyGraphJSON(DIAMOND);
    expect(JSON.parse(JSON.stringify(json))).toEqual({
      nodes: [DIAMOND[3], DIAMOND[2], DIAMOND[1], DIAMOND[0]],
      edges: [
        { from: 'spec', to: 'api' },
        { from: 'spec', to: 'ui' },
        { from: 'ui', to: 'app' },
        { from: 'api', to: 'app' },
      ],
    });
  });
});
