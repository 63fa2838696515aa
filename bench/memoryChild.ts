/*
 * Child process of the benchmark: creates N live runtimes (or raw actors) of one task and prints the heap they
 * hold, per item, as one JSON line. Usage: node --expose-gc memoryChild.js <facade|raw> <count>
 */
import { createActor } from 'xstate';
import { taskMachine } from '../src/machines/taskMachine.js';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { typicalTask } from './fixtures.js';

/** What the child prints: heap bytes per live item. */
export interface MemoryReport {
  readonly kind: 'facade' | 'raw';
  readonly count: number;
  readonly bytesPerItem: number;
}

function collect(): number {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const [kindArg, countArg] = process.argv.slice(2);
const count = Number(countArg);
if ((kindArg !== 'facade' && kindArg !== 'raw') || !Number.isSafeInteger(count) || count <= 0) {
  process.stderr.write('usage: memoryChild.js <facade|raw> <count>\n');
  process.exit(2);
}
const kind = kindArg;
const task = typicalTask();
// Warm up both paths so that compiled code and shared machine structures are not counted.
new TaskRuntime(task).status;
createActor(taskMachine, { input: { task } }).start();

const live: unknown[] = new Array(count);
const before = collect();
for (let i = 0; i < count; i += 1) {
  live[i] =
    kind === 'facade'
      ? new TaskRuntime(task)
      : createActor(taskMachine, { input: { task } }).start();
}
const after = collect();
const report: MemoryReport = { kind, count: live.length, bytesPerItem: (after - before) / count };
process.stdout.write(`${JSON.stringify(report)}\n`);
