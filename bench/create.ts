/* Group `create`: a new facade against a new raw actor, started. */
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { rawActor, typicalTask } from './fixtures.js';
import { keep, log, measureGroup, timed } from './harness.js';
import { type BenchGroup, timeRow } from './rows.js';

export const createGroup: BenchGroup = {
  name: 'create',
  measure(settings) {
    log('creation');
    const task = typicalTask();
    const created: unknown[] = [];
    const timings = measureGroup(
      [
        timed('new TaskRuntime(task)', 32, () => {
          for (let i = 0; i < 32; i += 1) created[i] = new TaskRuntime(task);
        }),
        timed('raw createActor(taskMachine, { input }).start()', 32, () => {
          for (let i = 0; i < 32; i += 1) created[i] = rawActor(task);
        }),
      ],
      settings,
    );
    keep(created.length);
    return [
      timeRow(
        'create',
        timings,
        'new TaskRuntime(task)',
        'raw createActor(taskMachine, { input }).start()',
        1.3,
      ),
    ];
  },
};
