import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/*
 * The bench's layout, read as text (its modules are ES modules that run on import): each group of rows is a module
 * that exports a BenchGroup, bench/main.ts lists the groups and assembles the table, and nothing imports main.ts.
 */

const benchDir = resolve(__dirname, '..', '..', 'bench');
const read = (name: string): string => readFileSync(join(benchDir, name), 'utf8');
const modules = readdirSync(benchDir).filter((name) => name.endsWith('.ts') && name !== 'main.ts');

describe('bench/ layout', () => {
  it('should import main.ts from no other module', () => {
    expect(modules.filter((name) => /from '\.\/main\.js'/.test(read(name)))).toEqual([]);
  });

  it('should run every group a module exports', () => {
    const groups = modules.flatMap((name) =>
      [...read(name).matchAll(/^export const (\w+): BenchGroup\b/gm)].map((match) => match[1]),
    );
    expect(groups.length).toBeGreaterThan(0);
    const main = read('main.ts');
    for (const group of groups) expect(main).toMatch(new RegExp(`^  ${group},$`, 'm'));
  });
});
