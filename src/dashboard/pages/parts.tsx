import type { TaskStatus } from '../../index.js';
import { taskPagePath } from '../paths.js';
import { linkableUrl, visibleText } from '../text.js';

/** A status as a coloured badge; `corrupt` for a task that cannot be read. */
export function StatusBadge({ status }: { readonly status: TaskStatus | 'corrupt' }) {
  return <span class={`badge status-${status}`}>{status}</span>;
}

/** A link to a task's page, showing its id. */
export function TaskLink({ id }: { readonly id: string }) {
  return (
    <a class="task-link" href={taskPagePath(id)}>
      {visibleText(id)}
    </a>
  );
}

/** A PR URL: a link when it is http(s), otherwise (e.g. `javascript:`) plain text; nothing when null. */
export function PrLink({ url }: { readonly url: string | null }) {
  if (url === null) return null;
  const href = linkableUrl(url);
  return href === null ? (
    <span class="unlinked-url" title="not an http(s) URL, so not a link">
      {visibleText(url)}
    </span>
  ) : (
    <a class="pr-link" href={href} rel="noreferrer noopener" target="_blank">
      {visibleText(url)}
    </a>
  );
}

/** Agent text, or a dash when there is none. */
export function Text({ value }: { readonly value: string | null | undefined }) {
  return value === null || value === undefined || value === '' ? (
    <span class="none">—</span>
  ) : (
    <span class="text">{visibleText(value)}</span>
  );
}

/** An ISO-8601 time as `YYYY-MM-DD HH:MM:SS` (UTC), in a `<time>` element. */
export function Time({ iso }: { readonly iso: string | null }) {
  if (iso === null) return <span class="none">—</span>;
  return <time datetime={iso}>{formatTime(iso)}</time>;
}

/** `YYYY-MM-DD HH:MM:SS` of an ISO-8601 time, in UTC. */
export function formatTime(iso: string): string {
  const time = new Date(iso);
  return Number.isNaN(time.getTime())
    ? iso
    : time
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, '');
}
