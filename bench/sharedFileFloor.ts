/*
 * The floor of the shared-workers FileTaskStore row (bench/sharedWorkers.ts): the bare synchronous file operations
 * that one task of a shared run needs, done by each of its processes (bench/sharedFileFloorChild.ts). It names
 * nothing of the package.
 *
 * Per task, in a directory of its own (like the store's; it measured a little cheaper than one directory shared by
 * every task, whose fsyncs the processes then contend for):
 * - the claim: `lease` created with O_CREAT | O_EXCL (`openSync(…, 'wx')`; of all processes exactly one creates
 *   it, the others get EEXIST, which costs one failed open and nothing durable), the lease written into it,
 *   fsync'd, and the task's directory fsync'd;
 * - three compare-and-set saves of the task's START, PR_CREATED and PR_MERGED documents, each a durable replacement
 *   of `doc.json`: written to a temporary file, fsync'd, renamed over it, the directory fsync'd. The
 *   compare-and-set costs nothing more: the process holds the task's lease file, so no other writer can have moved
 *   the revision it knows. The last document has the lease cleared, so no release is written.
 * That is four durable writes (eight fsyncs) per task. Each process walks the tasks in the graph's order from where
 * it last claimed, skipping those another process claimed. No dependencies: every task is ready from the start, and
 * nothing is read.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { durableReplace, FLOOR_MODULES } from './durableFloor.js';

const DOCUMENT = 'doc.json';

/** What the floor processes read before they start: the tasks in order, and each one's three documents' snapshots. */
export interface FloorTasks {
  readonly ids: readonly string[];
  /** Per task, in the order of `ids`: the JSON texts of the snapshots after START, PR_CREATED and PR_MERGED. */
  readonly steps: readonly (readonly string[])[];
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let written = 0; written < bytes.length; ) {
    written += fs.writeSync(fd, bytes, written, bytes.length - written);
  }
}

function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The claim: creates the task's `lease` exclusively with the lease in it, durably; false when another process has it. */
function claim(taskDir: string, workerId: string, leaseMs: number): boolean {
  let fd: number;
  try {
    fd = fs.openSync(join(taskDir, 'lease'), 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    const expiresAt = new Date(Date.now() + leaseMs).toISOString();
    writeAll(fd, JSON.stringify({ workerId, token: 1, expiresAt }));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDirectory(taskDir);
  return true;
}

/** A task's document as the floor stores it: its revision, its lease, and the snapshot's JSON text. */
function document(revision: number, lease: string | null, snapshot: string): string {
  return `{"revision":${revision},"lease":${lease ?? 'null'},"snapshot":${snapshot}}`;
}

/**
 * Untimed: each task's directory and first document (revision 1, no lease), written without fsync (sync the file
 * system after).
 */
export function createFloorTasks(dir: string, tasks: FloorTasks, initial: readonly string[]): void {
  tasks.ids.forEach((id, index) => {
    fs.mkdirSync(join(dir, id));
    fs.writeFileSync(join(dir, id, DOCUMENT), document(1, null, initial[index] ?? 'null'));
  });
}

/**
 * One floor process's work: claims tasks in order and saves each one's three documents, until every task is
 * claimed. Returns how many tasks it claimed.
 */
export function runFloorWorker(
  dir: string,
  tasks: FloorTasks,
  workerId: string,
  leaseMs: number,
): number {
  let claimed = 0;
  const lease = JSON.stringify({
    workerId,
    token: 1,
    expiresAt: new Date(Date.now() + leaseMs).toISOString(),
  });
  tasks.ids.forEach((id, index) => {
    const taskDir = join(dir, id);
    if (!claim(taskDir, workerId, leaseMs)) return;
    claimed += 1;
    const steps = tasks.steps[index] ?? [];
    steps.forEach((snapshot, step) => {
      const last = step === steps.length - 1;
      durableReplace(
        FLOOR_MODULES,
        taskDir,
        DOCUMENT,
        document(step + 2, last ? null : lease, snapshot),
      );
    });
  });
  return claimed;
}
