import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir } from './support/tempDir.js';

const root = resolve(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The first ```ts block under the heading `## <title>`. */
function firstExample(title: string): string {
  const section = readme.slice(readme.indexOf(`## ${title}`));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error(`README has no \`\`\`ts block under "## ${title}"`);
  return match[1];
}

describe('README', () => {
  it('should show the test command', () => {
    expect(readme).toContain('npm test');
  });

  it.each(['Quick start', 'Runs of many tasks'])(
    'should have a %s example that runs as written and prints what its // => comments say',
    (title) => {
      const code = firstExample(title);
      const expected = [...code.matchAll(/console\.log\(.*\); \/\/ => (.*)$/gm)].map((m) => m[1]);
      expect(expected.length).toBeGreaterThan(0);
      const dir = makeTempDir('readme-');
      const file = join(dir, 'example.mjs');
      const distIndex = join(root, 'dist', 'index.js');
      writeFileSync(file, code.replace("from 'task-runtime'", `from ${JSON.stringify(distIndex)}`));
      const output = execFileSync(process.execPath, [file], { encoding: 'utf8' });
      expect(output.trimEnd().split('\n')).toEqual(expected);
    },
  );
});
