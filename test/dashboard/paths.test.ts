import fc from 'fast-check';
import { taskIdOfSegment, taskPagePath, taskSegment } from '../../src/dashboard/paths.js';
import { linkableUrl, visibleText } from '../../src/dashboard/text.js';
import { SEED } from '../support/random.js';

/** What a server sees of a path segment: the URL parser's normalization, then percent-decoding. */
function served(path: string): string | null {
  const { pathname } = new URL(path, 'http://127.0.0.1/');
  const match = /^\/tasks\/([^/]+)$/.exec(pathname);
  return match === null ? null : taskIdOfSegment(decodeURIComponent(match[1] ?? ''));
}

describe('taskSegment', () => {
  it.each([
    'a/b',
    'q?x=1#frag',
    '100%',
    '"quoted"',
    'with space',
    '.',
    '..',
    'lone \ud800',
    '日本語 🚀',
  ])('should bring %j back through a URL unchanged', (id) => {
    expect(served(taskPagePath(id))).toBe(id);
  });

  it('should bring every non-empty string back through a URL unchanged', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, unit: 'binary' }),
        (id) => served(taskPagePath(id)) === id,
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('should write a plain id as itself and name no task with an empty or malformed segment', () => {
    expect(taskSegment('impl-login')).toBe('impl-login');
    expect(taskIdOfSegment('')).toBeNull();
    expect(taskIdOfSegment('"unterminated')).toBeNull();
    expect(taskIdOfSegment('""')).toBeNull();
  });
});

describe('visibleText', () => {
  it('should keep text verbatim but show U+0000 as ␀ and a lone surrogate as U+FFFD', () => {
    expect(visibleText('<b>"a" & \'b\'</b>')).toBe('<b>"a" & \'b\'</b>');
    expect(visibleText('a\u0000b\ud800c\udc00')).toBe('a\u2400b\ufffdc\ufffd');
    expect(visibleText('🚀')).toBe('🚀');
  });
});

describe('linkableUrl', () => {
  it.each([
    ['https://github.com/acme/app/pull/7', 'https://github.com/acme/app/pull/7'],
    ['http://example.com/a b', null],
    ['javascript:alert(1)', null],
    [' javascript:alert(1)', null],
    ['JaVaScRiPt:alert(1)', null],
    ['java\u0000script:alert(1)', null],
    ['data:text/html,<script>alert(1)</script>', null],
    ['//evil.example/x', null],
    ['/relative', null],
    ['https://x.example/\ud800', null],
    ['not a url', null],
  ])('should link %j as %j', (text, link) => {
    expect(linkableUrl(text)).toBe(link);
  });
});
