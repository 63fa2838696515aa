import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(__dirname, '..', '..', 'src');
const CLI_PACKAGES = ['commander', 'cli-progress', 'picocolors', 'hono', '@hono/node-server'];
/** Optional peers: only the entry points that need them may load them. */
const OPTIONAL_PEERS = ['pg', '@opentelemetry/api'];

/** Every module reachable from `entry` through static imports and re-exports: relative files, and bare package names. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    const pattern = /(?:import|export)[^'";]*?from\s+'([^']+)'|import\s*\(?\s*'([^']+)'/g;
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1] ?? match[2] ?? '';
      if (specifier.startsWith('.')) {
        const base = resolve(dirname(file), specifier.replace(/\.js$/, ''));
        const target = [`${base}.ts`, `${base}.tsx`].find((path) => existsSync(path));
        if (target !== undefined) pending.push(target);
      } else {
        packages.add(specifier);
      }
    }
  }
  return { files, packages };
}

describe('the library import path', () => {
  it('should reach no CLI or dashboard module and none of their packages from src/index.ts', () => {
    const { files, packages } = importGraph(join(SRC, 'index.ts'));
    expect(files.size).toBeGreaterThan(5);
    expect(
      [...files]
        .map((file) => relative(SRC, file))
        .filter((file) => file.startsWith('cli') || file.startsWith('dashboard')),
    ).toEqual([]);
    expect([...packages].filter((name) => CLI_PACKAGES.includes(name))).toEqual([]);
  });

  it('should load @opentelemetry/api only from the task-runtime/opentelemetry entry point', () => {
    const library = importGraph(join(SRC, 'index.ts'));
    expect([...library.packages].filter((name) => name.startsWith('@opentelemetry/'))).toEqual([]);
    const tracing = importGraph(join(SRC, 'opentelemetry', 'instrument.ts'));
    expect([...tracing.packages].filter((name) => OPTIONAL_PEERS.includes(name))).toEqual([
      '@opentelemetry/api',
    ]);
  });

  it('should see the CLI packages from src/cli/main.ts (the check itself works)', () => {
    const { packages } = importGraph(join(SRC, 'cli', 'main.ts'));
    expect(CLI_PACKAGES.filter((name) => packages.has(name))).toEqual(CLI_PACKAGES);
  });
});
