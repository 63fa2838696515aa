import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const FIXTURE = resolve(__dirname, '..', 'fixtures', 'statelyInspector.mjs');

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? done(address.port) : fail(),
      );
    });
  });
}

describe('the Stately inspector, from Node (as the README shows)', () => {
  it('should show the task machine, its accepted events and its snapshots, and no refused event', async () => {
    const port = await freePort();
    const output = execFileSync(process.execPath, [FIXTURE, String(port)], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    const seen = JSON.parse(output) as {
      events: string[];
      snapshots: string[];
      machineIds: (string | null)[];
      definitionNamesEveryGuard: boolean;
    };
    expect(seen.machineIds).toEqual(['task']);
    expect(seen.definitionNamesEveryGuard).toBe(true);
    expect(seen.events.filter((type) => !type.startsWith('xstate.'))).toEqual([
      'START',
      'PR_CREATED',
    ]);
    expect(seen.snapshots).toEqual(['pending', 'running', 'pr_created']);
  });
});
