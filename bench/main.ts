/*
 * `npm run bench`: what the facade costs over raw XState, over no machine at all, and what durability costs,
 * as ratios against baselines measured in the same run, interleaved with them (absolute times vary ±20% on
 * shared machines). Prints one table and writes bench/results.json (or $BENCH_RESULTS). BENCH_QUICK=1 runs a
 * smoke-sized version in seconds; BENCH_ONLY=store,history runs only the groups named. A missed target is
 * reported, never an exit code.
 *
 * This file only assembles the table: each group of rows is a module of its own that exports a BenchGroup
 * (bench/rows.ts), and a new group is one more module and one more entry in GROUPS.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { canGroup } from './can.js';
import { commandGroup } from './command.js';
import { createGroup } from './create.js';
import { dashboardGroup } from './dashboard.js';
import { graphGroup } from './graph.js';
import { checksum, log, settingsFor } from './harness.js';
import { historyGroup } from './history.js';
import { lifecycleGroup } from './lifecycle.js';
import { memoryGroup } from './memory.js';
import { persistGroup } from './persist.js';
import { postgresGroup } from './postgres.js';
import { type BenchResults, formatTable } from './report.js';
import type { BenchGroup, ResultRow } from './rows.js';
import { sharedPostgresGroup } from './sharedPostgres.js';
import { sharedWorkersGroup } from './sharedWorkers.js';
import { sizeGroup } from './size.js';
import { storeGroup } from './store.js';
import { workerGroup } from './worker.js';

/** Every group, in the order they run; their rows follow in the table after {@link TABLE_HEAD}. */
const GROUPS: readonly BenchGroup[] = [
  commandGroup,
  lifecycleGroup,
  canGroup,
  createGroup,
  persistGroup,
  memoryGroup,
  sizeGroup,
  storeGroup,
  graphGroup,
  historyGroup,
  postgresGroup,
  sharedPostgresGroup,
  sharedWorkersGroup,
  dashboardGroup,
  workerGroup,
];

/** The rows that open the table, in this order (the facade's costs, from several groups), by name. */
const TABLE_HEAD = [
  'accepted command: addConcern',
  'accepted command: lifecycle pending → pr_merged',
  'refused command (IllegalTransitionError)',
  'legality check: can(event)',
  'state read: state + status',
  'create',
  'persist/restore',
  'persist/restore, both with a JSON round trip',
];

/** The groups `BENCH_ONLY` names (every group when it is unset); an error naming the groups for a name it has none of. */
function selectedGroups(only: string | undefined): readonly BenchGroup[] {
  if (only === undefined) return GROUPS;
  const names = only.split(',').filter((name) => name !== '');
  const unknown = names.filter((name) => !GROUPS.some((group) => group.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `BENCH_ONLY names groups ${GROUPS.map((group) => group.name).join(', ')}; got ${unknown.join(', ')}`,
    );
  }
  return GROUPS.filter((group) => names.includes(group.name));
}

/** `rows` with {@link TABLE_HEAD}'s first, in its order, then the others in the order they came. */
function inTableOrder(rows: readonly ResultRow[]): ResultRow[] {
  const rank = (row: ResultRow) => {
    const index = TABLE_HEAD.indexOf(row.name);
    return index === -1 ? TABLE_HEAD.length : index;
  };
  return [...rows].sort((a, b) => rank(a) - rank(b));
}

async function main(): Promise<void> {
  const started = performance.now();
  const settings = settingsFor(process.env.BENCH_QUICK === '1');
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const resultsPath = process.env.BENCH_RESULTS ?? `${root}bench/results.json`;
  log(`${settings.quick ? 'quick' : 'full'} run, ${settings.rounds} interleaved rounds per group`);
  const groups = selectedGroups(process.env.BENCH_ONLY);
  const measured: ResultRow[] = [];
  for (const group of groups) measured.push(...(await group.measure(settings)));
  const rows = inTableOrder(measured);
  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    mode: settings.quick ? 'quick' : 'full',
    machine: {
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores: availableParallelism(),
    },
    settings,
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    rows,
  };
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${formatTable(rows)}\n`);
  const { machine } = results;
  log(
    `node ${machine.node}, ${machine.cpu}, ${machine.cores} cores; ${results.durationSeconds} s; ` +
      `wrote ${resultsPath} (checksum ${checksum()})`,
  );
}

await main();
