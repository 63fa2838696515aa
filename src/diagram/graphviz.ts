import type { Viz } from '@viz-js/viz';

let loading: Promise<Viz> | null = null;

/** The Graphviz instance, loaded with `import()` on first use (never by `import 'task-runtime'`) and cached. */
function graphviz(): Promise<Viz> {
  if (loading === null) {
    loading = import('@viz-js/viz').then((module) => module.instance());
    loading.catch(() => {
      loading = null; // a failed load is retried on the next use
    });
  }
  return loading;
}

/**
 * `text` with every character that XML cannot hold (U+0000 and the other C0 controls but tab, newline and CR,
 * U+FFFE, U+FFFF, lone surrogates) replaced by U+FFFD, so Graphviz never sees them and the SVG stays well-formed.
 */
export function xmlSafe(text: string): string {
  let out = '';
  for (const char of text) out += isXmlChar(char.codePointAt(0) ?? 0) ? char : '\uFFFD';
  return out;
}

/** Whether XML 1.0 can hold the code point (a lone surrogate, iterated alone, cannot). */
function isXmlChar(code: number): boolean {
  if (code < 0x20) return code === 0x09 || code === 0x0a || code === 0x0d;
  return code < 0xd800 || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
}

/**
 * A DOT double-quoted string literal, for a label or an attribute, that Graphviz shows as `text` verbatim:
 * `"` and `\` are escaped (so Graphviz's `\N`, `\l`… escapes cannot be triggered), `&` is written `&amp;` (Graphviz
 * would otherwise pass `&lt;` through as an entity), a line break (`\n`, `\r\n` or `\r`) becomes a centred line
 * break. Characters XML cannot hold — U+0000 and the other C0 controls, lone surrogates — become U+FFFD (see
 * {@link xmlSafe}): Graphviz never sees a raw U+0000.
 */
export function quoteDot(text: string): string {
  const escaped = xmlSafe(text)
    .replace(/[\\"]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/\r\n|\r|\n/g, '\\n');
  return `"${escaped}"`;
}

/**
 * A DOT string literal for a `tooltip` that Graphviz shows as `text` verbatim. Graphviz expands a tooltip's escapes
 * twice (`\\\\N` would become the node's name), so each backslash is written four times; otherwise as
 * {@link quoteDot}.
 */
export function quoteDotTooltip(text: string): string {
  return quoteDot(text).replace(/\\\\/g, '\\\\\\\\');
}

/**
 * `text` escaped for a Graphviz HTML-like label (`<…>`): `&`, `<`, `>`, `"` as entities, each `\` doubled (Graphviz
 * expands `\N`, `\G`… in HTML-like labels too), a tab as a space (HTML-like labels drop tabs); see {@link xmlSafe}. Line breaks are the caller's (`<br/>`).
 */
export function htmlLabelText(text: string): string {
  return xmlSafe(text)
    .replace(/\\/g, '\\\\')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, ' ');
}

/**
 * Graphviz (`@viz-js/viz`, loaded lazily and cached) lays `dot` out with the `dot` engine and renders it as an SVG
 * string that starts at `<svg` (no XML prolog, doctype or generator comment), so it can be inlined in HTML.
 * @throws {Error} naming Graphviz's message when `dot` is not valid DOT or cannot be rendered, or when Graphviz itself
 *   fails (a trap in its WebAssembly); the next call starts a fresh Graphviz
 */
export async function renderSvg(dot: string): Promise<string> {
  const viz = await graphviz();
  let result: ReturnType<Viz['render']>;
  try {
    result = viz.render(dot, { format: 'svg', engine: 'dot' });
  } catch (error) {
    loading = null; // a trap inside Graphviz's WebAssembly leaves the instance unusable
    throw new Error(
      `Graphviz failed while rendering the DOT graph (${error instanceof Error ? error.message : String(error)}); this is a Graphviz bug, please report it with the graph`,
    );
  }
  if (result.status !== 'success') {
    loading = null; // a syntax error can leave Graphviz's parser in a bad state: start afresh next time
    const messages = result.errors.map((error) => error.message.trim()).join('; ');
    throw new Error(`Graphviz could not render the DOT graph: ${messages || 'no message given'}`);
  }
  const start = result.output.indexOf('<svg');
  if (start === -1) throw new Error('Graphviz rendered no <svg> element');
  return result.output.slice(start);
}
