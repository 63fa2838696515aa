import type { DemoPlan } from './graph.js';
import { intBetween, pick, randomFor } from './random.js';

/** What the simulated agent does in one attempt; a pure function of seed, task and attempt. */
export interface AgentOutcome {
  /** Simulated minutes from start to the PR (or to the failure while working). */
  readonly workMinutes: number;
  /** Simulated minutes from the PR to its merge (or to the failure in review). */
  readonly reviewMinutes: number;
  /** Why the attempt fails, and at which step; null when the PR merges. */
  readonly failure: { readonly step: 'work' | 'review'; readonly error: string } | null;
}

const WORK_FAILURES = [
  (n: number) => `tests failed: ${n} of 41`,
  (n: number) => `lint failed: ${n} problems`,
  (n: number) => `type errors in ${n} files`,
  () => 'agent timed out after 45 min',
  () => 'agent crashed: out of memory',
] as const;

const REVIEW_FAILURES = [
  (n: number) => `CI failed on the PR: ${n} tests`,
  () => 'review requested changes',
  () => 'merge conflict with main',
] as const;

/** The outcome of attempt `attemptNum` of `taskId`: the same every time, whatever happened before. */
export function agentOutcome(plan: DemoPlan, taskId: string, attemptNum: number): AgentOutcome {
  const random = randomFor('agent', plan.settings.seed, taskId, attemptNum);
  const workMinutes = intBetween(random, 8, 55);
  const reviewMinutes = intBetween(random, 3, 30);
  const fails = random() < plan.settings.failRate || taskId === plan.doomedTaskId;
  const inReview = random() < 0.3 && taskId !== plan.doomedTaskId;
  const detail = intBetween(random, 2, 9);
  if (!fails) return { workMinutes, reviewMinutes, failure: null };
  const messages = inReview ? REVIEW_FAILURES : WORK_FAILURES;
  return {
    workMinutes,
    reviewMinutes,
    failure: { step: inReview ? 'review' : 'work', error: pick(random, messages)(detail) },
  };
}
