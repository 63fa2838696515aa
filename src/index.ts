export {
  AgentAddress,
  type AgentAddressJSON,
  TmuxAddress,
  type TmuxAddressJSON,
} from './agent/AgentAddress.js';
export { machineToMermaid } from './diagram/mermaid.js';
export { type JsonValue, machineToStatelyJSON } from './diagram/statelyJson.js';
export {
  ConflictError,
  type IllegalTransitionDetails,
  IllegalTransitionError,
  InvalidArgumentError,
  LeaseLostError,
  SnapshotError,
  TaskRuntimeError,
  TaskStoreError,
} from './errors.js';
export { blockedError } from './graph/blocking.js';
export {
  DurableTaskGraphRuntime,
  type InFlightStatus,
  type SharedRunEvent,
  type SharedRunListener,
} from './graph/DurableTaskGraphRuntime.js';
export type { DurableTaskGraphRuntimeOptions } from './graph/sharedRunOptions.js';
export { TaskGraph } from './graph/TaskGraph.js';
export {
  GRAPH_SNAPSHOT_SCHEMA_VERSION,
  type PersistedTaskGraphRuntime,
  type RunOutcome,
  TaskGraphRuntime,
  type TaskGraphRuntimeOptions,
  type TaskGraphTaskView,
} from './graph/TaskGraphRuntime.js';
export { TaskStatus } from './machines/status.js';
export {
  type AttemptOutcome,
  type AttemptRecord,
  type TaskActor,
  type TaskContext,
  type TaskEvent,
  type TaskEventType,
  type TaskGuardName,
  type TaskMachineInput,
  type TaskSnapshot,
  taskMachine,
} from './machines/taskMachine.js';
export { DurableTaskRuntime } from './runtime/DurableTaskRuntime.js';
export type {
  RejectionRecord,
  TaskListener,
  TaskRecord,
  TransitionRecord,
} from './runtime/records.js';
export {
  type PersistedTaskRuntime,
  SNAPSHOT_SCHEMA_VERSION,
  type SnapshotMigration,
  snapshotMigrations,
} from './runtime/snapshot.js';
export {
  type FailOptions,
  type ReopenOptions,
  type StartOptions,
  type TaskArtifactsView,
  TaskRuntime,
  type TaskRuntimeOptions,
  type TaskStateView,
  type WorkstreamAssignment,
  type WorktreeAssignment,
} from './runtime/TaskRuntime.js';
export { FileTaskStore, type FileTaskStoreOptions } from './store/FileTaskStore.js';
export { PostgresTaskStore, type PostgresTaskStoreOptions } from './store/PostgresTaskStore.js';
export {
  type ChangedTask,
  type ChangeLoader,
  canLoadChanged,
  isSharedRunStore,
  type KnownRevision,
  type ReadyClaim,
  type RunTaskEntry,
  type SharedRunStore,
} from './store/sharedRunStore.js';
export { MAX_TASK_ID_LENGTH } from './store/storeArguments.js';
export type {
  DeleteOptions,
  Lease,
  LeaseOptions,
  LeaseRef,
  SaveOptions,
  StoredTask,
  TaskStore,
} from './store/TaskStore.js';
export {
  type AgentConfig,
  type AgentConfigInput,
  createTask,
  type Task,
  type TaskInput,
} from './task/createTask.js';
export { AgentFramework, AgentRole, AgentVerbosity } from './task/enums.js';
export {
  type AttemptCommand,
  type AttemptContext,
  AttemptEndedError,
} from './worker/AttemptContext.js';
export type {
  AttemptTimedOutEvent,
  GraphWorkerEvent,
  GraphWorkerListener,
  RecoveredEvent,
  RetryScheduledEvent,
  StoreFailedEvent,
} from './worker/events.js';
export { GraphWorker, type GraphWorkerRun } from './worker/GraphWorker.js';
export { NonRetryableError } from './worker/NonRetryableError.js';
export type {
  FailedAttempt,
  GraphWorkerOptions,
  GraphWorkerRunOptions,
  MergeHandler,
  WorkHandler,
  WorkResult,
} from './worker/options.js';
