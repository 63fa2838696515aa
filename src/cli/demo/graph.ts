import { createTask, type Task, TaskGraph } from '../../index.js';
import { pick, randomFor } from './random.js';

/** What defines a demo run; stored in the run manifest so a resumed run is the same run. */
export interface DemoSettings {
  /** Number of tasks in the graph. */
  readonly tasks: number;
  /** Seed of every random choice (graph, agent outcomes, durations). */
  readonly seed: number;
  /** Probability that an agent attempt fails, from 0 to 1. */
  readonly failRate: number;
  /** Attempts per task, numbered 0 to maxAttempts - 1. */
  readonly maxAttempts: number;
  /** Agents working at the same time. */
  readonly workers: number;
}

/** The task graph of a run, and the task whose agent never succeeds. */
export interface DemoPlan {
  readonly settings: DemoSettings;
  /** The validated graph; its `taskIds` are the order the demo starts and shows tasks in. */
  readonly graph: TaskGraph;
  /** A task with dependents whose every attempt fails, so a dependent is blocked; null with no failures. */
  readonly doomedTaskId: string | null;
}

const FEATURES = [
  'login',
  'billing',
  'search',
  'profile',
  'checkout',
  'reports',
  'alerts',
  'export',
  'uploads',
  'audit',
  'admin',
  'webhooks',
  'onboarding',
  'settings',
  'invoices',
  'sharing',
] as const;

const STAGES = [
  { prefix: 'spec', role: 'spec_writer', verb: 'Write the spec for' },
  { prefix: 'tests', role: 'test_writer', verb: 'Write the tests for' },
  { prefix: 'impl', role: 'implementer', verb: 'Implement' },
] as const;

function featureName(index: number): string {
  const name = FEATURES[index % FEATURES.length] ?? 'feature';
  const round = Math.floor(index / FEATURES.length);
  return round === 0 ? name : `${name}-${round + 1}`;
}

/**
 * Builds the task graph for `settings`: features of three stages (spec → tests → impl), with seeded links
 * between features (a spec may wait for an earlier feature's implementation). Same settings, same graph.
 */
export function planDemo(settings: DemoSettings): DemoPlan {
  const random = randomFor('graph', settings.seed);
  const tasks: Task[] = [];
  const implIds: string[] = [];
  for (let index = 0; index < settings.tasks; index += 1) {
    const feature = Math.floor(index / STAGES.length);
    const stageIndex = index % STAGES.length;
    const stage = STAGES[stageIndex] ?? STAGES[0];
    const name = featureName(feature);
    const dependencies: string[] = [];
    const previous = STAGES[stageIndex - 1];
    if (previous !== undefined) dependencies.push(`${previous.prefix}-${name}`);
    if (stageIndex !== 1 && implIds.length > 0 && random() < 0.5) {
      dependencies.push(pick(random, implIds));
    }
    const id = `${stage.prefix}-${name}`;
    tasks.push(
      createTask({ id, role: stage.role, description: `${stage.verb} ${name}`, dependencies }),
    );
    if (stage.prefix === 'impl') implIds.push(id);
  }
  const dependedOn = new Set(tasks.flatMap((task) => task.dependencies));
  const candidates = tasks.filter((task, index) => index > 0 && dependedOn.has(task.id));
  const doomed =
    settings.failRate > 0 && candidates.length > 0 ? pick(random, candidates).id : null;
  return { settings, graph: TaskGraph.fromTasks(tasks), doomedTaskId: doomed };
}
