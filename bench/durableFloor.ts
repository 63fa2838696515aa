/*
 * The floor of a durable save, shared by the bench groups that measure one: the cheapest atomic, durable
 * replacement of a file, with synchronous calls.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The modules {@link durableReplace} uses, passed in so that threads can run it from its source text. */
export interface FloorModules {
  readonly fs: typeof import('node:fs');
  readonly path: typeof import('node:path');
}

/** This process's modules for {@link durableReplace}. */
export const FLOOR_MODULES: FloorModules = { fs, path };

/**
 * The floor of a durable save: `text` written to a temporary file, fsync'd, renamed over `file`, and the
 * directory fsync'd (what any atomic, durable replacement of a file costs), with synchronous calls: no hop to
 * another thread at all. It names nothing outside itself, as the floor's threads run it from its source text.
 */
export function durableReplace(
  { fs, path }: FloorModules,
  dir: string,
  file: string,
  text: string,
): void {
  const tmp = path.join(dir, `${file}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    const bytes = Buffer.from(text, 'utf8');
    for (let written = 0; written < bytes.length; ) {
      written += fs.writeSync(fd, bytes, written, bytes.length - written);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, file));
  const directory = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(directory);
  } finally {
    fs.closeSync(directory);
  }
}
