/** Seeded randomness for tests: a replayable seed and the mulberry32 generator. */

/** This run's seed: TASK_RUNTIME_SEED when set (to replay a run), a fresh random one otherwise. */
export const SEED = Number(process.env.TASK_RUNTIME_SEED ?? Math.floor(Math.random() * 2 ** 32));

/** mulberry32: a tiny seeded PRNG giving floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
