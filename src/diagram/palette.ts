import type { TaskStatus } from '../machines/status.js';

/** What a node of a diagram can stand for: a task's status, or a task that is depended on but not stored, or unreadable. */
export type DiagramStatus = TaskStatus | 'missing' | 'corrupt';

/** The colours of one status: the node's fill, its border, and its text. */
export interface StatusColour {
  readonly fill: string;
  readonly border: string;
  readonly text: string;
}

/**
 * The one palette of the diagrams and the dashboard (its CSS reads it too): hex colours per status, in the spirit
 * of the CLI's (green merged, red failed, amber running, cyan pr_created, grey pending, magenta corrupt).
 */
export const STATUS_COLOURS: Readonly<Record<DiagramStatus, StatusColour>> = Object.freeze({
  pending: Object.freeze({ fill: '#e5e7eb', border: '#6b7280', text: '#111827' }),
  running: Object.freeze({ fill: '#fef3c7', border: '#d97706', text: '#111827' }),
  pr_created: Object.freeze({ fill: '#cffafe', border: '#0891b2', text: '#111827' }),
  pr_merged: Object.freeze({ fill: '#dcfce7', border: '#16a34a', text: '#111827' }),
  failed: Object.freeze({ fill: '#fee2e2', border: '#dc2626', text: '#111827' }),
  missing: Object.freeze({ fill: '#ffffff', border: '#9ca3af', text: '#4b5563' }),
  corrupt: Object.freeze({ fill: '#fae8ff', border: '#a21caf', text: '#111827' }),
});

/** The colours of a lost attempt in a ledger (its worker died; it does not count): orange, between running and failed. */
export const LOST_OUTCOME_COLOUR: StatusColour = Object.freeze({
  fill: '#ffedd5',
  border: '#ea580c',
  text: '#111827',
});

/** The border of a blocked task (drawn dashed and thicker): failed because a dependency failed for good. */
export const BLOCKED_BORDER = '#b91c1c';
