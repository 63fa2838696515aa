/**
 * A strict little XML reader for the tests: it builds the element tree and throws on anything that is not
 * well-formed (unbalanced or mismatched tags, unquoted or duplicate attributes, a raw `<` or a bad entity in
 * text or attribute values, text or a second element outside the root). It reads the XML that SVG renderers
 * write; it does not support DTDs, CDATA or processing instructions other than the `<?xml …?>` declaration.
 */

/** An element with its attributes, child elements, and text content (entities decoded). */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

const isNameStart = (c: string): boolean =>
  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === ':';
const isNameChar = (c: string): boolean =>
  isNameStart(c) || (c >= '0' && c <= '9') || c === '-' || c === '.';
const isSpace = (c: string): boolean => c === ' ' || c === '\n' || c === '\t' || c === '\r';

/** Parses `text` as one XML document and returns its root element; throws with the offset of the first problem. */
export function parseXml(text: string): XmlElement {
  let i = 0;
  const fail = (problem: string): never => {
    throw new Error(`not well-formed XML at offset ${i}: ${problem}`);
  };
  const peek = (s: string): boolean => text.startsWith(s, i);
  const expect = (s: string): void => {
    if (!peek(s)) fail(`expected '${s}'`);
    i += s.length;
  };
  const skipSpace = (): void => {
    while (i < text.length && isSpace(text.charAt(i))) i++;
  };
  const readName = (): string => {
    const start = i;
    if (!isNameStart(text.charAt(i))) fail('expected a name');
    while (i < text.length && isNameChar(text.charAt(i))) i++;
    return text.slice(start, i);
  };
  /** Decodes character data up to `stop` (exclusive), refusing raw `<` and unknown entities. */
  const readChars = (stop: (c: string) => boolean): string => {
    let out = '';
    while (i < text.length && !stop(text.charAt(i))) {
      const c = text.charAt(i);
      if (c === '<') fail("raw '<' in character data");
      if (c !== '&') {
        out += c;
        i++;
        continue;
      }
      const end = text.indexOf(';', i);
      if (end === -1) fail("'&' without ';'");
      const entity = text.slice(i + 1, end);
      const named = ENTITIES[entity];
      if (named !== undefined) out += named;
      else if (/^#[0-9]+$/.test(entity)) out += String.fromCodePoint(Number(entity.slice(1)));
      else if (/^#x[0-9a-fA-F]+$/.test(entity)) {
        out += String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
      } else fail(`unknown entity '&${entity};'`);
      i = end + 1;
    }
    return out;
  };
  const skipComment = (): void => {
    const end = text.indexOf('-->', i + 4);
    if (end === -1) fail('unclosed comment');
    i = end + 3;
  };
  const skipMisc = (): void => {
    for (;;) {
      skipSpace();
      if (peek('<!--')) skipComment();
      else return;
    }
  };

  const readElement = (): XmlElement => {
    expect('<');
    const name = readName();
    const attributes: Record<string, string> = {};
    for (;;) {
      const hadSpace = i < text.length && isSpace(text.charAt(i));
      skipSpace();
      if (peek('/>')) {
        i += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (peek('>')) {
        i += 1;
        break;
      }
      if (!hadSpace) fail('expected whitespace before an attribute');
      const attribute = readName();
      if (Object.hasOwn(attributes, attribute)) fail(`duplicate attribute '${attribute}'`);
      skipSpace();
      expect('=');
      skipSpace();
      const quote = text.charAt(i);
      if (quote !== '"' && quote !== "'") fail(`unquoted value of '${attribute}'`);
      i++;
      attributes[attribute] = readChars((c) => c === quote);
      expect(quote);
    }
    const element: XmlElement = { name, attributes, children: [], text: '' };
    for (;;) {
      if (i >= text.length) fail(`<${name}> is not closed`);
      if (peek('<!--')) skipComment();
      else if (peek('</')) {
        i += 2;
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}>`);
        skipSpace();
        expect('>');
        return element;
      } else if (peek('<')) element.children.push(readElement());
      else element.text += readChars((c) => c === '<');
    }
  };

  if (peek('<?xml')) {
    const end = text.indexOf('?>', i);
    if (end === -1) fail('unclosed XML declaration');
    i = end + 2;
  }
  skipMisc();
  const root = readElement();
  skipMisc();
  if (i < text.length) fail('content after the root element');
  return root;
}

/** Every element in the tree (the root included) for which `predicate` holds, in document order. */
export function findAll(
  root: XmlElement,
  predicate: (element: XmlElement) => boolean,
): XmlElement[] {
  const found: XmlElement[] = [];
  const visit = (element: XmlElement): void => {
    if (predicate(element)) found.push(element);
    for (const child of element.children) visit(child);
  };
  visit(root);
  return found;
}

/** Whether the element's `class` attribute lists `name`. */
export function hasClass(element: XmlElement, name: string): boolean {
  return (element.attributes.class ?? '').split(/\s+/).includes(name);
}

/** The text of an element followed by its descendants' text (depth first); for `toContain` checks. */
export function allText(element: XmlElement): string {
  return element.text + element.children.map(allText).join('');
}
