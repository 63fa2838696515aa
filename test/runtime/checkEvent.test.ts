import { InvalidArgumentError } from '../../src/errors.js';
import { TASK_EVENT_TYPES, type TaskEvent } from '../../src/machines/taskMachine.js';
import { checkEvent } from '../../src/runtime/checkEvent.js';

/** Runs checkEvent and returns the InvalidArgumentError it throws (fails the test otherwise). */
function refusal(event: unknown): InvalidArgumentError {
  try {
    checkEvent(event);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error(`expected an InvalidArgumentError for ${JSON.stringify(event)}`);
}

const address = { kind: 'tmux', session: 'agentrelay', paneId: '%1' } as const;

const wellFormed: readonly TaskEvent[] = [
  { type: 'PREPARE_ATTEMPT', attemptNum: 0 },
  { type: 'PREPARE_ATTEMPT', attemptNum: 7 },
  { type: 'PREPARE_ATTEMPT', attemptNum: Number.MAX_SAFE_INTEGER },
  { type: 'START' },
  { type: 'PR_CREATED', prUrl: 'https://github.com/org/repo/pull/7' },
  { type: 'PR_MERGED' },
  { type: 'FAIL', error: 'boom' },
  { type: 'FAIL', error: 'boom', retryable: false },
  { type: 'FAIL', error: 'boom', retryable: true },
  { type: 'FAIL', error: 'worker lost', workerLost: true },
  { type: 'FAIL', error: 'worker lost', workerLost: true, retryable: true },
  { type: 'FAIL', error: 'boom', workerLost: false, retryable: false },
  { type: 'RETRY' },
  { type: 'REOPEN', reason: 'fixed the flaky test', attempts: 1 },
  { type: 'REOPEN', reason: 'r', attempts: Number.MAX_SAFE_INTEGER },
  { type: 'MARK_PENDING' },
  { type: 'ASSIGN_WORKTREE', worktreePath: '/w/t', branchName: 'task/t' },
  { type: 'ASSIGN_WORKTREE', worktreePath: '/w/t', branchName: 'task/t', signalDir: '/w/s' },
  { type: 'ASSIGN_WORKSTREAM', integrationBranch: 'ws/main', workstreamWorktreePath: '/w/ws' },
  { type: 'RECORD_AGENT_ADDRESS', address },
  { type: 'ADD_CONCERN', concern: 'flaky test' },
];

describe('checkEvent', () => {
  describe('well-formed events', () => {
    it('should cover every event type of the machine', () => {
      expect(new Set(wellFormed.map((event) => event.type))).toEqual(new Set(TASK_EVENT_TYPES));
    });

    it.each(wellFormed.map((event) => [JSON.stringify(event), event] as const))(
      'should accept %s',
      (_label, event) => {
        expect(() => checkEvent(event)).not.toThrow();
      },
    );

    it.each(wellFormed.map((event) => [event.type, event] as const))(
      'should accept %s with an ISO-8601 time',
      (_label, event) => {
        expect(() => checkEvent({ ...event, at: '2025-01-02T03:04:05.678Z' })).not.toThrow();
      },
    );

    it('should accept ISO-8601 times with an offset or without milliseconds', () => {
      expect(() => checkEvent({ type: 'START', at: '2025-01-02T03:04:05Z' })).not.toThrow();
      expect(() =>
        checkEvent({ type: 'START', at: '2025-01-02T03:04:05.678+02:00' }),
      ).not.toThrow();
    });
  });

  describe('malformed events', () => {
    const cases: ReadonlyArray<readonly [string, unknown, string]> = [
      ['null', null, 'event'],
      ['a string', 'START', 'event'],
      ['an array', [{ type: 'START' }], 'event'],
      ['an event without a type', {}, 'event.type'],
      ['an unknown type', { type: 'STOP' }, 'event.type'],
      ['a type in the wrong case', { type: 'start' }, 'event.type'],
      ['a non-string at', { type: 'START', at: 1735787045678 }, 'at'],
      ['an empty at', { type: 'START', at: '' }, 'at'],
      ['an unparsable at', { type: 'START', at: 'yesterday' }, 'at'],
      ['a Date as at', { type: 'START', at: new Date(0) }, 'at'],
      ['a missing attemptNum', { type: 'PREPARE_ATTEMPT' }, 'attemptNum'],
      ['a negative attemptNum', { type: 'PREPARE_ATTEMPT', attemptNum: -1 }, 'attemptNum'],
      ['a fractional attemptNum', { type: 'PREPARE_ATTEMPT', attemptNum: 1.5 }, 'attemptNum'],
      ['a string attemptNum', { type: 'PREPARE_ATTEMPT', attemptNum: '1' }, 'attemptNum'],
      ['a NaN attemptNum', { type: 'PREPARE_ATTEMPT', attemptNum: Number.NaN }, 'attemptNum'],
      [
        'an infinite attemptNum',
        { type: 'PREPARE_ATTEMPT', attemptNum: Number.POSITIVE_INFINITY },
        'attemptNum',
      ],
      [
        'an unsafe attemptNum',
        { type: 'PREPARE_ATTEMPT', attemptNum: Number.MAX_SAFE_INTEGER + 1 },
        'attemptNum',
      ],
      ['a missing prUrl', { type: 'PR_CREATED' }, 'prUrl'],
      ['an empty prUrl', { type: 'PR_CREATED', prUrl: '' }, 'prUrl'],
      ['a non-string prUrl', { type: 'PR_CREATED', prUrl: 42 }, 'prUrl'],
      ['a missing error', { type: 'FAIL' }, 'error'],
      ['an empty error', { type: 'FAIL', error: '' }, 'error'],
      ['a non-string error', { type: 'FAIL', error: new Error('boom') }, 'error'],
      ['a non-boolean retryable', { type: 'FAIL', error: 'boom', retryable: 'no' }, 'retryable'],
      ['a null retryable', { type: 'FAIL', error: 'boom', retryable: null }, 'retryable'],
      ['a non-boolean workerLost', { type: 'FAIL', error: 'boom', workerLost: 1 }, 'workerLost'],
      ['a null workerLost', { type: 'FAIL', error: 'boom', workerLost: null }, 'workerLost'],
      [
        'a lost attempt marked not retryable',
        { type: 'FAIL', error: 'boom', workerLost: true, retryable: false },
        'retryable',
      ],
      ['a missing reason', { type: 'REOPEN', attempts: 1 }, 'reason'],
      ['an empty reason', { type: 'REOPEN', reason: '', attempts: 1 }, 'reason'],
      ['a non-string reason', { type: 'REOPEN', reason: 7, attempts: 1 }, 'reason'],
      ['a missing attempts', { type: 'REOPEN', reason: 'r' }, 'attempts'],
      ['zero attempts', { type: 'REOPEN', reason: 'r', attempts: 0 }, 'attempts'],
      ['negative attempts', { type: 'REOPEN', reason: 'r', attempts: -2 }, 'attempts'],
      ['fractional attempts', { type: 'REOPEN', reason: 'r', attempts: 1.5 }, 'attempts'],
      ['a string attempts', { type: 'REOPEN', reason: 'r', attempts: '2' }, 'attempts'],
      [
        'unsafe attempts',
        { type: 'REOPEN', reason: 'r', attempts: Number.MAX_SAFE_INTEGER + 1 },
        'attempts',
      ],
      ['a missing worktreePath', { type: 'ASSIGN_WORKTREE', branchName: 'task/t' }, 'worktreePath'],
      [
        'an empty branchName',
        { type: 'ASSIGN_WORKTREE', worktreePath: '/w/t', branchName: '' },
        'branchName',
      ],
      [
        'an empty signalDir',
        { type: 'ASSIGN_WORKTREE', worktreePath: '/w/t', branchName: 'b', signalDir: '' },
        'signalDir',
      ],
      [
        'a null signalDir',
        { type: 'ASSIGN_WORKTREE', worktreePath: '/w/t', branchName: 'b', signalDir: null },
        'signalDir',
      ],
      [
        'a missing integrationBranch',
        { type: 'ASSIGN_WORKSTREAM', workstreamWorktreePath: '/w/ws' },
        'integrationBranch',
      ],
      [
        'an empty workstreamWorktreePath',
        { type: 'ASSIGN_WORKSTREAM', integrationBranch: 'ws', workstreamWorktreePath: '' },
        'workstreamWorktreePath',
      ],
      ['a missing address', { type: 'RECORD_AGENT_ADDRESS' }, 'address'],
      ['an address string', { type: 'RECORD_AGENT_ADDRESS', address: 'agentrelay:%1' }, 'address'],
      [
        'an address of unknown kind',
        { type: 'RECORD_AGENT_ADDRESS', address: { ...address, kind: 'ssh' } },
        'address',
      ],
      [
        'an address with an empty session',
        { type: 'RECORD_AGENT_ADDRESS', address: { ...address, session: '' } },
        'address.session',
      ],
      [
        'an address without a paneId',
        { type: 'RECORD_AGENT_ADDRESS', address: { kind: 'tmux', session: 's' } },
        'address.paneId',
      ],
      ['a missing concern', { type: 'ADD_CONCERN' }, 'concern'],
      ['an empty concern', { type: 'ADD_CONCERN', concern: '' }, 'concern'],
      ['a non-string concern', { type: 'ADD_CONCERN', concern: ['x'] }, 'concern'],
    ];

    it.each(cases)('should refuse %s', (_label, event, argument) => {
      const error = refusal(event);
      expect(error.argument).toBe(argument);
      expect(error.message).toContain(argument);
      expect(error.message).toContain(error.expected);
      expect(error.message).toContain(error.received);
    });

    it('should say what was expected and what was given', () => {
      const error = refusal({ type: 'PREPARE_ATTEMPT', attemptNum: -1 });
      expect(error.expected).toMatch(/non-negative/);
      expect(error.received).toContain('-1');
    });

    it('should refuse a parsable time that is not ISO-8601, which the ledger would store verbatim', () => {
      expect(refusal({ type: 'START', at: 'January 2, 2025 03:04' }).argument).toBe('at');
      expect(
        refusal({ type: 'FAIL', error: 'boom', at: 'Thu, 02 Jan 2025 03:04:05 GMT' }).argument,
      ).toBe('at');
    });
  });
});
