import { createMachine, setup } from 'xstate';
import { machineToMermaid } from '../../src/diagram/mermaid.js';
import { taskMachine } from '../../src/machines/taskMachine.js';

/** The part of `machine.toJSON()` these tests read, after a JSON round trip (targets become `#id` strings). */
interface TransitionJson {
  readonly eventType: string;
  readonly target?: readonly string[];
  readonly guard?: string;
  readonly actions: readonly string[];
}
interface StateJson {
  readonly key: string;
  readonly transitions: readonly TransitionJson[];
  readonly states: Readonly<Record<string, StateJson>>;
}

const definition = JSON.parse(JSON.stringify(taskMachine.toJSON())) as StateJson;
const states = Object.values(definition.states);
const keyOf = (id: string): string => id.slice(id.lastIndexOf('.') + 1);
const lines = machineToMermaid().split('\n');

describe('machineToMermaid', () => {
  it('should write a stateDiagram-v2 that starts in pending and ends with a newline', () => {
    const text = machineToMermaid();
    expect(lines[0]).toBe('stateDiagram-v2');
    expect(lines[1]).toBe('  [*] --> pending');
    expect(text.endsWith('end note\n')).toBe(true);
  });

  it('should draw exactly the transitions of taskMachine that change state or have a guard, labelled EVENT [guard]', () => {
    const expected = states.flatMap((state) =>
      state.transitions
        .filter((t) => (t.target ?? []).length > 0 || t.guard !== undefined)
        .map((t) => {
          const to = t.target?.[0] === undefined ? state.key : keyOf(t.target[0]);
          const guard = t.guard === undefined ? '' : ` [${t.guard}]`;
          return `  ${state.key} --> ${to}: ${t.eventType}${guard}`;
        }),
    );
    expect(expected).toHaveLength(11);
    expect(
      lines.filter((line) => / --> (?!\[\*\])/.test(line) && !line.includes('[*] -->')),
    ).toEqual(expected);
  });

  it('should show the self-transitions of pending as self-loops', () => {
    expect(lines).toContain('  pending --> pending: PREPARE_ATTEMPT [isAttemptAvailable]');
    expect(lines).toContain('  pending --> pending: MARK_PENDING');
  });

  it('should list the context-only transitions of pending and running inside their state as EVENT / action', () => {
    const expected = states.flatMap((state) =>
      state.transitions
        .filter((t) => (t.target ?? []).length === 0 && t.guard === undefined)
        .map((t) => `  ${state.key} : ${t.eventType} / ${t.actions.join(', ')}`),
    );
    expect(expected).toEqual([
      '  pending : ASSIGN_WORKTREE / assignWorktree',
      '  pending : ASSIGN_WORKSTREAM / assignWorkstream',
      '  pending : RECORD_AGENT_ADDRESS / recordAgentAddress',
      '  running : ASSIGN_WORKTREE / assignWorktree',
      '  running : ASSIGN_WORKSTREAM / assignWorkstream',
      '  running : RECORD_AGENT_ADDRESS / recordAgentAddress',
    ]);
    expect(lines.filter((line) => / : /.test(line))).toEqual(expected);
  });

  it('should put the root-level ADD_CONCERN, legal in every state, in a note', () => {
    const start = lines.indexOf('  note right of pending');
    expect(start).toBeGreaterThan(0);
    expect(lines.slice(start + 1, lines.indexOf('  end note'))).toEqual([
      '    Accepted in every state (root-level transitions)',
      '    ADD_CONCERN / addConcern',
    ]);
  });

  it('should mention every event type the machine accepts', () => {
    const text = machineToMermaid();
    expect(taskMachine.events).toHaveLength(12);
    for (const event of taskMachine.events) expect(text).toContain(event);
  });

  it('should write exactly this for a small machine with every kind of transition', () => {
    const door = setup({
      guards: { canOpen: () => true, isHome: () => true },
      actions: { log: () => undefined, save: () => undefined },
    }).createMachine({
      id: 'door',
      initial: 'closed',
      on: { PING: { actions: 'log' }, RESET: { target: '.closed' } },
      states: {
        closed: {
          on: {
            OPEN: { target: 'opened', guard: 'canOpen' },
            KNOCK: { guard: 'isHome', actions: 'log' },
            NOTE: { actions: ['log', 'save'] },
            SLAM: { target: 'closed' },
          },
        },
        opened: { on: { BREAK: 'broken' }, after: { 1000: 'closed' } },
        broken: { type: 'final' },
      },
    });
    expect(machineToMermaid(door)).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> closed',
        '  closed --> opened: OPEN [canOpen]',
        '  closed --> closed: KNOCK [isHome]',
        '  closed --> closed: SLAM',
        '  opened --> broken: BREAK',
        '  opened --> closed: after 1000',
        '  broken --> [*]',
        '  %% Transitions that stay in their state and only assign context (EVENT / action)',
        '  closed : NOTE / log, save',
        '  note right of closed',
        '    Accepted in every state (root-level transitions)',
        '    PING / log',
        '    RESET, goes to closed',
        '  end note',
        '',
      ].join('\n'),
    );
  });

  it('should refuse a machine with nested states instead of drawing it wrong', () => {
    const nested = createMachine({
      id: 'nested',
      initial: 'outer',
      states: { outer: { initial: 'inner', states: { inner: {} } } },
    });
    expect(() => machineToMermaid(nested)).toThrow(/flat machines only; state 'outer' is compound/);
  });
});
