/*
 * Group `command`: an accepted command, a refused one and a state read on the facade, against the same event sent
 * to a raw actor.
 */
import { IllegalTransitionError } from '../src/errors.js';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { rawActor, typicalRuntime, typicalTask } from './fixtures.js';
import { keep, log, measureGroup, prepared, timed } from './harness.js';
import { type BenchGroup, timeRow } from './rows.js';

const CONCERN = 'the retry hid a flaky test';
const POOL = 64;
const POOL_REUSE = 16;
let sink = 0;

/** A pool of `size` fresh items, replaced after `reuse` iterations (so that concerns grow by at most `reuse`). */
function pool<T>(create: () => T, size = POOL, reuse = POOL_REUSE): () => readonly T[] {
  let items: readonly T[] = [];
  let uses = reuse;
  return () => {
    if (uses >= reuse) {
      items = Array.from({ length: size }, create);
      uses = 0;
    }
    uses += 1;
    return items;
  };
}

export const commandGroup: BenchGroup = {
  name: 'command',
  measure(settings) {
    log('commands, refusals and state reads');
    const task = typicalTask();
    const refusing = new TaskRuntime(task);
    const reader = typicalRuntime();
    const timings = measureGroup(
      [
        prepared(
          'TaskRuntime.addConcern',
          POOL,
          pool(() => new TaskRuntime(task)),
          (runtimes) => {
            for (const runtime of runtimes) runtime.addConcern(CONCERN);
          },
        ),
        prepared(
          'raw actor.send(ADD_CONCERN)',
          POOL,
          pool(() => rawActor(task)),
          (actors) => {
            for (const actor of actors) actor.send({ type: 'ADD_CONCERN', concern: CONCERN });
          },
        ),
        timed('TaskRuntime.markPrMerged() in pending, caught', POOL, () => {
          for (let i = 0; i < POOL; i += 1) {
            try {
              refusing.markPrMerged();
            } catch (error) {
              if (!(error instanceof IllegalTransitionError)) throw error;
              sink += 1;
            }
          }
        }),
        timed('TaskRuntime.state + .status', 1_000, () => {
          for (let i = 0; i < 1_000; i += 1) {
            sink += reader.state.attemptNum;
            if (reader.status === 'failed') sink += 1;
          }
        }),
      ],
      settings,
    );
    keep(sink);
    return [
      timeRow(
        'accepted command: addConcern',
        timings,
        'TaskRuntime.addConcern',
        'raw actor.send(ADD_CONCERN)',
        1.2,
      ),
      timeRow(
        'refused command (IllegalTransitionError)',
        timings,
        'TaskRuntime.markPrMerged() in pending, caught',
        'TaskRuntime.addConcern',
        3,
      ),
      timeRow(
        'state read: state + status',
        timings,
        'TaskRuntime.state + .status',
        'TaskRuntime.addConcern',
        0.1,
      ),
    ];
  },
};
