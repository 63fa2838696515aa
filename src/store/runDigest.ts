import { createHash } from 'node:crypto';
import type { RunTaskEntry } from './sharedRunStore.js';

// Apart from sharedRunStore.ts, whose declarations the package's entry point exports: a Buffer there would need
// @types/node in every consumer's type check.

/** The SHA-256 of the run's task ids and dependencies, in order: what tells one run's graph from another's. */
export function runDigest(tasks: readonly RunTaskEntry[]): Buffer {
  const shape = tasks.map(({ taskId, dependencies }) => [taskId, dependencies]);
  return createHash('sha256').update(JSON.stringify(shape)).digest();
}
