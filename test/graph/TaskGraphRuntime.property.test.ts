/**
 * Property tests of the run rules: random DAGs and random command sequences (unknown ids and malformed arguments
 * included); after every step the graph's invariants hold, ready() is what START would accept, outcome is as defined,
 * and a refused command leaves persist() byte-identical.
 */
import fc from 'fast-check';
import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import { IllegalTransitionError, InvalidArgumentError } from '../../src/errors.js';
import { isFinalFailure } from '../../src/graph/blocking.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import type { PersistedTaskRuntime } from '../../src/runtime/snapshot.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { SEED } from '../support/random.js';

const COMMANDS = [
  'prepareNext',
  'prepareForAttempt',
  'markRunning',
  'markPrCreated',
  'markPrMerged',
  'markFailed',
  'resetForRetry',
  'markPending',
  'assignWorktree',
  'addConcern',
  'recordAgentAddress',
] as const;

interface Step {
  readonly command: (typeof COMMANDS)[number];
  /** Index into the graph's ids; past the end means an id that is not in the graph. */
  readonly task: number;
  readonly text: string;
  readonly retryable: boolean | undefined;
  readonly number: number;
}

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  command: fc.constantFrom(...COMMANDS),
  task: fc.nat({ max: 9 }),
  text: fc.oneof(
    fc.constant(''),
    fc.string({ minLength: 1, maxLength: 6 }),
    fc.constant('x\u0000\ud800<script>'),
  ),
  retryable: fc.constantFrom(true, false, undefined),
  number: fc.integer({ min: -1, max: 4 }),
});

/** A DAG of 1 to 8 tasks: each may depend on any earlier one; given to fromTasks in a shuffled order. */
const dagArbitrary: fc.Arbitrary<TaskInput[]> = fc
  .integer({ min: 1, max: 8 })
  .chain((size) =>
    fc.tuple(
      fc.tuple(
        ...Array.from({ length: size }, (_, index) =>
          fc.subarray(Array.from({ length: index }, (_, j) => j)),
        ),
      ),
      fc.shuffledSubarray(
        Array.from({ length: size }, (_, index) => index),
        { minLength: size, maxLength: size },
      ),
    ),
  )
  .map(([dependencies, order]) =>
    order.map((index) => ({
      id: `t${index}`,
      role: 'generic' as const,
      dependencies: (dependencies[index] ?? []).map((j) => `t${j}`),
    })),
  );

function apply(run: TaskGraphRuntime, id: string, step: Step): void {
  const { text, retryable, number } = step;
  const view = run.graph.has(id) ? run.task(id) : undefined;
  switch (step.command) {
    case 'prepareNext':
      run.prepareForAttempt(id, (view?.state.attemptNum ?? 0) + 1);
      return;
    case 'prepareForAttempt':
      run.prepareForAttempt(id, number);
      return;
    case 'markRunning':
      run.markRunning(id);
      return;
    case 'markPrCreated':
      run.markPrCreated(id, text);
      return;
    case 'markPrMerged':
      run.markPrMerged(id);
      return;
    case 'markFailed':
      run.markFailed(id, text, retryable === undefined ? undefined : { retryable });
      return;
    case 'resetForRetry':
      run.resetForRetry(id);
      return;
    case 'markPending':
      run.markPending(id);
      return;
    case 'assignWorktree':
      run.assignWorktree(id, { worktreePath: text, branchName: 'b' });
      return;
    case 'addConcern':
      run.addConcern(id, text);
      return;
    case 'recordAgentAddress':
      run.recordAgentAddress(id, new TmuxAddress('s', '%1'));
      return;
  }
}

const standing = (run: TaskGraphRuntime, id: string) => {
  const snapshot = run
    .persist()
    .tasks.find((task) => task.context.task.id === id) as PersistedTaskRuntime;
  return snapshot;
};

