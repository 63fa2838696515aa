import { createActor } from 'xstate';
import { taskMachine } from '../../src/machines/taskMachine.js';
import { createTask } from '../../src/task/createTask.js';

describe('taskMachine', () => {
  it('should start a task in pending with attempt 0', () => {
    const actor = createActor(taskMachine, {
      input: { task: createTask({ id: 't', role: 'generic' }) },
    }).start();
    expect(actor.getSnapshot().value).toBe('pending');
    expect(actor.getSnapshot().context.attemptNum).toBe(0);
  });

  it("should record START's workerId on the attempt's record, null without one or for a blocked record", () => {
    const input = { task: createTask({ id: 't', role: 'generic' }), maxAttempts: 3 };
    const at = '2025-01-02T03:04:05.000Z';
    const actor = createActor(taskMachine, { input }).start();
    actor.send({ type: 'START', workerId: 'worker-7', at });
    actor.send({ type: 'FAIL', error: 'tests failed', at });
    actor.send({ type: 'RETRY', at });
    actor.send({ type: 'PREPARE_ATTEMPT', attemptNum: 1, at });
    actor.send({ type: 'START', at });
    actor.send({ type: 'FAIL', error: 'worker lost', workerLost: true, at });
    actor.send({ type: 'RETRY', at });
    actor.send({ type: 'PREPARE_ATTEMPT', attemptNum: 2, at });
    actor.send({ type: 'FAIL', error: 'dependency failed', at });

    expect(
      actor.getSnapshot().context.attempts.map((r) => [r.attemptNum, r.outcome, r.workerId]),
    ).toEqual([
      [0, 'failed', 'worker-7'],
      [1, 'lost', null],
      [2, 'failed', null],
    ]);
  });

  it('should name every guard and action so toJSON shows the whole machine', () => {
    const json = JSON.stringify(taskMachine.toJSON());
    for (const guard of ['isAttemptAvailable', 'isCurrentAttemptUnused', 'isRetryAllowed']) {
      expect(json).toContain(`"guard":"${guard}"`);
    }
  });
});
