import { stripVTControlCharacters } from 'node:util';
import picocolors from 'picocolors';
import type { TaskStatus } from '../index.js';

/** What {@link colorEnabled} reads of an output stream. */
interface OutputStream {
  readonly isTTY?: boolean;
}

/**
 * Whether to colour what is written to `stream`: `FORCE_COLOR` forces colour unless it is `0` or `false` (and wins
 * over `NO_COLOR`, as in Node), a non-empty `NO_COLOR` turns it off, and otherwise only a terminal (not
 * `TERM=dumb`) gets colour: a pipe or a file never does, on CI neither.
 */
export function colorEnabled(env: NodeJS.ProcessEnv, stream: OutputStream): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** The colours of what the command line prints on stdout; plain text when {@link colorEnabled} says no. */
export const pc = picocolors.createColors(colorEnabled(process.env, process.stdout));

/** The colours of what the command line prints on stderr (errors), decided for stderr on its own. */
export const pcError = picocolors.createColors(colorEnabled(process.env, process.stderr));

/** A status word in its colour: green merged, red failed, yellow running, cyan pr_created, dim pending. */
export function colorStatus(status: TaskStatus | string): string {
  switch (status) {
    case 'pr_merged':
      return pc.green(status);
    case 'failed':
      return pc.red(status);
    case 'running':
      return pc.yellow(status);
    case 'pr_created':
      return pc.cyan(status);
    case 'pending':
      return pc.dim(status);
    case 'lost':
      return pc.yellow(status);
    default:
      return pc.magenta(status);
  }
}

/** `text` padded with spaces to `width` visible characters (colour codes do not count). */
export function padVisible(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - stripVTControlCharacters(text).length));
}

/** Lays out rows as columns two spaces apart, each as wide as its widest cell; trailing spaces trimmed. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, stripVTControlCharacters(cell).length);
    });
  }
  return rows.map((row) =>
    (
      indent + row.map((cell, column) => padVisible(cell, widths[column] ?? 0)).join('  ')
    ).trimEnd(),
  );
}

/** An ISO-8601 time as `2026-01-05 09:12:00` (UTC), or `—` when absent. */
export function formatTime(iso: string | null): string {
  if (iso === null) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** An ISO-8601 time as `2026-01-05 09:12:00 UTC`, its zone said, or `—` when absent. */
export function formatTimeWithZone(iso: string | null): string {
  if (iso === null) return '—';
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : `${formatTime(time.toISOString())} UTC`;
}

/** A duration as `1h 05m`, `12m 30s` or `45s`. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m ${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

/** A bold section heading. */
export function heading(text: string): string {
  return pc.bold(text);
}
