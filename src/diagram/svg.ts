/**
 * A small SVG renderer for the Mermaid `stateDiagram-v2` subset that {@link machineToMermaid} writes: states,
 * `[*] -->` initial and `--> [*]` final markers, labelled transitions (self-loops included), `state : text`
 * descriptions, and `note left|right of` notes. No browser and no layout library: states are ranked top-down
 * along the longest path from the initial state; arrows between neighbouring ranks run down, the others
 * (back arrows, arrows that skip ranks) in lanes beside the graph. Output is deterministic.
 */

/** Diagram text must be this subset; anything else is refused with the line number. */
const HEADER = /^stateDiagram(-v2)?$/;
const TRANSITION = /^(\[\*\]|[\w-]+)\s*-->\s*(\[\*\]|[\w-]+)\s*(?::\s*(.*))?$/;
const DESCRIPTION = /^([\w-]+)\s*:\s*(.+)$/;
const NOTE_START = /^note\s+(left|right)\s+of\s+([\w-]+)\s*(?::\s*(.*))?$/;
const DIRECTION = /^direction\s+\w+$/;

const FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace";
/** Monospace advance width as a share of the font size; every text box is sized from it. */
const CHAR_WIDTH = 0.6;
const NAME_SIZE = 14;
const TEXT_SIZE = 12;
const LINE_HEIGHT = 16;
const NAME_HEIGHT = 34;
const NODE_PAD_X = 14;
const NODE_MIN_WIDTH = 96;
const NODE_GAP = 88;
const RANK_GAP = 72;
const LOOP_REACH = 26;
const LANE_START = 30;
const LANE_GAP = 20;
const LABEL_OFFSET = 6;
const LABEL_PAD = 3;
const CORNER = 8;
const MARGIN = 20;
const INK = '#1f2328';
const LINE = '#57606a';

type Side = 'left' | 'right';

interface StateDecl {
  readonly id: string;
  readonly descriptions: string[];
  final: boolean;
}

interface NoteDecl {
  readonly side: Side;
  readonly target: string;
  readonly lines: string[];
}

interface Diagram {
  readonly states: Map<string, StateDecl>;
  readonly initial: string[];
  /** Arrows with the same source and target, merged: one label line per transition. */
  readonly arrows: Arrow[];
  readonly notes: NoteDecl[];
}

interface Arrow {
  readonly from: string;
  readonly to: string;
  readonly labels: string[];
}

interface Box {
  readonly state: StateDecl;
  readonly rank: number;
  x: number;
  y: number;
  readonly width: number;
  readonly height: number;
}

interface Point {
  readonly x: number;
  readonly y: number;
}

interface Label {
  readonly lines: readonly string[];
  /** The anchor point: the left edge (`start`), right edge (`end`) or centre, vertically centred. */
  readonly x: number;
  readonly y: number;
  readonly anchor: 'start' | 'end';
}

/** A side attachment of a lane or loop to a box, ordered top to bottom when ports are assigned. */
interface Attachment {
  readonly order: number;
  y: number;
}

function syntaxError(lineNumber: number, line: string, expected: string): Error {
  return new Error(
    `mermaidToSvg: line ${lineNumber} ('${line}') is not supported; expected ${expected}. ` +
      'It renders the stateDiagram-v2 subset that machineToMermaid writes.',
  );
}

