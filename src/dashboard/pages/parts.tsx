import type { RunOutcome, TaskStatus } from '../../index.js';
import { taskPagePath } from '../paths.js';
import type { LeaseSummary } from '../summary.js';
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

/** An ISO-8601 time as `YYYY-MM-DD HH:MM:SS UTC`, in a `<time>` element. */
export function Time({ iso }: { readonly iso: string | null }) {
  if (iso === null) return <span class="none">—</span>;
  return <time datetime={iso}>{formatTime(iso)}</time>;
}

/** `YYYY-MM-DD HH:MM:SS UTC` of an ISO-8601 time: every time the dashboard shows says its zone. */
export function formatTime(iso: string): string {
  const time = new Date(iso);
  return Number.isNaN(time.getTime())
    ? iso
    : `${time
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, '')} UTC`;
}

/**
 * A task's lease: the worker holding it and until when, or since when the lease expired — on a running or
 * pr_created task with the warning that its worker is presumed lost. A dash without a lease.
 */
export function LeaseText({ lease }: { readonly lease: LeaseSummary | null }) {
  if (lease === null) return <span class="none">—</span>;
  return (
    <span class={`lease lease-${lease.standing}`} data-standing={lease.standing}>
      <span class="worker">{visibleText(lease.workerId)}</span>{' '}
      <span class="lease-time">
        {lease.standing === 'held' ? 'until ' : 'expired '}
        <Time iso={lease.expiresAt} />
      </span>
      {lease.standing === 'lost' ? <span class="lost-note"> · worker presumed lost</span> : null}
    </span>
  );
}

/** The run's outcome as a badge: in_progress, succeeded, or completed_with_failures. */
export function OutcomeBadge({ outcome }: { readonly outcome: RunOutcome }) {
  return (
    <span class={`badge outcome-${outcome}`} id="outcome" data-outcome={outcome}>
      {outcome}
    </span>
  );
}
