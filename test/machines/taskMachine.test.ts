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

  it('should name every guard and action so toJSON shows the whole machine', () => {
    const json = JSON.stringify(taskMachine.toJSON());
    for (const guard of ['isAttemptAvailable', 'isCurrentAttemptUnused', 'isRetryAllowed']) {
      expect(json).toContain(`"guard":"${guard}"`);
    }
  });
});
