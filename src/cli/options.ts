import { InvalidArgumentError, Option } from 'commander';

/** The store directory every command uses unless `--dir` says otherwise. */
export const DEFAULT_STORE_DIR = '.task-runtime';

/** A commander argument parser for an integer from `min` to `max`; anything else is a usage error naming both. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(`Expected an integer from ${min} to ${max}.`);
    }
    return number;
  };
}

/** A commander argument parser for a number from 0 to 1 (a probability). */
export function rate(value: string): number {
  const number = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number) || number < 0 || number > 1) {
    throw new InvalidArgumentError('Expected a number from 0 to 1, e.g. 0.25.');
  }
  return number;
}

/** The `--dir <path>` option shared by every command that reads or writes a store. */
export function dirOption(description = 'the task store directory'): Option {
  return new Option('-d, --dir <path>', description)
    .default(DEFAULT_STORE_DIR)
    .argParser((value) => {
      if (value.trim() === '') throw new InvalidArgumentError('Expected a directory path.');
      return value;
    });
}
