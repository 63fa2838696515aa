import { allText, findAll, hasClass, parseXml } from './xml.js';

describe('parseXml (the tests’ well-formedness check)', () => {
  it('should read elements, attributes, entities and self-closing tags', () => {
    const root = parseXml(
      '<?xml version="1.0"?>\n<svg a="1" b=\'x &amp; y\'><g class="node big"><text>a &lt; b</text></g><path d="M0 0"/></svg>\n',
    );
    expect(root.name).toBe('svg');
    expect(root.attributes).toEqual({ a: '1', b: 'x & y' });
    expect(root.children.map((child) => child.name)).toEqual(['g', 'path']);
    expect(findAll(root, (element) => hasClass(element, 'node'))).toHaveLength(1);
    expect(allText(root)).toBe('a < b');
  });

  it.each([
    ['an unclosed element', '<svg><g></svg>'],
    ['a mismatched closing tag', '<svg><g></text></svg>'],
    ['a closing tag without an opening one', '<svg></g></svg>'],
    ['an unquoted attribute', '<svg a=1></svg>'],
    ['a duplicate attribute', '<svg a="1" a="2"></svg>'],
    ['a raw < in an attribute', '<svg a="<"></svg>'],
    ['a raw & in text', '<svg>a & b</svg>'],
    ['an unknown entity', '<svg>&nbsp;</svg>'],
    ['two root elements', '<svg></svg><svg></svg>'],
    ['text after the root', '<svg></svg>x'],
    ['an empty document', ''],
  ])('should refuse %s', (_problem, text) => {
    expect(() => parseXml(text)).toThrow(/not well-formed XML/);
  });
});
