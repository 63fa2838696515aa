/* Group `size`: the JSON of a typical task's snapshot, against the raw actor's persisted snapshot. */
import { typicalActor, typicalRuntime } from './fixtures.js';
import type { BenchGroup } from './rows.js';

export const sizeGroup: BenchGroup = {
  name: 'size',
  measure() {
    const bytes = Buffer.byteLength(JSON.stringify(typicalRuntime().persist()));
    const rawBytes = Buffer.byteLength(JSON.stringify(typicalActor().getPersistedSnapshot()));
    return [
      {
        name: 'snapshot size (2 paths, 2 deps, 3 attempts, 3 concerns)',
        measured: { what: 'JSON.stringify(runtime.persist())', value: bytes, unit: 'bytes' },
        baseline: {
          what: 'JSON.stringify(actor.getPersistedSnapshot())',
          value: rawBytes,
          unit: 'bytes',
        },
        ratio: bytes / rawBytes,
        target: '≤ 2 KB',
        pass: bytes <= 2048,
      },
    ];
  },
};
