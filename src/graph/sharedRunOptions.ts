import { InvalidArgumentError } from '../errors.js';
import { checkRunId } from '../store/sharedRunStore.js';
import { checkLeaseOptions, checkWorkerId } from '../store/storeArguments.js';
import { describeValue, isPositiveInteger } from '../validation.js';
import type { TaskGraphRuntimeOptions } from './TaskGraphRuntime.js';

/** A lease of a shared run lasts this long unless `leaseMs` says otherwise (renewed every third of it). */
export const DEFAULT_LEASE_MS = 30_000;
/** A shared run looks at what other workers saved this often unless `followMs` says otherwise. */
export const DEFAULT_FOLLOW_MS = 500;
/** The shortest lease a shared run accepts: its renewal, every third of it, must reach the store in time. */
export const MIN_LEASE_MS = 300;

/** Options of {@link DurableTaskGraphRuntime.open}: a shared run when `workerId` is given. */
export interface DurableTaskGraphRuntimeOptions extends TaskGraphRuntimeOptions {
  /**
   * This process's name in a run shared by many workers (processes, machines): its leases and ledger records
   * carry it. Absent: the run is this process's alone and takes no leases.
   */
  readonly workerId?: string;
  /** How long a task's lease lasts without renewal, in ms (shared runs only). @default 30000 */
  readonly leaseMs?: number;
  /** How often a shared run loads what other workers saved, in ms. @default 500 */
  readonly followMs?: number;
  /**
   * The run's name in a store that finds ready work itself (PostgreSQL), so that two graphs share one table without
   * mixing (shared runs only). @default one derived from the graph's task ids and dependencies
   */
  readonly runId?: string;
}

/** The checked options of a shared run. */
export interface SharedRunOptions {
  readonly workerId: string;
  readonly leaseMs: number;
  readonly followMs: number;
  /** The run id given; null for the one derived from the graph. */
  readonly runId: string | null;
}

/**
 * The shared-run part of `options`, checked; null for a run of one process.
 * @throws {InvalidArgumentError} naming `workerId`, `leaseMs` or `followMs`.
 */
export function checkSharedRunOptions(
  options: DurableTaskGraphRuntimeOptions,
): SharedRunOptions | null {
  const { workerId, leaseMs, followMs, runId } = options;
  if (workerId === undefined) {
    for (const [name, value] of [
      ['leaseMs', leaseMs],
      ['followMs', followMs],
      ['runId', runId],
    ] as const) {
      if (value !== undefined) {
        throw new InvalidArgumentError(
          name,
          'no value unless workerId is given (only a shared run takes leases)',
          describeValue(value),
        );
      }
    }
    return null;
  }
  checkWorkerId(workerId);
  // Only an absent option takes the default: a null (from a config file, say) is refused below.
  const lease = leaseMs === undefined ? DEFAULT_LEASE_MS : leaseMs;
  checkLeaseOptions({ leaseMs: lease });
  if (lease < MIN_LEASE_MS) {
    throw new InvalidArgumentError(
      'leaseMs',
      `an integer of at least ${MIN_LEASE_MS} ms (the lease is renewed every third of it)`,
      describeValue(leaseMs),
    );
  }
  const follow = followMs === undefined ? DEFAULT_FOLLOW_MS : followMs;
  if (!isPositiveInteger(follow) || follow > 60_000) {
    throw new InvalidArgumentError(
      'followMs',
      'a positive integer of milliseconds up to 60000',
      describeValue(followMs),
    );
  }
  if (runId !== undefined) checkRunId(runId);
  return { workerId, leaseMs: lease, followMs: follow, runId: runId ?? null };
}
