import { StoreSlot } from '../../src/dashboard/storeSlot.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { tempDirs } from '../support/tempDir.js';

const dirs = tempDirs('task-runtime-slot-');
afterAll(() => dirs.removeAll());

describe('StoreSlot', () => {
  it('should say why it waits until it is filled, once', async () => {
    const slot = new StoreSlot(null, 'the directory does not exist yet');
    expect([slot.store, slot.waitingFor]).toEqual([null, 'the directory does not exist yet']);
    slot.wait('the directory holds no task store (tasks/) yet');
    expect(slot.waitingFor).toBe('the directory holds no task store (tasks/) yet');
    const store = await FileTaskStore.open(dirs.make());
    slot.fill(store);
    expect(slot.store).toBe(store);
    expect(() => slot.fill(store)).toThrow('already serves a store');
    await store.close();
  });

  it('should wrap a store in a slot of its own, and keep a slot as it is', async () => {
    const store = await FileTaskStore.open(dirs.make());
    const slot = StoreSlot.of(store);
    expect(slot.store).toBe(store);
    expect(StoreSlot.of(slot)).toBe(slot);
    await store.close();
  });
});
