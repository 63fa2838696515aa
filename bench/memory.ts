/*
 * Group `memory`: the heap a live facade holds against a live raw actor, each measured in child processes of
 * their own (bench/memoryChild.ts), so that neither side's garbage is counted in the other's.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { alternate, log, median, type Settings } from './harness.js';
import type { MemoryReport } from './memoryChild.js';
import { type BenchGroup, comparedRow, ratioOf } from './rows.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./memoryChild.js', import.meta.url));

/** Heap bytes per live item of `kind`, from one child process. */
async function memoryOf(kind: MemoryReport['kind'], settings: Settings): Promise<number> {
  const { stdout } = await run(process.execPath, [
    '--expose-gc',
    child,
    kind,
    String(settings.memoryCount),
  ]);
  return (JSON.parse(stdout) as MemoryReport).bytesPerItem;
}

export const memoryGroup: BenchGroup = {
  name: 'memory',
  async measure(settings) {
    const count = settings.memoryCount.toLocaleString('en-US');
    log(`memory (${count} live runtimes per child process)`);
    const facade: number[] = [];
    const raw: number[] = [];
    await alternate(settings.memoryRounds, [
      async () => {
        facade.push(await memoryOf('facade', settings));
      },
      async () => {
        raw.push(await memoryOf('raw', settings));
      },
    ]);
    return [
      comparedRow(
        `memory: heap per live runtime (${count})`,
        { what: 'new TaskRuntime(task)', value: median(facade), unit: 'bytes/runtime' },
        {
          what: 'raw createActor(taskMachine, { input }).start()',
          value: median(raw),
          unit: 'bytes/runtime',
        },
        ratioOf(facade, raw),
        1.3,
      ),
    ];
  },
};
