/** Temporary directories under the OS temp dir for tests, and their removal. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new empty directory under the OS temp dir whose name starts with `prefix`. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes `dir` and everything in it; nothing happens when it is already gone. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Temporary directories made on demand and removed together (call `removeAll` in an `afterAll`). */
export interface TempDirs {
  /** A new empty directory, removed by {@link TempDirs.removeAll}. */
  make(): string;
  /** Removes every directory made so far, calling `beforeRemove` on each first. */
  removeAll(beforeRemove?: (dir: string) => void): void;
}

/** A {@link TempDirs} whose directories' names start with `prefix`. */
export function tempDirs(prefix: string): TempDirs {
  const dirs: string[] = [];
  return {
    make() {
      const dir = makeTempDir(prefix);
      dirs.push(dir);
      return dir;
    },
    removeAll(beforeRemove) {
      for (const dir of dirs.splice(0)) {
        beforeRemove?.(dir);
        removeDir(dir);
      }
    },
  };
}
