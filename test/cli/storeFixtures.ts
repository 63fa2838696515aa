import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blockedError } from '../../src/graph/blocking.js';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { AgentRole } from '../../src/task/enums.js';

/** Overwrites the newest generation's document of every task directory whose name contains `name` with broken JSON. */
export function corrupt(dir: string, name: string): void {
  const tasks = join(dir, 'tasks');
  const taskDir = readdirSync(tasks).find((entry) => entry.includes(name));
  if (taskDir === undefined) throw new Error(`no task directory like ${name} in ${tasks}`);
  const generations = readdirSync(join(tasks, taskDir, 'g')).filter((entry) => /^\d+$/.test(entry));
  const newest = generations.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw new Error(`no generation in ${taskDir}`);
  writeFileSync(
    join(tasks, taskDir, 'g', newest, 'doc.json'),
    '{"format": "task-runtime/file-store", "vers',
  );
}

/**
 * Stores a small run in a FileTaskStore at `dir`: `spec` merged, `api` failed for good, `app` (depends on `ui`
 * and `api`) blocked by `api`, `ui` (depends on `spec` and the never stored `ghost`) running, `docs` failed
 * with a retryable failure.
 */
export async function storeBlockedRun(dir: string): Promise<void> {
  const store = await FileTaskStore.open(dir);
  try {
    await saveBlockedRun(store);
  } finally {
    await store.close();
  }
}

/** Saves the run {@link storeBlockedRun} describes in `store`, of any kind (left open). */
export async function saveBlockedRun(store: TaskStore): Promise<void> {
  const spec = await DurableTaskRuntime.create(store, {
    id: 'spec',
    role: AgentRole.SPEC_WRITER,
  });
  await spec.markRunning();
  await spec.markPrCreated('https://example.test/pr/1');
  await spec.markPrMerged();
  const api = await DurableTaskRuntime.create(store, {
    id: 'api',
    role: AgentRole.IMPLEMENTER,
    dependencies: ['spec'],
  });
  await api.markRunning();
  await api.markFailed('tests failed', { retryable: false });
  const app = await DurableTaskRuntime.create(store, {
    id: 'app',
    role: AgentRole.IMPLEMENTER,
    dependencies: ['ui', 'api'],
  });
  await app.markFailed(blockedError('api'), { retryable: false });
  const ui = await DurableTaskRuntime.create(store, {
    id: 'ui',
    role: AgentRole.IMPLEMENTER,
    dependencies: ['spec', 'ghost'],
  });
  await ui.markRunning();
  const docs = await DurableTaskRuntime.create(store, {
    id: 'docs',
    role: AgentRole.TEST_WRITER,
    dependencies: ['spec'],
  });
  await docs.markRunning();
  await docs.markFailed('flaky network');
}
