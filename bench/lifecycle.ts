/*
 * Group `lifecycle`: a whole lifecycle pending → pr_merged through the facade, through a raw actor, and through
 * the hand-written reducer of bench/reducer.ts (what a machine costs over no machine at all).
 */
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import {
  LIFECYCLE_EVENTS,
  rawActor,
  runLifecycle,
  runRawLifecycle,
  typicalTask,
} from './fixtures.js';
import { log, measureGroup, prepared } from './harness.js';
import { initialState, type ReducerState, reduce } from './reducer.js';
import { type BenchGroup, timeRow } from './rows.js';

const LIFECYCLES = 16;

export const lifecycleGroup: BenchGroup = {
  name: 'lifecycle',
  measure(settings) {
    log('lifecycles');
    const task = typicalTask();
    const timings = measureGroup(
      [
        prepared(
          'TaskRuntime lifecycle (5 commands)',
          LIFECYCLES,
          () => Array.from({ length: LIFECYCLES }, () => new TaskRuntime(task)),
          (runtimes) => {
            for (const runtime of runtimes) runLifecycle(runtime);
          },
        ),
        prepared(
          'raw actor lifecycle (5 events)',
          LIFECYCLES,
          () => Array.from({ length: LIFECYCLES }, () => rawActor(task)),
          (actors) => {
            for (const actor of actors) runRawLifecycle(actor);
          },
        ),
        prepared(
          'hand-written reducer lifecycle (5 events)',
          LIFECYCLES,
          () => Array.from({ length: LIFECYCLES }, () => initialState({ task })),
          (states) => {
            for (const initial of states) {
              let state: ReducerState | null = initial;
              for (const event of LIFECYCLE_EVENTS)
                state = state === null ? null : reduce(state, event);
              if (state?.status !== 'pr_merged') throw new Error('the reducer did not merge');
            }
          },
        ),
      ],
      settings,
    );
    return [
      timeRow(
        'accepted command: lifecycle pending → pr_merged',
        timings,
        'TaskRuntime lifecycle (5 commands)',
        'raw actor lifecycle (5 events)',
        1.2,
      ),
      timeRow(
        'reference: facade vs hand-written reducer',
        timings,
        'TaskRuntime lifecycle (5 commands)',
        'hand-written reducer lifecycle (5 events)',
        null,
      ),
      timeRow(
        'reference: raw machine vs hand-written reducer',
        timings,
        'raw actor lifecycle (5 events)',
        'hand-written reducer lifecycle (5 events)',
        null,
      ),
    ];
  },
};
