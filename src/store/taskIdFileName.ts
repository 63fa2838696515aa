import { createHash } from 'node:crypto';

/** Encoded names longer than this are replaced by a hash (file names are limited to 255 bytes). */
const MAX_READABLE_NAME = 200;
const KEPT = /^[a-z0-9_-]$/;
const HASHED_PREFIX = '~h';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A file name for a task id that can neither leave the store's directory nor collide with another id's name,
 * also on case-insensitive file systems: `[a-z0-9_-]` stay as they are, every other UTF-8 byte becomes `~xx`,
 * and names over 200 characters become `~h` + SHA-256 (the id itself is kept inside the stored document).
 */
export function fileNameForTaskId(taskId: string): string {
  let name = '';
  for (const byte of Buffer.from(taskId, 'utf8')) {
    const char = String.fromCharCode(byte);
    name += KEPT.test(char) ? char : `~${byte.toString(16).padStart(2, '0')}`;
  }
  return name.length <= MAX_READABLE_NAME
    ? name
    : `${HASHED_PREFIX}${createHash('sha256').update(taskId).digest('hex')}`;
}

/** The task id a file name stands for; null for hashed names (read the document) and for names no id produces. */
export function taskIdForFileName(name: string): string | null {
  if (name.startsWith(HASHED_PREFIX) || !/^(?:[a-z0-9_-]|~[0-9a-f]{2})+$/.test(name)) return null;
  const hex = name.replace(
    /~([0-9a-f]{2})|./g,
    (char: string, byte?: string) => byte ?? char.charCodeAt(0).toString(16).padStart(2, '0'),
  );
  try {
    const taskId = strictUtf8.decode(Buffer.from(hex, 'hex'));
    return fileNameForTaskId(taskId) === name ? taskId : null;
  } catch {
    return null;
  }
}
