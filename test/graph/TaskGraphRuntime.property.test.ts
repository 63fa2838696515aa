/**
 * Property tests of the run rules: random DAGs and random command sequences (unknown ids, malformed arguments, lost
 * attempts and reopens included); after every step the graph's invariants hold, ready() is what START would accept,
 * outcome is as defined, a block names a dependency that failed finally, an accepted reopen returns what it
 * blocked, and a refused command leaves persist() byte-identical.
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
  'failFinally',
  'markLost',
  'resetForRetry',
  'reopen',
  'reopenFinal',
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
  // failures and reopens of final failures more often, so that reopens are accepted often enough
  command: fc.oneof(
    { arbitrary: fc.constantFrom(...COMMANDS), weight: 4 },
    { arbitrary: fc.constantFrom('failFinally' as const, 'reopenFinal' as const), weight: 1 },
  ),
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

/**
 * The task a `reopenFinal` step reopens: one of the finally failed tasks that are not blocked (chosen by the step's
 * task index), the reopen most likely to be accepted; the step's own task when there is none.
 */
function reopenTarget(run: TaskGraphRuntime, id: string, step: Step): string {
  const candidates = run.graph.taskIds.filter((candidate) => {
    const view = run.task(candidate);
    return view.blockedBy === null && view.can({ type: 'REOPEN', reason: 'r', attempts: 1 });
  });
  return candidates[step.task % Math.max(candidates.length, 1)] ?? id;
}

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
    case 'failFinally':
      run.markFailed(id, 'broken for good', { retryable: false });
      return;
    case 'markLost':
      run.markFailed(id, text, {
        workerLost: true,
        ...(retryable === undefined ? {} : { retryable }),
      });
      return;
    case 'resetForRetry':
      run.resetForRetry(id);
      return;
    case 'reopen':
      // number -1 and 0 are malformed; 4 stands for the default
      run.reopen(id, text, number === 4 ? undefined : { attempts: number });
      return;
    case 'reopenFinal':
      run.reopen(reopenTarget(run, id, step), text || 'fixed', { attempts: Math.max(number, 1) });
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
  for (const id of graph.taskIds) {
    const { blockedBy, attempts } = run.task(id);
    // (6) a block names a dependency that failed finally (a reopen returns what it blocked)
    if (blockedBy !== null) {
      expect(graph.dependenciesOf(id)).toContain(blockedBy);
      expect(finals.has(blockedBy)).toBe(true);
    }
    // (7) attempt numbers are never used twice
    const numbers = attempts.map((record) => record.attemptNum);
    expect(numbers).toEqual([...new Set(numbers)].sort((a, b) => a - b));
  }
}

/** The tasks blocked by `root`, transitively (their blockedBy chain leads to it). */
function blockedChain(run: TaskGraphRuntime, root: string): string[] {
  return run.graph.taskIds.filter((id) => {
    for (let next = run.task(id).blockedBy; next !== null; next = run.task(next).blockedBy) {
      if (next === root) return true;
    }
    return false;
  });
}

/** (8) After an accepted reopen of `root`: it and every task it blocked are pending with an unused attempt, or blocked again. */
function checkReopened(run: TaskGraphRuntime, root: string, chain: readonly string[]): void {
  for (const id of [root, ...chain]) {
    const view = run.task(id);
    const attemptUsed = view.attempts.some((record) => record.attemptNum === view.state.attemptNum);
    const returned = view.status === 'pending' && !attemptUsed;
    // the reopened task too, when a dependency of its own has failed finally since its failure
    const blockedAgain = view.status === 'failed' && view.blockedBy !== null;
    expect({ id, returned, blockedAgain }).toEqual({
      id,
      returned: !blockedAgain,
      blockedAgain: !returned,
    });
    if (returned) expect(view.can({ type: 'START' })).toBe(run.ready().includes(id));
  }
}

describe('TaskGraphRuntime (properties)', () => {
  it('should keep the run rules after every step of random commands on random DAGs', () => {
    let reopens = 0;
    fc.assert(
      fc.property(
        dagArbitrary,
        fc.constantFrom(1, 2, 3, undefined),
        fc.constantFrom(0, 1, undefined),
        fc.array(stepArbitrary, { minLength: 1, maxLength: 40 }),
        (tasks, maxAttempts, maxLostAttempts, steps) => {
          const graph = TaskGraph.fromTasks(tasks);
          const run = new TaskGraphRuntime(graph, {
            ...(maxAttempts === undefined ? {} : { maxAttempts }),
            ...(maxLostAttempts === undefined ? {} : { maxLostAttempts }),
          });
          checkInvariants(run);
          for (const step of steps) {
            const id = graph.taskIds[step.task] ?? `unknown-${step.task}`;
            const before = JSON.stringify(run.persist());
            const root = step.command === 'reopenFinal' ? reopenTarget(run, id, step) : id;
            const chain = graph.has(root) ? blockedChain(run, root) : [];
            try {
              apply(run, id, step);
              if (step.command === 'reopen' || step.command === 'reopenFinal') {
                checkReopened(run, root, chain);
                reopens += 1;
              }
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
    // the generators are not stuck: some reopens were accepted
    expect(reopens).toBeGreaterThan(10);
  });

  it('should drive every random DAG to an outcome by following ready() with random failures, lost workers and reopens', () => {
    fc.assert(
      fc.property(
        dagArbitrary,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 2 }),
        fc.nat({ max: 3 }),
        fc.infiniteStream(fc.nat({ max: 4 })),
        (tasks, maxAttempts, maxLostAttempts, reopens, dice) => {
          const run = new TaskGraphRuntime(TaskGraph.fromTasks(tasks), {
            maxAttempts,
            maxLostAttempts,
          });
          const rolls = dice[Symbol.iterator]();
          let reopensLeft = reopens;
          for (let guard = 0; run.outcome !== 'succeeded'; guard += 1) {
            expect(guard).toBeLessThan(400);
            if (run.outcome === 'completed_with_failures') {
              // an operator's second chance for the first task that failed for good on its own
              const root = run.graph.taskIds.find(
                (id) =>
                  run.task(id).blockedBy === null &&
                  run.task(id).can({ type: 'REOPEN', reason: 'r', attempts: 1 }),
              );
              if (reopensLeft === 0) break;
              // every block leads back to a task that failed for good on its own: it can be reopened
              expect(root).toBeDefined();
              if (root === undefined) break;
              reopensLeft -= 1;
              run.reopen(root, 'fixed by hand');
              checkInvariants(run);
            }
            const failed = run.graph.taskIds.filter((id) => run.task(id).can({ type: 'RETRY' }));
            for (const id of failed) {
              run.resetForRetry(id);
              if (run.task(id).status === 'pending') {
                const used = run.task(id).attempts.map((record) => record.attemptNum);
                run.prepareForAttempt(id, Math.max(run.task(id).state.attemptNum, ...used) + 1);
              }
            }
            const [next] = run.ready();
            if (next === undefined) continue;
            run.markRunning(next);
            const roll = rolls.next().value;
            if (roll === 0) run.markFailed(next, 'failed');
            else if (roll === 1) run.markFailed(next, 'worker lost', { workerLost: true });
            else {
              run.markPrCreated(next, 'https://github.com/acme/app/pull/1');
              run.markPrMerged(next);
            }
          }
          checkInvariants(run);
          expect(run.outcome).not.toBe('in_progress');
          expect(run.outcome === 'succeeded' || reopensLeft === 0).toBe(true);
        },
      ),
      { numRuns: 200, seed: SEED },
    );
  });
});