/** Parses the supported subset of stateDiagram-v2. */
function parse(text: string): Diagram {
  const diagram: Diagram = { states: new Map(), initial: [], arrows: [], notes: [] };
  const state = (id: string): StateDecl => {
    let found = diagram.states.get(id);
    if (found === undefined) {
      found = { id, descriptions: [], final: false };
      diagram.states.set(id, found);
    }
    return found;
  };
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  let sawHeader = false;
  let note: NoteDecl | null = null;
  for (const [index, line] of lines.entries()) {
    const lineNumber = index + 1;
    if (note !== null) {
      if (line === 'end note') note = null;
      else note.lines.push(line);
      continue;
    }
    if (line === '' || line.startsWith('%%')) continue;
    if (!sawHeader) {
      if (!HEADER.test(line)) throw syntaxError(lineNumber, line, "the header 'stateDiagram-v2'");
      sawHeader = true;
      continue;
    }
    const transition = TRANSITION.exec(line);
    if (transition !== null) {
      const [, from = '', to = '', label] = transition;
      if (from === '[*]' && to === '[*]')
        throw syntaxError(lineNumber, line, 'a state on one side');
      if (from === '[*]') diagram.initial.push(state(to).id);
      else if (to === '[*]') state(from).final = true;
      else addArrow(diagram, state(from).id, state(to).id, label?.trim() ?? '');
      continue;
    }
    const noteStart = NOTE_START.exec(line);
    if (noteStart !== null) {
      const [, side, target = '', inline] = noteStart;
      const decl: NoteDecl = { side: side === 'left' ? 'left' : 'right', target, lines: [] };
      state(target);
      diagram.notes.push(decl);
      if (inline === undefined) note = decl;
      else decl.lines.push(inline.trim());
      continue;
    }
    const description = DESCRIPTION.exec(line);
    if (description !== null) {
      const [, id = '', text = ''] = description;
      state(id).descriptions.push(text.trim());
      continue;
    }
    if (DIRECTION.test(line)) continue;
    throw syntaxError(lineNumber, line, 'a transition, a state description, or a note');
  }
  if (!sawHeader) throw new Error("mermaidToSvg: the text has no 'stateDiagram-v2' header");
  if (note !== null)
    throw new Error(`mermaidToSvg: the note on '${note.target}' has no 'end note'`);
  return diagram;
}

function addArrow(diagram: Diagram, from: string, to: string, label: string): void {
  const existing = diagram.arrows.find((arrow) => arrow.from === from && arrow.to === to);
  const labels = label === '' ? [] : [label];
  if (existing === undefined) diagram.arrows.push({ from, to, labels });
  else existing.labels.push(...labels);
}

/** Ranks by the longest path from the initial states over the arrows that are not back arrows (DFS). */
function rank(diagram: Diagram): Map<string, number> {
  const ids = [...diagram.states.keys()];
  const visiting = new Set<string>();
  const done = new Set<string>();
  const postorder: string[] = [];
  const forward: Arrow[] = [];
  const visit = (id: string): void => {
    visiting.add(id);
    for (const arrow of diagram.arrows) {
      if (arrow.from !== id || arrow.to === id) continue;
      if (visiting.has(arrow.to)) continue; // a back arrow closes a cycle: drawn in a lane
      forward.push(arrow);
      if (!done.has(arrow.to)) visit(arrow.to);
    }
    visiting.delete(id);
    done.add(id);
    postorder.push(id);
  };
  for (const id of [...diagram.initial, ...ids]) if (!done.has(id)) visit(id);
  const ranks = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const id of postorder.reverse()) {
    for (const arrow of forward) {
      if (arrow.from !== id) continue;
      const next = (ranks.get(id) ?? 0) + 1;
      if (next > (ranks.get(arrow.to) ?? 0)) ranks.set(arrow.to, next);
    }
  }
  return ranks;
}

const textWidth = (text: string, size: number): number => text.length * size * CHAR_WIDTH;
const labelWidth = (lines: readonly string[]): number =>
  Math.max(0, ...lines.map((line) => textWidth(line, TEXT_SIZE)));
const labelHeight = (lines: readonly string[]): number => lines.length * LINE_HEIGHT;

function layoutBoxes(diagram: Diagram): Map<string, Box> {
  const ranks = rank(diagram);
  const boxes = new Map<string, Box>();
  const byRank: Box[][] = [];
  for (const state of diagram.states.values()) {
    const r = ranks.get(state.id) ?? 0;
    const inner = Math.max(
      textWidth(state.id, NAME_SIZE),
      ...state.descriptions.map((line) => textWidth(line, TEXT_SIZE)),
    );
    const box: Box = {
      state,
      rank: r,
      x: 0,
      y: 0,
      width: Math.max(NODE_MIN_WIDTH, inner + 2 * NODE_PAD_X),
      height:
        NAME_HEIGHT +
        (state.descriptions.length === 0 ? 0 : state.descriptions.length * LINE_HEIGHT + 10),
    };
    boxes.set(state.id, box);
    const row = byRank[r] ?? [];
    row.push(box);
    byRank[r] = row;
  }
  let top = 0;
  for (const row of byRank) {
    if (row === undefined) continue;
    const rowHeight = Math.max(...row.map((box) => box.height));
    const rowWidth = row.reduce((sum, box) => sum + box.width, 0) + NODE_GAP * (row.length - 1);
    let left = -rowWidth / 2;
    for (const box of row) {
      box.x = left;
      box.y = top + (rowHeight - box.height) / 2;
      left += box.width + NODE_GAP;
    }
    top += rowHeight + RANK_GAP;
  }
  return boxes;
}

