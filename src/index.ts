export {
  AgentAddress,
  type AgentAddressJSON,
  TmuxAddress,
  type TmuxAddressJSON,
} from './agent/AgentAddress.js';
export {
  type IllegalTransitionDetails,
  IllegalTransitionError,
  InvalidArgumentError,
  SnapshotError,
  TaskRuntimeError,
} from './errors.js';
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
export { type PersistedTaskRuntime, SNAPSHOT_SCHEMA_VERSION } from './runtime/snapshot.js';
export {
  type TaskArtifactsView,
  TaskRuntime,
  type TaskRuntimeOptions,
  type TaskStateView,
  type WorkstreamAssignment,
  type WorktreeAssignment,
} from './runtime/TaskRuntime.js';
export {
  type AgentConfig,
  type AgentConfigInput,
  createTask,
  type Task,
  type TaskInput,
} from './task/createTask.js';
export { AgentFramework, AgentRole, AgentVerbosity } from './task/enums.js';
