import { CommanderError } from 'commander';
import { createDiagramCommand } from '../../src/cli/commands/diagram.js';
import { machineToMermaid } from '../../src/diagram/mermaid.js';
import { machineToStatelyJSON } from '../../src/diagram/statelyJson.js';
import { TASK_STATUSES } from '../../src/machines/status.js';
import { nodeTitles } from '../diagram/svgRead.js';
import { helpOf, runCli } from './cliHarness.js';

/** Runs `diagram …args` in this process and returns what it wrote. */
async function diagram(args: readonly string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const command = createDiagramCommand()
    .exitOverride()
    .configureOutput({ writeOut: (text) => (out += text), writeErr: (text) => (err += text) });
  await command.parseAsync([...args], { from: 'user' });
  return { out, err };
}

/** The lifecycle states drawn in an SVG document, after checking that it is well-formed. */
function svgStates(svg: string): string[] {
  return nodeTitles(svg).filter((title) => (TASK_STATUSES as readonly string[]).includes(title));
}

describe('diagram command', () => {
  it('should print the Mermaid text by default', async () => {
    expect((await diagram([])).out).toBe(machineToMermaid());
    expect((await diagram(['--format', 'mermaid'])).out).toBe(machineToMermaid());
  });

  it('should print a well-formed SVG with one node per state for --format svg', async () => {
    const { out } = await diagram(['--format', 'svg']);
    expect(out.startsWith('<svg')).toBe(true);
    expect(out.endsWith('</svg>\n')).toBe(true);
    expect(svgStates(out)).toEqual(['pending', 'running', 'failed', 'pr_created', 'pr_merged']);
  });

  it('should print the Stately JSON for --format json', async () => {
    const { out } = await diagram(['-f', 'json']);
    expect(JSON.parse(out)).toEqual(machineToStatelyJSON());
  });

  it('should refuse an unknown format and name the choices', async () => {
    const run = diagram(['--format', 'png']);
    await expect(run).rejects.toBeInstanceOf(CommanderError);
    await expect(run).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(run).rejects.toThrow(/mermaid, svg, json/);
  });

  it('should show a description, the formats and an example in --help', async () => {
    const help = await helpOf(createDiagramCommand());
    expect(help).toContain('print the task lifecycle machine as Mermaid, SVG, or JSON');
    expect(help).toContain('--format <format>');
    expect(help).toContain('$ task-runtime diagram --format svg > lifecycle.svg');
  });
});

describe('task-runtime diagram (built command)', () => {
  it('should print a well-formed SVG with one node per state for --format svg', async () => {
    const result = await runCli(['diagram', '--format', 'svg']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(svgStates(result.stdout).sort()).toEqual([...TASK_STATUSES].sort());
  });

  it('should print the same Mermaid text as machineToMermaid() by default', async () => {
    const result = await runCli(['diagram']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(machineToMermaid());
  });

  it('should print JSON for --format json', async () => {
    const result = await runCli(['diagram', '--format', 'json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(machineToStatelyJSON());
  });

  it('should exit 2 with the choices on an unknown format', async () => {
    const result = await runCli(['diagram', '--format', 'png']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Allowed choices are mermaid, svg, json');
  });

  it('should show help with an example and exit 0', async () => {
    const result = await runCli(['diagram', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: task-runtime diagram [options]');
    expect(result.stdout).toContain('$ task-runtime diagram --format json');
  });
});