const centerX = (box: Box): number => box.x + box.width / 2;
const sideX = (box: Box, side: Side): number => (side === 'right' ? box.x + box.width : box.x);

/** A path through `points` with rounded corners. */
function roundedPath(points: readonly Point[]): string {
  const [first, ...rest] = points;
  if (first === undefined) return '';
  let d = `M${num(first.x)} ${num(first.y)}`;
  for (const [index, corner] of rest.entries()) {
    const before = points[index];
    const after = rest[index + 1];
    if (before === undefined || after === undefined) {
      d += ` L${num(corner.x)} ${num(corner.y)}`;
      continue;
    }
    const r = Math.min(
      CORNER,
      Math.hypot(corner.x - before.x, corner.y - before.y) / 2,
      Math.hypot(after.x - corner.x, after.y - corner.y) / 2,
    );
    const towards = (from: Point, distance: number): Point => {
      const length = Math.hypot(from.x - corner.x, from.y - corner.y) || 1;
      return {
        x: corner.x + ((from.x - corner.x) / length) * distance,
        y: corner.y + ((from.y - corner.y) / length) * distance,
      };
    };
    const start = towards(before, r);
    const end = towards(after, r);
    d += ` L${num(start.x)} ${num(start.y)} Q${num(corner.x)} ${num(corner.y)} ${num(end.x)} ${num(end.y)}`;
  }
  return d;
}

