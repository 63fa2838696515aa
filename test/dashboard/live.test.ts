import { changeMarkOf, StoreChanges, type StoreEvent } from '../../src/dashboard/live.js';
import { StoreSlot } from '../../src/dashboard/storeSlot.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import { tempDirs } from '../support/tempDir.js';

const dirs = tempDirs('task-runtime-live-');
afterAll(() => dirs.removeAll());

/** Resolves with the next event a listener hears; rejects after `timeoutMs`. */
function events(changes: StoreChanges): {
  next(timeoutMs?: number): Promise<StoreEvent>;
  stop(): void;
} {
  const heard: StoreEvent[] = [];
  let wake: (() => void) | null = null;
  const stop = changes.subscribe((event) => {
    heard.push(event);
    wake?.();
  });
  return {
    stop,
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (heard.length === 0) {
        if (Date.now() > deadline) throw new Error(`no event within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return heard.shift() as StoreEvent;
    },
  };
}

describe('changeMarkOf', () => {
  it('should change with every save and delete, and only then', async () => {
    const store = await FileTaskStore.open(dirs.make());
    const empty = await changeMarkOf(store);
    expect(await changeMarkOf(store)).toBe(empty);
    const revision = await store.save('a', { any: 'json' }, { expectedRevision: null });
    const saved = await changeMarkOf(store);
    expect(saved).not.toBe(empty);
    await store.save('a', { any: 'json' }, { expectedRevision: revision });
    const resaved = await changeMarkOf(store);
    expect(resaved).not.toBe(saved);
    await store.delete('a', { expectedRevision: revision + 1 });
    expect(await changeMarkOf(store)).not.toBe(resaved);
    await store.close();
  });
});

describe('changeMarkOf of a FileTaskStore', () => {
  it('should change when a lease is claimed, renewed or released, though no revision moved', async () => {
    const store = await FileTaskStore.open(dirs.make());
    await store.save('a', { any: 'json' }, { expectedRevision: null });
    const saved = await changeMarkOf(store);
    const lease = await store.claim('a', 'worker-a', { leaseMs: 60_000 });
    if (lease === null) throw new Error('the claim should succeed');
    const claimed = await changeMarkOf(store);
    expect(claimed).not.toBe(saved);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.renew('a', lease, { leaseMs: 120_000 });
    const renewed = await changeMarkOf(store);
    expect(renewed).not.toBe(claimed);
    await store.release('a', lease);
    const released = await changeMarkOf(store);
    expect(released).not.toBe(renewed);
    expect(await changeMarkOf(store)).toBe(released);
    expect((await store.load('a'))?.revision).toBe(1);
    await store.close();
  });
});

describeWithPostgres('changeMarkOf on PostgreSQL', () => {
  it("should read the store's changeMark, which moves with every save and delete, and only then", async () => {
    const table = freshTable();
    const store = await PostgresTaskStore.connect({
      connectionString: requirePostgresUrl(),
      table: table.name,
    });
    try {
      const empty = await changeMarkOf(store);
      expect(empty).toBe(await store.changeMark());
      const revision = await store.save('a', { any: 'json' }, { expectedRevision: null });
      const saved = await changeMarkOf(store);
      expect(saved).not.toBe(empty);
      expect(await changeMarkOf(store)).toBe(saved);
      await store.delete('a', { expectedRevision: revision });
      const deleted = await changeMarkOf(store);
      expect(deleted).not.toBe(saved);
      await store.save('a', { again: true }, { expectedRevision: null });
      expect(await changeMarkOf(store)).not.toBe(deleted);
    } finally {
      await store.close();
      await table.drop();
    }
  });
});

describe('StoreChanges', () => {
  it('should say ready once, then change after each save, and nothing while nothing changes', async () => {
    const store = await FileTaskStore.open(dirs.make());
    const changes = new StoreChanges(store, { intervalMs: 20 });
    const listener = events(changes);
    expect(await listener.next()).toBe('ready');
    await store.save('a', { n: 1 }, { expectedRevision: null });
    expect(await listener.next()).toBe('change');
    await expect(listener.next(300)).rejects.toThrow('no event within 300 ms');
    await store.save('a', { n: 2 }, { expectedRevision: 1 });
    expect(await listener.next()).toBe('change');
    listener.stop();
    changes.close();
    await store.close();
  });

  it('should give a listener that joins later its own ready, and stop telling one that left', async () => {
    const store = await FileTaskStore.open(dirs.make());
    const changes = new StoreChanges(store, { intervalMs: 20 });
    const first = events(changes);
    expect(await first.next()).toBe('ready');
    const second = events(changes);
    expect(await second.next()).toBe('ready');
    first.stop();
    await store.save('b', { n: 1 }, { expectedRevision: null });
    expect(await second.next()).toBe('change');
    await expect(first.next(200)).rejects.toThrow('no event');
    second.stop();
    changes.close();
    await store.close();
  });

  it('should be ready while its slot waits, and tell a change when the reason changes and when the store comes', async () => {
    const slot = new StoreSlot(null, 'the directory does not exist yet');
    const changes = new StoreChanges(slot, { intervalMs: 20 });
    const listener = events(changes);
    expect(await listener.next()).toBe('ready');
    await expect(listener.next(150)).rejects.toThrow('no event');
    slot.wait('the directory holds no task store (tasks/) yet');
    expect(await listener.next()).toBe('change');
    const store = await FileTaskStore.open(dirs.make());
    slot.fill(store);
    expect(await listener.next()).toBe('change');
    await store.save('a', { n: 1 }, { expectedRevision: null });
    expect(await listener.next()).toBe('change');
    listener.stop();
    changes.close();
    await store.close();
  });

  it('should keep going when a look fails, and report the change once the store answers again', async () => {
    const store = await FileTaskStore.open(dirs.make());
    let failing = false;
    // The real store, whose list() fails for a while (a dropped connection, say).
    const flaky: TaskStore = {
      list: () => (failing ? Promise.reject(new Error('store briefly away')) : store.list()),
      load: (id) => store.load(id),
      save: (id, snapshot, options) => store.save(id, snapshot, options),
      delete: (id, options) => store.delete(id, options),
      claim: (id, worker, options) => store.claim(id, worker, options),
      renew: (id, lease, options) => store.renew(id, lease, options),
      release: (id, lease) => store.release(id, lease),
      listExpired: () => store.listExpired(),
      close: () => store.close(),
    };
    const changes = new StoreChanges(flaky, { intervalMs: 20 });
    const listener = events(changes);
    expect(await listener.next()).toBe('ready');
    failing = true;
    await store.save('c', { n: 1 }, { expectedRevision: null });
    await new Promise((resolve) => setTimeout(resolve, 100));
    failing = false;
    expect(await listener.next()).toBe('change');
    listener.stop();
    changes.close();
    await store.close();
  });
});
