// Rewrites the README's lifecycle diagram from the machine (`npm run diagram:readme`, after a build).
// test/diagram/readme.test.ts fails while the README's copy differs from machineToMermaid().
import { readFile, writeFile } from 'node:fs/promises';
import { machineToMermaid } from '../dist/diagram/mermaid.js';
import { readLifecycleDiagram, replaceLifecycleDiagram } from '../dist/diagram/readme.js';

const readmeUrl = new URL('../README.md', import.meta.url);
const readme = await readFile(readmeUrl, 'utf8');
const mermaid = machineToMermaid();
if (readLifecycleDiagram(readme) === mermaid) {
  console.log('README.md: the lifecycle diagram is up to date');
} else {
  await writeFile(readmeUrl, replaceLifecycleDiagram(readme, mermaid));
  console.log('README.md: the lifecycle diagram was regenerated from taskMachine');
}
