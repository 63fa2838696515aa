import fc from 'fast-check';
import { fileNameForTaskId, taskIdForFileName } from '../../src/store/taskIdFileName.js';

const SAFE_NAME = /^[a-z0-9_~-]+$/;
const HASHED_NAME = /^~h[0-9a-f]{64}$/;

/** Well-formed, non-empty task ids of every kind: graphemes, any code point, ASCII, long enough to be hashed. */
const taskIds: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme-composite', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 80 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 250, size: 'max' }),
  fc.string({
    unit: fc.constantFrom('.', '/', '\\', '~', 'A', 'a', '\0', '%', ' '),
    minLength: 1,
    maxLength: 30,
  }),
  // around the 200-character limit past which names are hashed
  fc.string({ unit: 'binary', minLength: 15, maxLength: 80, size: 'max' }),
  fc.string({ unit: fc.constantFrom('a', 'z', '0', '-', '_'), minLength: 195, maxLength: 205 }),
);

describe('fileNameForTaskId', () => {
  it.each([
    ['abc', 'abc'],
    ['a-b_c9', 'a-b_c9'],
    ['A', '~41'],
    ['Task', '~54ask'],
    ['.', '~2e'],
    ['..', '~2e~2e'],
    ['../x', '~2e~2e~2fx'],
    ['a\\b', 'a~5cb'],
    ['\0', '~00'],
    [' ', '~20'],
    ['~', '~7e'],
    ['é', '~c3~a9'],
    ['🚀', '~f0~9f~9a~80'],
  ])('should encode %j as %j', (taskId, name) => {
    expect(fileNameForTaskId(taskId)).toBe(name);
  });

  it('should keep names of up to 200 characters readable and hash longer ones', () => {
    expect(fileNameForTaskId('a'.repeat(200))).toBe('a'.repeat(200));
    expect(fileNameForTaskId('a'.repeat(201))).toMatch(HASHED_NAME);
  });

  it('should hash an id whose encoding just passes 200 characters', () => {
    expect(fileNameForTaskId('.'.repeat(66))).toBe('~2e'.repeat(66));
    expect(fileNameForTaskId('.'.repeat(67))).toMatch(HASHED_NAME);
  });

  it('should give ids that differ only in case different names', () => {
    const names = ['task', 'Task', 'TASK', 'tAsK'].map(fileNameForTaskId);
    expect(new Set(names).size).toBe(4);
    expect(new Set(names.map((name) => name.toLowerCase())).size).toBe(4);
    const long = ['x', 'X'].map((c) => fileNameForTaskId(c.repeat(300)));
    expect(new Set(long.map((name) => name.toLowerCase())).size).toBe(2);
  });

  it('should not give an id that looks like a hashed name the name of a hashed id', () => {
    const hashed = fileNameForTaskId('z'.repeat(300));
    expect(fileNameForTaskId(hashed)).not.toBe(hashed);
    expect(taskIdForFileName(fileNameForTaskId(hashed))).toBe(hashed);
  });

  it('should give safe, short, distinct names that decode back, for any well-formed id (property)', () => {
    fc.assert(
      fc.property(taskIds, (taskId) => {
        const name = fileNameForTaskId(taskId);
        expect(name).toMatch(SAFE_NAME);
        expect(Buffer.byteLength(name, 'utf8')).toBeLessThanOrEqual(255);
        expect(name).not.toBe('.');
        expect(name).not.toBe('..');
        const decoded = taskIdForFileName(name);
        if (decoded === null) expect(name).toMatch(HASHED_NAME);
        else expect(decoded).toBe(taskId);
      }),
      { numRuns: 2000 },
    );
  });

  it('should give two distinct ids two distinct names, also case-insensitively (property)', () => {
    fc.assert(
      fc.property(taskIds, taskIds, (a, b) => {
        fc.pre(a !== b);
        expect(fileNameForTaskId(a).toLowerCase()).not.toBe(fileNameForTaskId(b).toLowerCase());
      }),
      { numRuns: 2000 },
    );
  });

  it('should give the ids of a set as many distinct names, also case-insensitively (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(taskIds, { minLength: 2, maxLength: 50 }), (ids) => {
        const names = ids.map(fileNameForTaskId);
        expect(new Set(names.map((name) => name.toLowerCase())).size).toBe(ids.length);
      }),
      { numRuns: 300 },
    );
  });

  it('should give case variants of the same id distinct names (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }), (taskId) => {
        const variants = [...new Set([taskId, taskId.toUpperCase(), taskId.toLowerCase()])];
        const names = variants.map((id) => fileNameForTaskId(id).toLowerCase());
        expect(new Set(names).size).toBe(variants.length);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('taskIdForFileName', () => {
  it.each([
    ['abc', 'abc'],
    ['~41', 'A'],
    ['~2e~2e~2fx', '../x'],
    ['~00', '\0'],
    ['~c3~a9', 'é'],
  ])('should decode %j as %j', (name, taskId) => {
    expect(taskIdForFileName(name)).toBe(taskId);
  });

  it.each([
    ['an empty name', ''],
    ['a hashed name', `~h${'a'.repeat(64)}`],
    ['uppercase letters', 'ABC'],
    ['a dot', '.'],
    ['dot-dot', '..'],
    ['an extension', 'task.json'],
    ['a truncated escape', '~4'],
    ['a non-hex escape', '~zz'],
    ['an uppercase escape', '~C3~A9'],
    ['an escape of a kept character', '~61'],
    ['invalid UTF-8', '~ff'],
    ['a cut UTF-8 sequence', '~c3'],
    ['an encoded lone surrogate', '~ed~a0~80'],
    ['an overlong encoding', '~c0~ae'],
  ])('should return null for %s', (_label, name) => {
    expect(taskIdForFileName(name)).toBeNull();
  });

  it('should return null or an id that encodes back to the same name, for any safe name (property)', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('a', 'z', '0', '_', '-', '~', 'h', '2', 'e', 'f', 'c', '3'),
          minLength: 1,
          maxLength: 30,
        }),
        (name) => {
          const taskId = taskIdForFileName(name);
          if (taskId !== null) expect(fileNameForTaskId(taskId)).toBe(name);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
