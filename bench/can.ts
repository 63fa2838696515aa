/* Group `can`: the facade's legality check against the raw snapshot's. */
import type { TaskEvent } from '../src/machines/taskMachine.js';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { rawActor, typicalTask } from './fixtures.js';
import { keep, log, measureGroup, timed } from './harness.js';
import { type BenchGroup, timeRow } from './rows.js';

const START: TaskEvent = { type: 'START' };
let sink = 0;

export const canGroup: BenchGroup = {
  name: 'can',
  measure(settings) {
    log('legality checks');
    const task = typicalTask();
    const runtime = new TaskRuntime(task);
    const actor = rawActor(task);
    const timings = measureGroup(
      [
        timed('TaskRuntime.can(START)', 256, () => {
          for (let i = 0; i < 256; i += 1) if (runtime.can(START)) sink += 1;
        }),
        timed('raw snapshot.can(START)', 256, () => {
          for (let i = 0; i < 256; i += 1) if (actor.getSnapshot().can(START)) sink += 1;
        }),
      ],
      settings,
    );
    keep(sink);
    return [
      timeRow(
        'legality check: can(event)',
        timings,
        'TaskRuntime.can(START)',
        'raw snapshot.can(START)',
        1.2,
      ),
    ];
  },
};