function checkInvariants(run: TaskGraphRuntime): void {
  const { graph } = run;
  const finals = new Set(graph.taskIds.filter((id) => isFinalFailure(standing(run, id))));
  for (const id of graph.taskIds) {
    const { status } = run.task(id);
    const dependencies = graph.dependenciesOf(id);
    // (1) past pending only after every dependency merged
    if (status === 'running' || status === 'pr_created' || status === 'pr_merged') {
      for (const dependency of dependencies) expect(run.task(dependency).status).toBe('pr_merged');
    }
    // (2) never pending behind a final failure
    if (status === 'pending')
      for (const dependency of dependencies) expect(finals.has(dependency)).toBe(false);
  }
  // (3) ready() is exactly the tasks whose START a copy of the run accepts
  const saved = run.persist();
  const accepted = graph.taskIds.filter((id) => {
    const copy = TaskGraphRuntime.restore(saved);
    try {
      copy.markRunning(id);
      return true;
    } catch (error) {
      expect(error).toBeInstanceOf(IllegalTransitionError);
      return false;
    }
  });
  expect(run.ready()).toEqual(accepted);
  // (4) outcome as defined
  const open = graph.taskIds.some((id) => run.task(id).status !== 'pr_merged' && !finals.has(id));
  expect(run.outcome).toBe(
    open ? 'in_progress' : finals.size === 0 ? 'succeeded' : 'completed_with_failures',
  );
}

describe('TaskGraphRuntime (properties)', () => {
  it('should keep the run rules after every step of random commands on random DAGs', () => {
    fc.assert(
      fc.property(
        dagArbitrary,
        fc.constantFrom(1, 2, 3, undefined),
        fc.array(stepArbitrary, { minLength: 1, maxLength: 40 }),
        (tasks, maxAttempts, steps) => {
          const graph = TaskGraph.fromTasks(tasks);
          const run = new TaskGraphRuntime(graph, maxAttempts === undefined ? {} : { maxAttempts });
          checkInvariants(run);
          for (const step of steps) {
            const id = graph.taskIds[step.task] ?? `unknown-${step.task}`;
            const before = JSON.stringify(run.persist());
            try {
              apply(run, id, step);
            } catch (error) {
              // (5) a refused command changes nothing in any task
              expect(
                [IllegalTransitionError, InvalidArgumentError].some(
                  (type) => error instanceof type,
                ),
              ).toBe(true);
              expect(JSON.stringify(run.persist())).toBe(before);
            }
            checkInvariants(run);
          }
          const round = TaskGraphRuntime.restore(JSON.parse(JSON.stringify(run.persist())));
          expect(JSON.stringify(round.persist())).toBe(JSON.stringify(run.persist()));
        },
      ),
      { numRuns: 200, seed: SEED },
    );
  });

  it('should drive every random DAG to an outcome by following ready() with random failures', () => {
    fc.assert(
      fc.property(
        dagArbitrary,
        fc.integer({ min: 1, max: 3 }),
        fc.infiniteStream(fc.nat({ max: 3 })),
        (tasks, maxAttempts, dice) => {
          const run = new TaskGraphRuntime(TaskGraph.fromTasks(tasks), { maxAttempts });
          const rolls = dice[Symbol.iterator]();
          for (let guard = 0; run.outcome === 'in_progress'; guard += 1) {
            expect(guard).toBeLessThan(200);
            const failed = run.graph.taskIds.filter((id) => run.task(id).can({ type: 'RETRY' }));
            for (const id of failed) {
              run.resetForRetry(id);
              if (run.task(id).status === 'pending')
                run.prepareForAttempt(id, run.task(id).state.attemptNum + 1);
            }
            const [next] = run.ready();
            if (next === undefined) continue;
            run.markRunning(next);
            if (rolls.next().value === 0) run.markFailed(next, 'failed');
            else {
              run.markPrCreated(next, 'https://github.com/acme/app/pull/1');
              run.markPrMerged(next);
            }
          }
          checkInvariants(run);
        },
      ),
      { numRuns: 200, seed: SEED },
    );
  });
});
