import { InvalidArgumentError } from '../errors.js';
import {
  describeValue,
  isAttemptNumber,
  isNonEmptyString,
  isPositiveInteger,
  isRecord,
} from '../validation.js';
import { AgentFramework, AgentRole, AgentVerbosity } from './enums.js';

/** Which agent runs a task and how. */
export interface AgentConfig {
  readonly framework: AgentFramework;
  readonly model: string | null;
  readonly adrVerbosity: AgentVerbosity;
  readonly environment: { readonly session: string };
}

/** The immutable specification of a task; built by {@link createTask}, deep-frozen. */
export interface Task {
  readonly id: string;
  readonly role: AgentRole;
  readonly description: string | null;
  readonly paths: {
    readonly src: readonly string[];
    readonly test: readonly string[];
    readonly spec: string | null;
  };
  readonly dependencies: readonly string[];
  readonly completionGate: string | null;
  readonly maxGateAttempts: number | null;
  readonly primaryAgent: AgentConfig;
  readonly review: { readonly agent: AgentConfig; readonly reviewOnAttempt: number } | null;
  readonly workstreamId: string;
}

/** What {@link createTask} accepts: `id` and `role`, everything else optional with a default. */
export interface AgentConfigInput {
  /** @default 'claude_code' */
  readonly framework?: AgentFramework;
  /** @default null */
  readonly model?: string | null;
  /** @default 'none' */
  readonly adrVerbosity?: AgentVerbosity;
  /** @default { session: 'agentrelay' } */
  readonly environment?: { readonly session: string };
}

/** Input of {@link createTask}; unknown keys are refused so that a typo cannot pass silently. */
export interface TaskInput {
  readonly id: string;
  readonly role: AgentRole;
  /** @default null */
  readonly description?: string | null;
  /** @default { src: [], test: [], spec: null } */
  readonly paths?: {
    readonly src?: readonly string[];
    readonly test?: readonly string[];
    readonly spec?: string | null;
  };
  /** Ids of tasks that must merge first; no duplicates, not the task's own id. @default [] */
  readonly dependencies?: readonly string[];
  /** @default null */
  readonly completionGate?: string | null;
  /** A positive integer when set. @default null */
  readonly maxGateAttempts?: number | null;
  /** @default { framework: 'claude_code', model: null, adrVerbosity: 'none', environment: { session: 'agentrelay' } } */
  readonly primaryAgent?: AgentConfigInput;
  /** @default null */
  readonly review?: { readonly agent?: AgentConfigInput; readonly reviewOnAttempt?: number } | null;
  /** @default 'default' */
  readonly workstreamId?: string;
}

const createdTasks = new WeakSet<object>();

/**
 * Builds a deep-frozen {@link Task} with defaults filled in; invalid input throws {@link InvalidArgumentError}.
 * @example
 * const task = createTask({ id: 'implement-login', role: AgentRole.IMPLEMENTER, dependencies: ['spec-login'] });
 */
export function createTask(input: TaskInput): Task {
  if (createdTasks.has(input)) return input as Task;
  const task = readTask(input, 'task');
  createdTasks.add(task);
  return task;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new InvalidArgumentError(path, expected, describeValue(value));
}

function readObject(
  value: unknown,
  path: string,
  keys: readonly string[],
): Record<string, unknown> {
  if (!isRecord(value)) fail(path, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!keys.includes(key))
      fail(`${path}.${key}`, `no such key (known: ${keys.join(', ')})`, value[key]);
  }
  return value;
}

function readString(value: unknown, path: string): string {
  return isNonEmptyString(value) ? value : fail(path, 'a non-empty string', value);
}

function readOptionalString(value: unknown, path: string): string | null {
  return value === undefined || value === null ? null : readString(value, path);
}

function readStringList(value: unknown, path: string): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) fail(path, 'an array of non-empty strings', value);
  return Object.freeze(value.map((item, index) => readString(item, `${path}[${index}]`)));
}

function readChoice<T extends string>(
  value: unknown,
  path: string,
  choices: Record<string, T>,
  fallback?: T,
): T {
  if (value === undefined && fallback !== undefined) return fallback;
  const allowed = Object.values(choices);
  return allowed.includes(value as T)
    ? (value as T)
    : fail(path, `one of ${allowed.map((c) => `'${c}'`).join(', ')}`, value);
}

function readAgentConfig(value: unknown, path: string): AgentConfig {
  const input = readObject(value ?? {}, path, [
    'framework',
    'model',
    'adrVerbosity',
    'environment',
  ]);
  const environment = readObject(
    input.environment ?? { session: 'agentrelay' },
    `${path}.environment`,
    ['session'],
  );
  return Object.freeze({
    framework: readChoice(input.framework, `${path}.framework`, AgentFramework, 'claude_code'),
    model: readOptionalString(input.model, `${path}.model`),
    adrVerbosity: readChoice(input.adrVerbosity, `${path}.adrVerbosity`, AgentVerbosity, 'none'),
    environment: Object.freeze({
      session: readString(environment.session, `${path}.environment.session`),
    }),
  });
}

const TASK_KEYS = [
  'id',
  'role',
  'description',
  'paths',
  'dependencies',
  'completionGate',
  'maxGateAttempts',
  'primaryAgent',
  'review',
  'workstreamId',
] as const;

function readTask(value: unknown, path: string): Task {
  const input = readObject(value, path, TASK_KEYS);
  const id = readString(input.id, `${path}.id`);
  const paths = readObject(input.paths ?? {}, `${path}.paths`, ['src', 'test', 'spec']);
  const dependencies = readStringList(input.dependencies, `${path}.dependencies`);
  dependencies.forEach((dependency, index) => {
    const where = `${path}.dependencies[${index}]`;
    if (dependency === id)
      fail(where, 'the id of another task (a task cannot depend on itself)', dependency);
    if (dependencies.indexOf(dependency) !== index)
      fail(where, 'no duplicate dependencies', dependency);
  });
  const maxGateAttempts = input.maxGateAttempts ?? null;
  if (maxGateAttempts !== null && !isPositiveInteger(maxGateAttempts)) {
    fail(`${path}.maxGateAttempts`, 'a positive integer or null', maxGateAttempts);
  }
  return Object.freeze({
    id,
    role: readChoice(input.role, `${path}.role`, AgentRole),
    description: readOptionalString(input.description, `${path}.description`),
    paths: Object.freeze({
      src: readStringList(paths.src, `${path}.paths.src`),
      test: readStringList(paths.test, `${path}.paths.test`),
      spec: readOptionalString(paths.spec, `${path}.paths.spec`),
    }),
    dependencies,
    completionGate: readOptionalString(input.completionGate, `${path}.completionGate`),
    maxGateAttempts,
    primaryAgent: readAgentConfig(input.primaryAgent, `${path}.primaryAgent`),
    review: readReview(input.review, `${path}.review`),
    workstreamId:
      input.workstreamId === undefined
        ? 'default'
        : readString(input.workstreamId, `${path}.workstreamId`),
  });
}

function readReview(value: unknown, path: string): Task['review'] {
  if (value === undefined || value === null) return null;
  const input = readObject(value, path, ['agent', 'reviewOnAttempt']);
  const reviewOnAttempt = input.reviewOnAttempt ?? 1;
  if (!isAttemptNumber(reviewOnAttempt)) {
    fail(`${path}.reviewOnAttempt`, 'a non-negative integer', reviewOnAttempt);
  }
  return Object.freeze({ agent: readAgentConfig(input.agent, `${path}.agent`), reviewOnAttempt });
}
