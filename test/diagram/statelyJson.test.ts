import { createMachine } from 'xstate';
import { machineToStatelyJSON } from '../../src/diagram/statelyJson.js';
import { taskMachine } from '../../src/machines/taskMachine.js';

const json = machineToStatelyJSON();

describe('machineToStatelyJSON', () => {
  it('should be plain JSON that survives a round trip unchanged', () => {
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('should be the machine config with guards and actions by name, without the context factory', () => {
    expect(json).toMatchObject({
      id: 'task',
      initial: 'pending',
      on: { ADD_CONCERN: { actions: 'addConcern' } },
      states: {
        pending: {
          on: {
            START: { target: 'running', guard: 'isCurrentAttemptUnused', actions: 'openAttempt' },
          },
        },
        failed: {
          on: { RETRY: { target: 'pending', guard: 'isRetryAllowed', actions: 'archiveError' } },
        },
      },
    });
    expect(Object.keys(json as object)).toEqual(['id', 'initial', 'on', 'states']);
    expect(typeof taskMachine.config.context).toBe('function');
  });

  it('should describe the same machine: one created from it has the same definition as taskMachine', () => {
    const copy = createMachine(json as unknown as Parameters<typeof createMachine>[0]);
    expect(JSON.stringify(copy.toJSON())).toBe(JSON.stringify(taskMachine.toJSON()));
  });

  it('should not be XState’s resolved toJSON() tree', () => {
    expect(JSON.stringify(json)).not.toContain('#task.');
    expect(JSON.stringify(taskMachine.toJSON())).toContain('#task.');
  });
});