/** Numbers rounded to one decimal, so the output is short and stable. */
function num(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

class Bounds {
  minX = Number.POSITIVE_INFINITY;
  minY = Number.POSITIVE_INFINITY;
  maxX = Number.NEGATIVE_INFINITY;
  maxY = Number.NEGATIVE_INFINITY;

  add(x0: number, y0: number, x1: number, y1: number): void {
    this.minX = Math.min(this.minX, x0, x1);
    this.maxX = Math.max(this.maxX, x0, x1);
    this.minY = Math.min(this.minY, y0, y1);
    this.maxY = Math.max(this.maxY, y0, y1);
  }

  addLabel(label: Label): void {
    const width = labelWidth(label.lines) + 2 * LABEL_PAD;
    const half = labelHeight(label.lines) / 2;
    const x0 = label.anchor === 'start' ? label.x - LABEL_PAD : label.x - width + LABEL_PAD;
    this.add(x0, label.y - half, x0 + width, label.y + half);
  }
}

interface Lane {
  readonly arrow: Arrow;
  readonly side: Side;
  readonly from: Box;
  readonly to: Box;
  readonly fromPort: Attachment;
  readonly toPort: Attachment;
  x: number;
}

interface Loop {
  readonly arrow: Arrow;
  readonly side: Side;
  readonly box: Box;
  readonly out: Attachment;
  readonly back: Attachment;
}

/**
 * Renders Mermaid `stateDiagram-v2` text (the subset {@link machineToMermaid} writes) as a standalone SVG
 * document, without a browser: one `<g class="node" data-state="…">` per state, one `<path class="edge">` per
 * pair of states joined by transitions, labels and notes as text. Throws on syntax outside that subset.
 */
export function mermaidToSvg(text: string): string {
  const diagram = parse(text);
  const boxes = layoutBoxes(diagram);
  const box = (id: string): Box => {
    const found = boxes.get(id);
    if (found === undefined) throw new Error(`mermaidToSvg: unknown state '${id}'`);
    return found;
  };
  const bounds = new Bounds();
  for (const b of boxes.values()) bounds.add(b.x, b.y, b.x + b.width, b.y + b.height);

  // Side attachments (lanes and loops), per box and side, sorted into ports at the end.
  const attachments = new Map<string, Attachment[]>();
  const attach = (b: Box, side: Side, order: number): Attachment => {
    const key = `${b.state.id}\u0000${side}`;
    const list = attachments.get(key) ?? [];
    const attachment: Attachment = { order, y: 0 };
    list.push(attachment);
    attachments.set(key, list);
    return attachment;
  };

  const downs: Arrow[] = [];
  const laneArrows: Arrow[] = [];
  const loopArrows: Arrow[] = [];
  for (const arrow of diagram.arrows) {
    if (arrow.from === arrow.to) loopArrows.push(arrow);
    else if (box(arrow.to).rank === box(arrow.from).rank + 1) downs.push(arrow);
    else laneArrows.push(arrow);
  }

  // Lanes: right of the graph when their ends lean right, else left; inner lanes span fewer ranks.
  const span = (arrow: Arrow): number => Math.abs(box(arrow.to).rank - box(arrow.from).rank);
  const sideOf = (arrow: Arrow): Side =>
    centerX(box(arrow.from)) + centerX(box(arrow.to)) >= 0 ? 'right' : 'left';
  const lanes: Lane[] = [];
  for (const side of ['right', 'left'] as const) {
    const onSide = laneArrows
      .filter((arrow) => sideOf(arrow) === side)
      .map((arrow, index) => ({ arrow, index }))
      .sort((a, b) => span(a.arrow) - span(b.arrow) || a.index - b.index);
    for (const [laneIndex, { arrow }] of onSide.entries()) {
      const from = box(arrow.from);
      const to = box(arrow.to);
      // Ports top to bottom: lanes arriving from above (inner first), then lanes leaving downwards (outer first).
      const portOrder = (self: Box, other: Box): number =>
        other.rank < self.rank ? laneIndex : 1_000_000 - laneIndex;
      lanes.push({
        arrow,
        side,
        from,
        to,
        fromPort: attach(from, side, portOrder(from, to)),
        toPort: attach(to, side, portOrder(to, from)),
        x: 0,
      });
    }
  }
  const laneCount = (b: Box, side: Side): number =>
    lanes.filter((lane) => lane.side === side && (lane.from === b || lane.to === b)).length;

  // Self-loops on the side of their box with fewer lanes, between arriving and leaving lanes.
  const loops: Loop[] = loopArrows.map((arrow) => {
    const b = box(arrow.from);
    const side: Side = laneCount(b, 'left') <= laneCount(b, 'right') ? 'left' : 'right';
    return { arrow, side, box: b, out: attach(b, side, 500_000), back: attach(b, side, 500_001) };
  });

  for (const [key, list] of attachments) {
    const b = box(key.slice(0, key.indexOf('\u0000')));
    list.sort((a, c) => a.order - c.order);
    for (const [index, attachment] of list.entries()) {
      attachment.y = b.y + (b.height * (index + 1)) / (list.length + 1);
    }
  }

  const paths: string[] = [];
  const labels: { arrow: Arrow; label: Label }[] = [];
  const edge = (arrow: Arrow, points: readonly Point[]): void => {
    paths.push(
      `<path class="edge" data-from="${escapeXml(arrow.from)}" data-to="${escapeXml(arrow.to)}" ` +
        `d="${roundedPath(points)}" marker-end="url(#arrow)"/>`,
    );
  };

  for (const loop of loops) {
    const x = sideX(loop.box, loop.side);
    const out = loop.side === 'right' ? x + LOOP_REACH : x - LOOP_REACH;
    edge(loop.arrow, [
      { x, y: loop.out.y },
      { x: out, y: loop.out.y },
      { x: out, y: loop.back.y },
      { x, y: loop.back.y },
    ]);
    const label: Label = {
      lines: loop.arrow.labels,
      x: loop.side === 'right' ? out + LABEL_OFFSET : out - LABEL_OFFSET,
      y: (loop.out.y + loop.back.y) / 2,
      anchor: loop.side === 'right' ? 'start' : 'end',
    };
    labels.push({ arrow: loop.arrow, label });
    bounds.add(out, loop.out.y, x, loop.back.y);
    bounds.addLabel(label);
  }

  // Arrows between neighbouring ranks: down from the bottom of one box to the top of the next.
  const bottomPorts = new Map<Arrow, number>();
  const topPorts = new Map<Arrow, number>();
  const spread = (
    b: Box,
    list: Arrow[],
    other: (arrow: Arrow) => Box,
    into: Map<Arrow, number>,
  ) => {
    const sorted = [...list].sort((a, c) => centerX(other(a)) - centerX(other(c)));
    for (const [index, arrow] of sorted.entries()) {
      into.set(arrow, b.x + (b.width * (index + 1)) / (sorted.length + 1));
    }
  };
  for (const b of boxes.values()) {
    const id = b.state.id;
    spread(
      b,
      downs.filter((a) => a.from === id),
      (a) => box(a.to),
      bottomPorts,
    );
    spread(
      b,
      downs.filter((a) => a.to === id),
      (a) => box(a.from),
      topPorts,
    );
  }
  for (const arrow of downs) {
    const from = box(arrow.from);
    const to = box(arrow.to);
    const x0 = bottomPorts.get(arrow) ?? centerX(from);
    const x1 = topPorts.get(arrow) ?? centerX(to);
    const y0 = from.y + from.height;
    const y1 = to.y;
    const middle = (y0 + y1) / 2;
    edge(
      arrow,
      Math.abs(x0 - x1) < 0.5
        ? [
            { x: x0, y: y0 },
            { x: x1, y: y1 },
          ]
        : [
            { x: x0, y: y0 },
            { x: x0, y: middle },
            { x: x1, y: middle },
            { x: x1, y: y1 },
          ],
    );
    const leftwards = x1 < x0 - 0.5;
    const label: Label = {
      lines: arrow.labels,
      x: leftwards ? x1 - LABEL_OFFSET : x1 + LABEL_OFFSET,
      y: Math.abs(x0 - x1) < 0.5 ? middle : (middle + y1) / 2,
      anchor: leftwards ? 'end' : 'start',
    };
    labels.push({ arrow, label });
    bounds.addLabel(label);
  }

  // Lane positions: the first just outside everything drawn so far, each next one outside the previous label.
  for (const side of ['right', 'left'] as const) {
    let edgeX = side === 'right' ? bounds.maxX + LANE_START : bounds.minX - LANE_START;
    for (const lane of lanes.filter((l) => l.side === side)) {
      lane.x = edgeX;
      const y0 = lane.fromPort.y;
      const y1 = lane.toPort.y;
      edge(lane.arrow, [
        { x: sideX(lane.from, side), y: y0 },
        { x: lane.x, y: y0 },
        { x: lane.x, y: y1 },
        { x: sideX(lane.to, side), y: y1 },
      ]);
      const label: Label = {
        lines: lane.arrow.labels,
        x: side === 'right' ? lane.x + LABEL_OFFSET : lane.x - LABEL_OFFSET,
        y: (y0 + y1) / 2,
        anchor: side === 'right' ? 'start' : 'end',
      };
      labels.push({ arrow: lane.arrow, label });
      const reach = labelWidth(label.lines) + LABEL_OFFSET + LANE_GAP;
      edgeX = side === 'right' ? lane.x + reach : lane.x - reach;
      bounds.add(lane.x, y0, lane.x, y1);
      bounds.addLabel(label);
    }
  }

  const initials: string[] = [];
  for (const id of diagram.initial) {
    const b = box(id);
    const x = centerX(b);
    const dotY = b.y - 34;
    initials.push(
      `<g class="initial" data-to="${escapeXml(id)}"><circle cx="${num(x)}" cy="${num(dotY)}" r="7" fill="${INK}"/>` +
        `<path d="M${num(x)} ${num(dotY + 7)} L${num(x)} ${num(b.y)}" fill="none" stroke="${LINE}" ` +
        `stroke-width="1.2" marker-end="url(#arrow)"/></g>`,
    );
    bounds.add(x - 7, dotY - 7, x + 7, dotY);
  }

  const nodes = [...boxes.values()].map(renderBox);

  const notes: string[] = [];
  for (const note of diagram.notes) {
    const b = box(note.target);
    const width = labelWidth(note.lines) + 20;
    const height = labelHeight(note.lines) + 12;
    const x = note.side === 'right' ? bounds.maxX + 28 : bounds.minX - 28 - width;
    const lines = note.lines.map(
      (line, index) =>
        `<text x="${num(x + 10)}" y="${num(b.y + 6 + LINE_HEIGHT * index + LINE_HEIGHT / 2 + TEXT_SIZE * 0.35)}">${escapeXml(line)}</text>`,
    );
    notes.push(
      `<g class="note" data-of="${escapeXml(note.target)}"><rect x="${num(x)}" y="${num(b.y)}" ` +
        `width="${num(width)}" height="${num(height)}" rx="2" fill="#fff8c5" stroke="#d4a72c"/>${lines.join('')}</g>`,
    );
    bounds.add(x, b.y, x + width, b.y + height);
  }

  const x0 = bounds.minX - MARGIN;
  const y0 = bounds.minY - MARGIN;
  const width = bounds.maxX - bounds.minX + 2 * MARGIN;
  const height = bounds.maxY - bounds.minY + 2 * MARGIN;
  const title = `State diagram: ${[...diagram.states.keys()].join(', ')}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${num(x0)} ${num(y0)} ${num(width)} ${num(height)}" ` +
      `width="${Math.ceil(width)}" height="${Math.ceil(height)}" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" ' +
      `orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 Z" fill="${LINE}"/></marker></defs>`,
    `<rect class="background" x="${num(x0)}" y="${num(y0)}" width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`,
    `<g class="edges" fill="none" stroke="${LINE}" stroke-width="1.2">`,
    ...paths,
    '</g>',
    ...initials,
    `<g class="nodes" font-family="${FONT}" fill="${INK}">`,
    ...nodes,
    '</g>',
    `<g class="labels" font-family="${FONT}" font-size="${TEXT_SIZE}" fill="${INK}">`,
    ...labels.map(({ arrow, label }) => renderLabel(arrow, label)),
    '</g>',
    `<g class="notes" font-family="${FONT}" font-size="${TEXT_SIZE}" fill="${INK}">`,
    ...notes,
    '</g>',
    '</svg>',
    '',
  ].join('\n');
}

