/*
 * The dashboard's URLs for task ids. Any non-empty string is a task id, so a path segment must hold any string:
 * encodeURIComponent does, except for ids with a lone surrogate (it throws) and the ids `.` and `..` (which URLs
 * resolve away, even percent-encoded). Those, and ids that start with a double quote, are written as their JSON
 * string literal, which is ASCII-safe; a segment that starts with `"` is always read back as JSON. So every id has
 * exactly one segment and every segment at most one id.
 */

/** The path segment that names task `id`, percent-encoded. */
export function taskSegment(id: string): string {
  const asJson = id.startsWith('"') || id === '.' || id === '..' || !id.isWellFormed();
  const text = asJson ? JSON.stringify(id) : id;
  return encodeURIComponent(text);
}

/** The task id named by a decoded path segment, or null when the segment names none. */
export function taskIdOfSegment(segment: string): string | null {
  if (!segment.startsWith('"')) return segment === '' ? null : segment;
  try {
    const id: unknown = JSON.parse(segment);
    return typeof id === 'string' && id !== '' ? id : null;
  } catch {
    return null;
  }
}

/** The page of task `id`. */
export function taskPagePath(id: string): string {
  return `/tasks/${taskSegment(id)}`;
}

/** The JSON of task `id`. */
export function taskApiPath(id: string): string {
  return `/api/tasks/${taskSegment(id)}`;
}

/** The overview, filtered to one status. */
export function statusFilterPath(status: string): string {
  return `/?status=${encodeURIComponent(status)}`;
}
