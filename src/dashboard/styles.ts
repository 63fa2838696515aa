import {
  BLOCKED_BORDER,
  LOST_OUTCOME_COLOUR,
  STATUS_COLOURS,
  type StatusColour,
} from '../diagram/palette.js';
import type { RunOutcome } from '../index.js';

/** CSS rules for one status or attempt outcome: badges, table rows' marks, counts and timeline bars. */
function statusRules(name: string, colour: { fill: string; border: string; text: string }): string {
  return `
.badge.status-${name}, .count.status-${name} { background: ${colour.fill}; border-color: ${colour.border}; color: ${colour.text}; }
tr.task-row.status-${name} td:first-child { box-shadow: inset 4px 0 0 ${colour.border}; }
.timeline .outcome-${name} rect, .timeline .outcome-${name} path, .gantt .outcome-${name} rect, .gantt .outcome-${name} path { fill: ${colour.fill}; stroke: ${colour.border}; }`;
}

/** The colours of the run's outcome: those of the status it resembles (running, merged, failed). */
const OUTCOME_COLOURS: Readonly<Record<RunOutcome, StatusColour>> = {
  in_progress: STATUS_COLOURS.running,
  succeeded: STATUS_COLOURS.pr_merged,
  completed_with_failures: STATUS_COLOURS.failed,
};

const BASE = `
:root { color-scheme: light; --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--ink); background: #fff; }
a { color: #0969da; }
header.top { display: flex; gap: 16px; align-items: baseline; padding: 10px 20px; background: var(--bg); border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 700; text-decoration: none; color: var(--ink); }
header.top .store { color: var(--muted); font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
.live-status { margin-left: auto; font-size: 12px; color: var(--muted); }
.live-status[data-state='live']::before { content: '● '; color: #16a34a; }
.live-status[data-state='offline']::before { content: '● '; color: #dc2626; }
main { padding: 12px 20px 40px; }
h1 { font-size: 22px; margin: 8px 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 18px 0 8px; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; list-style: none; padding: 0; margin: 0 0 12px; }
.count { display: inline-block; padding: 4px 10px; border: 1px solid var(--line); border-radius: 14px; text-decoration: none; color: var(--ink); }
.count-number { font-weight: 700; }
.diagrams { display: flex; flex-wrap: wrap; gap: 20px; }
.diagram { flex: 1 1 420px; min-width: 0; }
.svg-box { overflow: auto; max-height: 620px; border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff; }
.svg-box svg { max-width: 100%; height: auto; }
form.filter { display: flex; gap: 16px; align-items: center; margin: 0 0 12px; }
form.filter input, form.filter select { font: inherit; padding: 3px 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.error-cell, .text, .problem, .unlinked-url { overflow-wrap: anywhere; white-space: pre-wrap; }
.badge { display: inline-block; padding: 0 8px; border: 1px solid var(--line); border-radius: 10px; font-size: 12px; }
.none { color: var(--muted); }
.problem { color: #a21caf; }
.note { color: var(--muted); }
.shown { color: var(--muted); margin: 16px 0 6px; }
.blocked { color: ${BLOCKED_BORDER}; }
.columns { display: flex; flex-wrap: wrap; gap: 24px; }
.columns > section { flex: 1 1 380px; min-width: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
ul.plain { margin: 0; padding-left: 18px; }
pre.raw { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow: auto; max-height: 480px; white-space: pre-wrap; overflow-wrap: anywhere; }
.timeline { max-width: 100%; height: auto; display: block; margin-bottom: 10px; }
.timeline text { font-size: 11px; fill: var(--muted); }
.timeline .tick line { stroke: var(--line); }
.timeline .attempt-label { fill: var(--ink); font-size: 12px; }
.final { color: var(--muted); }
.timeline .worker-label, .gantt .worker-label { fill: var(--ink); font-size: 11px; }
.run-outcome { margin: 0 0 10px; }
.waiting { font-size: 16px; }
.lease-lost { color: ${BLOCKED_BORDER}; font-weight: 600; }
.lease-expired .lease-time { color: var(--muted); }
table.tasks time, table.tasks .badge, .lease-time { white-space: nowrap; }
table.tasks td:nth-child(2) .text { white-space: nowrap; overflow-wrap: normal; }
.pr-link { overflow-wrap: anywhere; }
.gantt { border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; overflow: hidden; }
.gantt-row { display: grid; grid-template-columns: minmax(120px, 220px) 1fr; align-items: center; gap: 8px; border-bottom: 1px solid var(--bg); }
.gantt-row[hidden] { display: none; }
.gantt-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-size: 13px; }
.gantt-track { width: 100%; height: 22px; display: block; }
.gantt-empty { font-size: 12px; }
.gantt .grid { stroke: var(--line); }
.gantt .tick { font-size: 11px; fill: var(--muted); }
.gantt rect { stroke-width: 2; }
.gantt .open rect, .gantt-legend { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; margin: 0 0 6px; font-size: 12px; }
`;

let css: string | null = null;

/** The dashboard's stylesheet; its status colours come from the diagrams' palette, so both always agree. */
export function dashboardCss(): string {
  css ??=
    BASE +
    Object.entries({ ...STATUS_COLOURS, lost: LOST_OUTCOME_COLOUR })
      .map(([name, colour]) => statusRules(name, colour))
      .join('') +
    Object.entries(OUTCOME_COLOURS)
      .map(
        ([outcome, colour]) =>
          `\n.badge.outcome-${outcome} { background: ${colour.fill}; border-color: ${colour.border}; color: ${colour.text}; }`,
      )
      .join('');
  return css;
}
