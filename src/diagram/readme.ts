const HEADING = /^## The lifecycle[ \t]*$/m;
const OPEN = '```mermaid\n';
const CLOSE = '```';

/** Where the lifecycle diagram's text sits in the README: after its opening fence, up to the closing one. */
function locate(readme: string): { start: number; end: number } {
  const heading = HEADING.exec(readme)?.index;
  if (heading === undefined) throw new Error("README has no '## The lifecycle' section");
  const nextHeading = readme.indexOf('\n## ', heading + 1);
  const open = readme.indexOf(OPEN, heading);
  if (open === -1 || (nextHeading !== -1 && open > nextHeading)) {
    throw new Error("README's '## The lifecycle' section has no ```mermaid block");
  }
  const start = open + OPEN.length;
  const end = readme.indexOf(`\n${CLOSE}`, start - 1);
  if (end === -1) throw new Error("README's lifecycle ```mermaid block is not closed");
  return { start, end: end + 1 };
}

/** The Mermaid text of the README's lifecycle diagram (the first ```mermaid block under "## The lifecycle"). */
export function readLifecycleDiagram(readme: string): string {
  const { start, end } = locate(readme);
  return readme.slice(start, end);
}

/** The README with its lifecycle diagram replaced by `mermaid` (text ending with a newline); the rest unchanged. */
export function replaceLifecycleDiagram(readme: string, mermaid: string): string {
  const { start, end } = locate(readme);
  const text = mermaid.endsWith('\n') ? mermaid : `${mermaid}\n`;
  return `${readme.slice(0, start)}${text}${readme.slice(end)}`;
}
