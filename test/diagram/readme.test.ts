import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { machineToMermaid } from '../../src/diagram/mermaid.js';
import { readLifecycleDiagram, replaceLifecycleDiagram } from '../../src/diagram/readme.js';

const readme = readFileSync(join(resolve(__dirname, '..', '..'), 'README.md'), 'utf8');
const sample = [
  '# x',
  '',
  '## The lifecycle',
  '',
  '```mermaid',
  'stateDiagram-v2',
  '  old --> older',
  '```',
  '',
  'Prose after.',
  '',
  '## API',
  '',
  '```mermaid',
  'keep me',
  '```',
  '',
].join('\n');

describe('README lifecycle diagram', () => {
  it('should be exactly what machineToMermaid() generates (run `npm run diagram:readme` after changing the machine)', () => {
    expect(readLifecycleDiagram(readme)).toBe(machineToMermaid());
  });
});

describe('readLifecycleDiagram / replaceLifecycleDiagram', () => {
  it('should read the first mermaid block under "## The lifecycle"', () => {
    expect(readLifecycleDiagram(sample)).toBe('stateDiagram-v2\n  old --> older\n');
  });

  it('should replace only that block and keep the prose and later blocks', () => {
    const updated = replaceLifecycleDiagram(sample, 'stateDiagram-v2\n  a --> b\n');
    expect(updated).toBe(sample.replace('  old --> older\n', '  a --> b\n'));
    expect(readLifecycleDiagram(updated)).toBe('stateDiagram-v2\n  a --> b\n');
  });

  it('should make a stale copy current, and tell a stale copy from the generated text', () => {
    expect(readLifecycleDiagram(sample)).not.toBe(machineToMermaid());
    const updated = replaceLifecycleDiagram(sample, machineToMermaid());
    expect(readLifecycleDiagram(updated)).toBe(machineToMermaid());
    expect(replaceLifecycleDiagram(updated, machineToMermaid())).toBe(updated);
  });

  it('should say what is missing when the README has no lifecycle diagram', () => {
    expect(() => readLifecycleDiagram('# x\n')).toThrow(/no '## The lifecycle' section/);
    expect(() =>
      readLifecycleDiagram('## The lifecycle\n\ntext\n\n## API\n\n```mermaid\nx\n```\n'),
    ).toThrow(/no ```mermaid block/);
  });
});
