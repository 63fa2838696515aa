/* What a run hands over: results.json, and the same rows as one Markdown table. */
import type { Settings } from './harness.js';
import type { Figure, ResultRow } from './rows.js';

/** The whole of results.json. */
export interface BenchResults {
  readonly generatedAt: string;
  readonly mode: 'quick' | 'full';
  readonly machine: { readonly node: string; readonly cpu: string; readonly cores: number };
  readonly settings: Settings;
  readonly durationSeconds: number;
  readonly rows: readonly ResultRow[];
}

function formatFigure(figure: Figure | null): string {
  if (figure === null) return '—';
  const { value, unit } = figure;
  const fixed = (n: number) => n.toLocaleString('en-US', { maximumSignificantDigits: 3 });
  switch (unit) {
    case 'ns/op':
      return value < 1_000
        ? `${fixed(value)} ns`
        : value < 1e6
          ? `${fixed(value / 1_000)} µs`
          : `${fixed(value / 1e6)} ms`;
    case 'bytes/runtime':
      return `${fixed(value / 1_024)} KiB`;
    case 'bytes':
      return `${Math.round(value).toLocaleString('en-US')} B`;
    case 'ops/s':
      return `${Math.round(value).toLocaleString('en-US')}/s`;
    case 'entries':
      return `${Math.round(value).toLocaleString('en-US')}`;
  }
}

function formatRatio(ratio: number | null): string {
  if (ratio === null) return '—';
  return `${ratio.toLocaleString('en-US', { maximumSignificantDigits: 3 })}×`;
}

/** The results as one Markdown table. */
export function formatTable(rows: readonly ResultRow[]): string {
  const cells = rows.map((row) => [
    row.name,
    formatFigure(row.measured),
    formatFigure(row.baseline),
    formatRatio(row.ratio),
    row.target,
    row.pass === null ? '—' : row.pass ? 'pass' : 'MISS',
  ]);
  const header = ['row', 'measured', 'baseline', 'ratio', 'target', 'result'];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((line) => (line[i] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    `| ${values.map((value, i) => value.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = line(widths.map((width) => '-'.repeat(width)));
  return [line(header), rule, ...cells.map(line)].join('\n');
}
