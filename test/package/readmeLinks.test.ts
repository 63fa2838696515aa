/**
 * The README as someone who installed the package reads it, in node_modules/task-runtime: every link it has must
 * lead somewhere from there — a file the tarball holds, a heading of the README, or an absolute URL.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ROOT } from './packed.js';

jest.setTimeout(60_000);

/** The README's text without its code: fenced blocks and inline code spans hold no links. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/(`+)[\s\S]*?\1/g, '');
}

/** Every link target in `markdown`: inline links and images, reference definitions, and HTML href/src. */
function linksOf(markdown: string): string[] {
  const text = prose(markdown);
  const patterns = [
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g,
    /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm,
    /\b(?:href|src)\s*=\s*["']([^"']+)["']/gi,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1] ?? ''));
}

/** The anchors GitHub gives the headings of `markdown` (`## Runs of many tasks` → `runs-of-many-tasks`). */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const code = /^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm;
  for (const [, title = ''] of markdown.replace(code, '').matchAll(/^#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    const base = title
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n += 1) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** What `npm pack` would put in the tarball, as the package is now (build and docs first): its files and size. */
interface Packed {
  readonly files: ReadonlySet<string>;
  /** The tarball's size, in bytes. */
  readonly size: number;
  /** The largest files, with their sizes, for a message. */
  readonly largest: string;
}

/** The upper bound on the tarball's size; the API reference and the screenshots are most of it. */
const MAX_TARBALL_BYTES = 1_000_000;

function packed(): Packed {
  const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [tarball] = JSON.parse(output) as {
    size: number;
    files: { path: string; size: number }[];
  }[];
  if (tarball === undefined) throw new Error(`npm pack --dry-run printed nothing: ${output}`);
  const largest = [...tarball.files]
    .sort((a, b) => b.size - a.size)
    .slice(0, 5)
    .map((file) => `${file.path} (${file.size} bytes)`)
    .join(', ');
  return { files: new Set(tarball.files.map((file) => file.path)), size: tarball.size, largest };
}

/**
 * Why the link `target` does not work from the installed package, or null when it does: an absolute URL, an
 * anchor of a heading in `anchors`, or a path (its own anchor and query aside) to one of `files`.
 */
function brokenLink(
  target: string,
  files: ReadonlySet<string>,
  anchors: ReadonlySet<string>,
): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return null;
  if (target.startsWith('#')) {
    const anchor = decodeURIComponent(target.slice(1));
    return anchors.has(anchor) ? null : `${target}: the README has no heading with this anchor`;
  }
  const path = posix.normalize(decodeURIComponent(target.replace(/[?#].*$/, '')));
  if (path.startsWith('/') || path.startsWith('../')) {
    return `${target}: outside the package (a link must stay inside it, or be an absolute URL)`;
  }
  if (files.has(path)) return null;
  const why = existsSync(join(ROOT, path))
    ? 'in the repository, but package.json "files" leaves it out of the tarball'
    : 'not in the repository either (a generated file? `npm test` builds and runs `npm run docs` first)';
  return `${target}: not in the packed package; ${why}`;
}

describe('the README, read from the installed package', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  let tarball: Packed = { files: new Set(), size: 0, largest: '' };

  beforeAll(() => {
    tarball = packed();
  });

  it('should find every kind of link, and none inside code (what the next test relies on)', () => {
    const sample = [
      'See the [API](docs/api/index.html#x "title"), ![shot](docs/a.png) and [site](https://example.com/).',
      '[ref]: docs/ref.md',
      '<a href="docs/b.html">b</a> <img src=\'docs/c.png\'>',
      'Not `[code](src/x.ts)`, nor:',
      '```ts',
      "import x from './src/y.js'; // [link](src/y.ts)",
      '```',
    ].join('\n');
    expect(linksOf(sample)).toEqual([
      'docs/api/index.html#x',
      'docs/a.png',
      'https://example.com/',
      'docs/ref.md',
      'docs/b.html',
      'docs/c.png',
    ]);
    expect(linksOf(readme).length).toBeGreaterThan(0);
  });

  it('should have every link lead to a file the tarball holds, a heading of its own, or an absolute URL', () => {
    expect(tarball.files.has('README.md')).toBe(true);
    const anchors = anchorsOf(readme);
    const broken = linksOf(readme).flatMap(
      (target) => brokenLink(target, tarball.files, anchors) ?? [],
    );
    expect(broken).toEqual([]);
  });

  it('should keep the tarball that ships the API reference and the screenshots under 1 MB', () => {
    if (tarball.size > MAX_TARBALL_BYTES) {
      throw new Error(
        `the tarball is ${tarball.size} bytes; its largest files: ${tarball.largest}`,
      );
    }
    expect(tarball.size).toBeGreaterThan(0);
  });

  it('should tell a broken link from a working one (the check above can fail)', () => {
    const files = new Set(['README.md', 'docs/api/index.html']);
    const anchors = anchorsOf('# Title\n## Runs of many tasks\n```\n# not a heading\n```\n');
    expect(brokenLink('docs/api/index.html#section', files, anchors)).toBeNull();
    expect(brokenLink('./docs/api/index.html', files, anchors)).toBeNull();
    expect(brokenLink('https://github.com/acme/app', files, anchors)).toBeNull();
    expect(brokenLink('#runs-of-many-tasks', files, anchors)).toBeNull();
    expect(brokenLink('#not-a-heading', files, anchors)).toMatch(/no heading/);
    expect(brokenLink('src/cli/demo/orchestrator.ts', files, anchors)).toMatch(
      /not in the packed package/,
    );
    expect(brokenLink('../outside.md', files, anchors)).toMatch(/outside the package/);
  });
});
