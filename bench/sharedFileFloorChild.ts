/*
 * A process of the FileTaskStore floor (bench/sharedFileFloor.ts). Usage:
 *   node sharedFileFloorChild.js <dir> <tasks.json> <workerId> <leaseMs>
 * Reads the tasks (untimed), prints `{"ready":true}`, waits for a line `go` on stdin, runs the floor's work with
 * synchronous calls, and prints `{"claimed":…,"ms":…}`. Exits when stdin ends.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type FloorTasks, runFloorWorker } from './sharedFileFloor.js';

const [dir, tasksFile, workerId, leaseMs] = process.argv.slice(2);
if (dir === undefined || tasksFile === undefined || workerId === undefined) {
  process.stderr.write('usage: sharedFileFloorChild.js <dir> <tasks.json> <workerId> <leaseMs>\n');
  process.exit(2);
}
const tasks = JSON.parse(readFileSync(tasksFile, 'utf8')) as FloorTasks;
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== 'go') throw new Error(`unknown command: ${line}`);
  const start = performance.now();
  const claimed = runFloorWorker(dir, tasks, workerId, Number(leaseMs));
  const ms = performance.now() - start;
  process.stdout.write(`${JSON.stringify({ claimed, ms })}\n`);
}
