/*
 * Child process of the wake-up latency row (bench/sharedPostgres.ts). Usage:
 *   node sharedPostgresChild.js <connectionString> <table>
 * Prints `ready`, then answers commands read from stdin, one a line, with `ok`:
 * - `listen <trial> <runId>`: listens for run `runId` with listenReady; on a hint (or every second, as a backstop)
 *   it tries claimReady, and once that succeeds prints `{"trial":…,"at":…}` (epoch ms) and stops listening;
 * - `bare <trial>`: prints the same line when a bare NOTIFY on `bench_bare` with payload `<trial>` arrives.
 */
import { createInterface } from 'node:readline';
import pg from 'pg';
import { PostgresTaskStore } from '../src/store/PostgresTaskStore.js';

const [connectionString, table] = process.argv.slice(2);
if (connectionString === undefined || table === undefined) {
  process.stderr.write('usage: sharedPostgresChild.js <connectionString> <table>\n');
  process.exit(2);
}
const now = () => performance.timeOrigin + performance.now();
const report = (trial: number) => process.stdout.write(`${JSON.stringify({ trial, at: now() })}\n`);

const store = await PostgresTaskStore.connect({
  connectionString,
  table,
  migrate: false,
  maxConnections: 1,
});
const bare = new pg.Client({ connectionString });
await bare.connect();
bare.on('notification', (message) => report(Number(message.payload)));
await bare.query('LISTEN bench_bare');

/** Listens for run `runId` until its dependent is claimed, then reports `trial`. */
async function listen(trial: number, runId: string): Promise<void> {
  let claiming = false;
  let claimed = false;
  let stop: () => Promise<void> = async () => undefined;
  const tryClaim = async () => {
    if (claiming || claimed) return;
    claiming = true;
    try {
      const claim = await store.claimReady(runId, 'child', { leaseMs: 60_000 });
      if (claim !== null) {
        claimed = true;
        report(trial);
        clearInterval(poll);
        await stop();
      }
    } finally {
      claiming = false;
    }
  };
  const poll = setInterval(() => void tryClaim(), 1_000);
  stop = await store.listenReady(runId, () => void tryClaim());
}

process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [command, trial, runId] = line.split(' ');
  if (command === 'listen' && runId !== undefined) await listen(Number(trial), runId);
  else if (command !== 'bare') throw new Error(`unknown command: ${line}`);
  process.stdout.write('ok\n');
}
await bare.end();
await store.close();
