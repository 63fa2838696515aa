/** Seeded randomness for tests: a replayable seed and the same mulberry32 generator the demo uses. */
export { mulberry32 } from '../../src/cli/demo/random.js';

/** This run's seed: TASK_RUNTIME_SEED when set (to replay a run), a fresh random one otherwise. */
export const SEED = Number(process.env.TASK_RUNTIME_SEED ?? Math.floor(Math.random() * 2 ** 32));
