/* Group `persist`: persist() and restore() through JSON, against the raw actor's persisted snapshot. */
import { createActor } from 'xstate';
import { taskMachine } from '../src/machines/taskMachine.js';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { typicalActor, typicalRuntime, typicalTask } from './fixtures.js';
import { keep, log, measureGroup, timed } from './harness.js';
import { type BenchGroup, timeRow } from './rows.js';

export const persistGroup: BenchGroup = {
  name: 'persist',
  measure(settings) {
    log('persist and restore');
    const task = typicalTask();
    const runtime = typicalRuntime();
    const actor = typicalActor();
    let restored: unknown;
    const timings = measureGroup(
      [
        timed('persist() + JSON round trip + TaskRuntime.restore()', 16, () => {
          for (let i = 0; i < 16; i += 1) {
            restored = TaskRuntime.restore(JSON.parse(JSON.stringify(runtime.persist())));
          }
        }),
        timed('raw getPersistedSnapshot() + createActor({ snapshot }).start()', 16, () => {
          for (let i = 0; i < 16; i += 1) {
            restored = createActor(taskMachine, {
              input: { task },
              snapshot: actor.getPersistedSnapshot(),
            }).start();
          }
        }),
        timed(
          'raw getPersistedSnapshot() + JSON round trip + createActor({ snapshot }).start()',
          16,
          () => {
            for (let i = 0; i < 16; i += 1) {
              restored = createActor(taskMachine, {
                input: { task },
                snapshot: JSON.parse(JSON.stringify(actor.getPersistedSnapshot())),
              }).start();
            }
          },
        ),
      ],
      settings,
    );
    keep(restored === undefined ? 0 : 1);
    return [
      timeRow(
        'persist/restore',
        timings,
        'persist() + JSON round trip + TaskRuntime.restore()',
        'raw getPersistedSnapshot() + createActor({ snapshot }).start()',
        1.5,
      ),
      timeRow(
        'persist/restore, both with a JSON round trip',
        timings,
        'persist() + JSON round trip + TaskRuntime.restore()',
        'raw getPersistedSnapshot() + JSON round trip + createActor({ snapshot }).start()',
        null,
      ),
    ];
  },
};
