import type { GraphWorkerOptions } from '../../index.js';
import { TmuxAddress } from '../../index.js';
import { agentOutcome } from './agent.js';
import type { SimulatedClock } from './clock.js';
import type { DemoPlan } from './graph.js';

/** The PR a simulated agent opens for attempt `attemptNum` of the task at `index` in the graph's order. */
function prUrlOf(index: number, attemptNum: number): string {
  return `https://github.com/acme/app/pull/${100 + index * 20 + attemptNum}`;
}

/**
 * The demo's agents as a {@link GraphWorker}'s handlers: what an orchestrator of real agents writes, with the agent
 * simulated. `work` puts the agent in a worktree and a tmux pane, lets it work, and returns its PR (or throws its
 * failure); `merge` waits for the review and the merge (or throws the review's failure). Times pass on `clock`.
 * The agents' panes are in the tmux session `session` (one per worker process of a shared run).
 */
export function simulatedAgents(
  plan: DemoPlan,
  clock: SimulatedClock,
  session = 'demo',
): Pick<GraphWorkerOptions, 'work' | 'merge'> {
  const panes = new Map<string, number>();
  const freePane = (): number => {
    const used = new Set(panes.values());
    let pane = 0;
    while (used.has(pane)) pane += 1;
    return pane;
  };
  return {
    async work(task, attempt) {
      const { taskId, attemptNum } = attempt;
      const pane = freePane();
      panes.set(taskId, pane);
      try {
        await attempt.assignWorktree({
          worktreePath: `/work/worktrees/${taskId}-${attemptNum}`,
          branchName: `task/${taskId}/attempt-${attemptNum}`,
        });
        await attempt.recordAgentAddress(new TmuxAddress(session, `%${pane}`));
        const outcome = agentOutcome(plan, taskId, attemptNum);
        await clock.sleep(taskId, outcome.workMinutes * 60_000);
        if (outcome.failure?.step === 'work') throw new Error(outcome.failure.error);
        return { prUrl: prUrlOf(plan.graph.indexOf(task.task.id), attemptNum) };
      } catch (error) {
        panes.delete(taskId);
        throw error;
      }
    },
    async merge(_task, attempt) {
      const { taskId, attemptNum } = attempt;
      try {
        const outcome = agentOutcome(plan, taskId, attemptNum);
        await clock.sleep(taskId, outcome.reviewMinutes * 60_000);
        if (outcome.failure?.step === 'review') throw new Error(outcome.failure.error);
      } finally {
        panes.delete(taskId);
      }
    },
  };
}
