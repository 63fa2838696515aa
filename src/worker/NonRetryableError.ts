/**
 * Thrown (or rejected with) by a `work` or `merge` handler of a {@link GraphWorker}: the attempt's failure is final,
 * recorded with `retryable: false`, and the run blocks the task's dependents by its own rules.
 * @example
 * throw new NonRetryableError('the spec contradicts itself; a new attempt would fail the same way');
 */
export class NonRetryableError extends Error {
  override readonly name: string = 'NonRetryableError';
  /** Always `false`: what the worker reads to record the failure as final (any error may carry it). */
  readonly retryable = false as const;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}
