import { InvalidArgumentError, TaskRuntimeError } from '../../src/errors.js';
import { createTask, type Task, type TaskInput } from '../../src/task/createTask.js';
import { AgentFramework, AgentRole, AgentVerbosity } from '../../src/task/enums.js';
import { invalidArgument } from '../support/errors.js';

const minimal: TaskInput = { id: 't', role: AgentRole.GENERIC };

/** The agent config createTask fills in where none is given. */
const DEFAULT_AGENT = {
  framework: 'claude_code',
  model: null,
  adrVerbosity: 'none',
  environment: { session: 'agentrelay' },
} as const;

describe('createTask', () => {
  describe('defaults', () => {
    it('should fill in every default for a minimal input', () => {
      expect(createTask({ id: 'write-spec', role: AgentRole.SPEC_WRITER })).toEqual({
        id: 'write-spec',
        role: 'spec_writer',
        description: null,
        paths: { src: [], test: [], spec: null },
        dependencies: [],
        completionGate: null,
        maxGateAttempts: null,
        primaryAgent: DEFAULT_AGENT,
        review: null,
        workstreamId: 'default',
      });
    });

    it('should fill in only the missing fields of a partial paths object', () => {
      expect(createTask({ ...minimal, paths: { src: ['src/a.ts'] } }).paths).toEqual({
        src: ['src/a.ts'],
        test: [],
        spec: null,
      });
    });

    it('should default the agent fields that a partial agent config leaves out', () => {
      expect(createTask({ ...minimal, primaryAgent: { model: 'opus' } }).primaryAgent).toEqual({
        ...DEFAULT_AGENT,
        model: 'opus',
      });
    });

    it('should default reviewOnAttempt to 1 and the review agent to the default agent', () => {
      expect(createTask({ ...minimal, review: {} }).review).toEqual({
        agent: DEFAULT_AGENT,
        reviewOnAttempt: 1,
      });
    });

    it('should treat null for a nullable field as its default', () => {
      const task = createTask({
        ...minimal,
        description: null,
        completionGate: null,
        maxGateAttempts: null,
        review: null,
        paths: { spec: null },
      });
      expect(task.description).toBeNull();
      expect(task.completionGate).toBeNull();
      expect(task.maxGateAttempts).toBeNull();
      expect(task.review).toBeNull();
      expect(task.paths.spec).toBeNull();
    });

    it('should keep every given value', () => {
      const task = createTask({
        id: 'implement-login',
        role: AgentRole.IMPLEMENTER,
        description: 'Implement the login form',
        paths: { src: ['src/login.ts'], test: ['test/login.test.ts'], spec: 'spec/login.md' },
        dependencies: ['spec-login', 'tests-login'],
        completionGate: 'npm test',
        maxGateAttempts: 3,
        primaryAgent: {
          framework: AgentFramework.CLAUDE_CODE,
          model: 'sonnet',
          adrVerbosity: AgentVerbosity.DETAILED,
          environment: { session: 'work' },
        },
        review: { agent: { adrVerbosity: AgentVerbosity.EDUCATIONAL }, reviewOnAttempt: 2 },
        workstreamId: 'auth',
      });
      expect(task).toEqual({
        id: 'implement-login',
        role: 'implementer',
        description: 'Implement the login form',
        paths: { src: ['src/login.ts'], test: ['test/login.test.ts'], spec: 'spec/login.md' },
        dependencies: ['spec-login', 'tests-login'],
        completionGate: 'npm test',
        maxGateAttempts: 3,
        primaryAgent: {
          framework: 'claude_code',
          model: 'sonnet',
          adrVerbosity: 'detailed',
          environment: { session: 'work' },
        },
        review: { agent: { ...DEFAULT_AGENT, adrVerbosity: 'educational' }, reviewOnAttempt: 2 },
        workstreamId: 'auth',
      });
    });

    it('should accept every role', () => {
      for (const role of Object.values(AgentRole)) {
        expect(createTask({ id: 't', role }).role).toBe(role);
      }
    });

    it('should accept reviewOnAttempt 0', () => {
      expect(
        createTask({ ...minimal, review: { reviewOnAttempt: 0 } }).review?.reviewOnAttempt,
      ).toBe(0);
    });
  });

  describe('immutability', () => {
    const task = createTask({
      ...minimal,
      paths: { src: ['src/a.ts'], test: ['test/a.test.ts'] },
      dependencies: ['other'],
      review: {},
    });

    it('should deep-freeze the task', () => {
      expect(Object.isFrozen(task)).toBe(true);
      expect(Object.isFrozen(task.paths)).toBe(true);
      expect(Object.isFrozen(task.paths.src)).toBe(true);
      expect(Object.isFrozen(task.paths.test)).toBe(true);
      expect(Object.isFrozen(task.dependencies)).toBe(true);
      expect(Object.isFrozen(task.primaryAgent)).toBe(true);
      expect(Object.isFrozen(task.primaryAgent.environment)).toBe(true);
      expect(Object.isFrozen(task.review)).toBe(true);
      expect(Object.isFrozen(task.review?.agent)).toBe(true);
      expect(Object.isFrozen(task.review?.agent.environment)).toBe(true);
    });

    it('should throw on assignment to a top-level field and keep the value', () => {
      expect(() => {
        // @ts-expect-error id is readonly
        task.id = 'other';
      }).toThrow(TypeError);
      expect(task.id).toBe('t');
    });

    it('should throw on mutation of a nested array and keep its contents', () => {
      // @ts-expect-error dependencies is a readonly array
      expect(() => task.dependencies.push('more')).toThrow(TypeError);
      // @ts-expect-error paths.src is a readonly array
      expect(() => task.paths.src.push('src/b.ts')).toThrow(TypeError);
      expect(() => {
        // @ts-expect-error paths.test is a readonly array
        task.paths.test[0] = 'test/b.test.ts';
      }).toThrow(TypeError);
      expect(task.dependencies).toEqual(['other']);
      expect(task.paths.src).toEqual(['src/a.ts']);
      expect(task.paths.test).toEqual(['test/a.test.ts']);
    });

    it('should throw on mutation of a nested object and keep its value', () => {
      expect(() => {
        // @ts-expect-error environment.session is readonly
        task.primaryAgent.environment.session = 'hijacked';
      }).toThrow(TypeError);
      expect(() => {
        // @ts-expect-error paths.spec is readonly
        task.paths.spec = 'spec.md';
      }).toThrow(TypeError);
      expect(task.primaryAgent.environment.session).toBe('agentrelay');
      expect(task.paths.spec).toBeNull();
    });

    it('should not be affected by later changes to the input', () => {
      const dependencies = ['a'];
      const src = ['src/a.ts'];
      const input = { id: 't', role: AgentRole.GENERIC, dependencies, paths: { src } };
      const built = createTask(input);
      dependencies.push('b');
      src.push('src/b.ts');
      expect(built.dependencies).toEqual(['a']);
      expect(built.paths.src).toEqual(['src/a.ts']);
    });

    it('should not freeze the caller input', () => {
      const input = { id: 't', role: AgentRole.GENERIC, dependencies: ['a'] };
      createTask(input);
      expect(Object.isFrozen(input)).toBe(false);
      expect(Object.isFrozen(input.dependencies)).toBe(false);
    });

    it('should return the very same object when given a task it created', () => {
      const created = createTask({ ...minimal, dependencies: ['a'] });
      expect(createTask(created)).toBe(created);
    });

    it('should rebuild an equal task from a plain copy of a task', () => {
      const created: Task = createTask({ ...minimal, dependencies: ['a'], review: {} });
      const copy = createTask(JSON.parse(JSON.stringify(created)) as TaskInput);
      expect(copy).not.toBe(created);
      expect(copy).toEqual(created);
      expect(Object.isFrozen(copy.dependencies)).toBe(true);
    });
  });

  describe('validation', () => {
    const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ['null input', null, 'task', /null/],
      ['a string input', 'task-1', 'task', /string/],
      ['an array input', [], 'task', /array/],
      ['a number input', 42, 'task', /number/],
      ['a missing id', { role: 'generic' }, 'task.id', /undefined/],
      ['an empty id', { id: '', role: 'generic' }, 'task.id', /empty string/],
      ['a non-string id', { id: 7, role: 'generic' }, 'task.id', /number \(7\)/],
      ['a missing role', { id: 't' }, 'task.role', /undefined/],
      ['an unknown role', { id: 't', role: 'wizard' }, 'task.role', /wizard/],
      ['a role in the wrong case', { id: 't', role: 'GENERIC' }, 'task.role', /GENERIC/],
      ['an unknown top-level key', { ...minimal, descripton: 'x' }, 'task.descripton', /string/],
      [
        'an unknown key whose value is undefined',
        { ...minimal, dependecies: undefined },
        'task.dependecies',
        /undefined/,
      ],
      ['an empty description', { ...minimal, description: '' }, 'task.description', /empty/],
      ['a non-string description', { ...minimal, description: 3 }, 'task.description', /number/],
      ['paths that are not an object', { ...minimal, paths: 'src' }, 'task.paths', /string/],
      ['an unknown paths key', { ...minimal, paths: { srcs: [] } }, 'task.paths.srcs', /array/],
      [
        'paths.src not an array',
        { ...minimal, paths: { src: 'a.ts' } },
        'task.paths.src',
        /string/,
      ],
      [
        'an empty path in paths.src',
        { ...minimal, paths: { src: ['a.ts', ''] } },
        'task.paths.src[1]',
        /empty/,
      ],
      [
        'a non-string path in paths.test',
        { ...minimal, paths: { test: [3] } },
        'task.paths.test[0]',
        /number/,
      ],
      ['an empty paths.spec', { ...minimal, paths: { spec: '' } }, 'task.paths.spec', /empty/],
      [
        'dependencies that are not an array',
        { ...minimal, dependencies: 'a' },
        'task.dependencies',
        /string/,
      ],
      [
        'an empty dependency',
        { ...minimal, dependencies: ['a', ''] },
        'task.dependencies[1]',
        /empty/,
      ],
      [
        'a self-dependency',
        { ...minimal, dependencies: ['a', 't'] },
        'task.dependencies[1]',
        /"t"/,
      ],
      [
        'a duplicate dependency',
        { ...minimal, dependencies: ['a', 'b', 'a'] },
        'task.dependencies[2]',
        /"a"/,
      ],
      [
        'an empty completionGate',
        { ...minimal, completionGate: '' },
        'task.completionGate',
        /empty/,
      ],
      ['maxGateAttempts 0', { ...minimal, maxGateAttempts: 0 }, 'task.maxGateAttempts', /0/],
      [
        'negative maxGateAttempts',
        { ...minimal, maxGateAttempts: -2 },
        'task.maxGateAttempts',
        /-2/,
      ],
      [
        'fractional maxGateAttempts',
        { ...minimal, maxGateAttempts: 1.5 },
        'task.maxGateAttempts',
        /1\.5/,
      ],
      [
        'NaN maxGateAttempts',
        { ...minimal, maxGateAttempts: Number.NaN },
        'task.maxGateAttempts',
        /NaN/,
      ],
      [
        'infinite maxGateAttempts',
        { ...minimal, maxGateAttempts: Number.POSITIVE_INFINITY },
        'task.maxGateAttempts',
        /Infinity/,
      ],
      [
        'string maxGateAttempts',
        { ...minimal, maxGateAttempts: '3' },
        'task.maxGateAttempts',
        /string/,
      ],
      [
        'a non-object primaryAgent',
        { ...minimal, primaryAgent: 'claude' },
        'task.primaryAgent',
        /string/,
      ],
      [
        'an unknown primaryAgent key',
        { ...minimal, primaryAgent: { modle: 'opus' } },
        'task.primaryAgent.modle',
        /opus/,
      ],
      [
        'an unknown framework',
        { ...minimal, primaryAgent: { framework: 'cursor' } },
        'task.primaryAgent.framework',
        /cursor/,
      ],
      [
        'an unknown adrVerbosity',
        { ...minimal, primaryAgent: { adrVerbosity: 'loud' } },
        'task.primaryAgent.adrVerbosity',
        /loud/,
      ],
      [
        'an empty model',
        { ...minimal, primaryAgent: { model: '' } },
        'task.primaryAgent.model',
        /empty/,
      ],
      [
        'a non-object environment',
        { ...minimal, primaryAgent: { environment: 'tmux' } },
        'task.primaryAgent.environment',
        /string/,
      ],
      [
        'an environment without a session',
        { ...minimal, primaryAgent: { environment: {} } },
        'task.primaryAgent.environment.session',
        /undefined/,
      ],
      [
        'an unknown environment key',
        { ...minimal, primaryAgent: { environment: { session: 's', sesion: 's' } } },
        'task.primaryAgent.environment.sesion',
        /string/,
      ],
      ['a non-object review', { ...minimal, review: 'yes' }, 'task.review', /string/],
      [
        'an unknown review key',
        { ...minimal, review: { reviewOnAtempt: 2 } },
        'task.review.reviewOnAtempt',
        /number/,
      ],
      [
        'a bad review agent',
        { ...minimal, review: { agent: { framework: 'cursor' } } },
        'task.review.agent.framework',
        /cursor/,
      ],
      [
        'a negative reviewOnAttempt',
        { ...minimal, review: { reviewOnAttempt: -1 } },
        'task.review.reviewOnAttempt',
        /-1/,
      ],
      [
        'a fractional reviewOnAttempt',
        { ...minimal, review: { reviewOnAttempt: 0.5 } },
        'task.review.reviewOnAttempt',
        /0\.5/,
      ],
      ['an empty workstreamId', { ...minimal, workstreamId: '' }, 'task.workstreamId', /empty/],
      ['a null workstreamId', { ...minimal, workstreamId: null }, 'task.workstreamId', /null/],
    ];

    it.each(cases)('should refuse %s', (_label, input, argument, given) => {
      const error = invalidArgument(() => createTask(input as never));
      expect(error).toBeInstanceOf(TaskRuntimeError);
      expect(error.argument).toBe(argument);
      expect(error.received).toMatch(given);
      expect(error.expected.length).toBeGreaterThan(0);
      expect(error.message).toContain(argument);
      expect(error.message).toContain(error.expected);
      expect(error.message).toContain(error.received);
    });

    it('should say in the message that the value was expected to be a non-empty string', () => {
      const error = invalidArgument(() => createTask({ id: '', role: AgentRole.GENERIC }));
      expect(error.message).toMatch(/expected a non-empty string/);
      expect(error.message).toMatch(/an empty string/);
    });

    it('should list the known keys when refusing an unknown key', () => {
      const error = invalidArgument(() => createTask({ ...minimal, descripton: 'x' } as never));
      expect(error.message).toContain('description');
    });

    it('should list the roles when refusing an unknown role', () => {
      const error = invalidArgument(() => createTask({ id: 't', role: 'wizard' as never }));
      for (const role of Object.values(AgentRole)) expect(error.message).toContain(role);
    });
  });

  describe('types', () => {
    it('should not compile calls with wrong input types', () => {
      // @ts-expect-error 'wizard' is not an AgentRole
      expect(() => createTask({ id: 't', role: 'wizard' })).toThrow(InvalidArgumentError);
      // @ts-expect-error id is required
      expect(() => createTask({ role: 'generic' })).toThrow(InvalidArgumentError);
      // @ts-expect-error unknown key (typo of description)
      expect(() => createTask({ id: 't', role: 'generic', descripton: 'x' })).toThrow(
        InvalidArgumentError,
      );
      // @ts-expect-error dependencies is an array
      expect(() => createTask({ id: 't', role: 'generic', dependencies: 'a' })).toThrow(
        InvalidArgumentError,
      );
      // @ts-expect-error maxGateAttempts is a number
      expect(() => createTask({ id: 't', role: 'generic', maxGateAttempts: '3' })).toThrow(
        InvalidArgumentError,
      );
    });
  });
});
