/** Helpers of the diagram and CLI tests that read the SVG Graphviz writes. */
import { allText, findAll, hasClass, parseXml, type XmlElement } from './xml.js';

/** Ids an orchestrator may be handed by a hostile or careless agent. */
export const HOSTILE_TEXTS: readonly string[] = [
  'plain',
  'say "hi"',
  'back\\slash and trailing\\',
  '\\N \\G \\E \\T \\H \\L \\n \\l \\r',
  '<script>alert(1)</script>',
  '&lt; &amp; &#92; &#x41; &',
  'javascript:alert(document.cookie)',
  'two\nlines',
  'tab\there',
  '  two  spaces  ',
  'nul\u0000byte',
  'lone \uD800 high and \uDC00 low',
  'emoji 😀 and ünïcödé',
  '{record|<port>} -> "x" [label=y]',
  '-->',
  ']] ; } digraph {',
];

/** The `<g class="node">` elements of an SVG document, after checking that it is well-formed. */
export function svgNodes(svg: string): XmlElement[] {
  return findAll(parseXml(svg), (e) => e.name === 'g' && hasClass(e, 'node'));
}

/** The text lines a node shows, in order; Graphviz keeps runs of spaces as no-break spaces, read back as spaces. */
export function textLines(node: XmlElement): string[] {
  return findAll(node, (e) => e.name === 'text').map((e) => allText(e).replace(/\u00A0/g, ' '));
}

/** The element's first `<a>`, where Graphviz writes a node's link and tooltip. */
export function anchorOf(node: XmlElement): XmlElement | undefined {
  return findAll(node, (e) => e.name === 'a')[0];
}

/** The `<title>` of every node of an SVG document (Graphviz writes the DOT node key there), in document order. */
export function nodeTitles(svg: string): string[] {
  return svgNodes(svg).map((node) =>
    allText(node.children.find((child) => child.name === 'title') ?? node),
  );
}