function renderBox(b: Box): string {
  const { state } = b;
  const cx = centerX(b);
  const parts = [
    `<rect x="${num(b.x)}" y="${num(b.y)}" width="${num(b.width)}" height="${num(b.height)}" rx="8" ` +
      `fill="#f6f8fa" stroke="${LINE}" stroke-width="1.2"/>`,
  ];
  if (state.final) {
    parts.push(
      `<rect x="${num(b.x + 3)}" y="${num(b.y + 3)}" width="${num(b.width - 6)}" height="${num(b.height - 6)}" ` +
        `rx="6" fill="none" stroke="${LINE}" stroke-width="1.2"/>`,
    );
  }
  parts.push(
    `<text class="name" x="${num(cx)}" y="${num(b.y + NAME_HEIGHT / 2 + NAME_SIZE * 0.35)}" ` +
      `font-size="${NAME_SIZE}" font-weight="600" text-anchor="middle">${escapeXml(state.id)}</text>`,
  );
  if (state.descriptions.length > 0) {
    const lineY = b.y + NAME_HEIGHT;
    parts.push(
      `<path d="M${num(b.x)} ${num(lineY)} L${num(b.x + b.width)} ${num(lineY)}" stroke="${LINE}" stroke-width="0.8"/>`,
    );
    for (const [index, line] of state.descriptions.entries()) {
      const y = lineY + 5 + LINE_HEIGHT * index + LINE_HEIGHT / 2 + TEXT_SIZE * 0.35;
      parts.push(
        `<text class="description" x="${num(b.x + NODE_PAD_X)}" y="${num(y)}" font-size="${TEXT_SIZE}">${escapeXml(line)}</text>`,
      );
    }
  }
  return `<g class="node" data-state="${escapeXml(state.id)}">${parts.join('')}</g>`;
}

function renderLabel(arrow: Arrow, label: Label): string {
  if (label.lines.length === 0) return '';
  const width = labelWidth(label.lines) + 2 * LABEL_PAD;
  const height = labelHeight(label.lines);
  const left = label.anchor === 'start' ? label.x - LABEL_PAD : label.x - width + LABEL_PAD;
  const top = label.y - height / 2;
  const texts = label.lines.map(
    (line, index) =>
      `<text x="${num(label.x)}" y="${num(top + LINE_HEIGHT * index + LINE_HEIGHT / 2 + TEXT_SIZE * 0.35)}" ` +
      `text-anchor="${label.anchor}">${escapeXml(line)}</text>`,
  );
  return (
    `<g class="label" data-from="${escapeXml(arrow.from)}" data-to="${escapeXml(arrow.to)}">` +
    `<rect x="${num(left)}" y="${num(top)}" width="${num(width)}" height="${num(height)}" fill="#ffffff" fill-opacity="0.9"/>` +
    `${texts.join('')}</g>`
  );
}
