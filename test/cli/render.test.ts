import { colorEnabled } from '../../src/cli/render.js';

const terminal = { isTTY: true };
const pipe = { isTTY: false };

describe('colorEnabled', () => {
  it('should colour a terminal and never a pipe or a file when nothing is set', () => {
    expect(colorEnabled({}, terminal)).toBe(true);
    expect(colorEnabled({}, pipe)).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
    expect(colorEnabled({ CI: 'true' }, pipe)).toBe(false);
  });

  it('should not colour a dumb terminal', () => {
    expect(colorEnabled({ TERM: 'dumb' }, terminal)).toBe(false);
  });

  it('should turn colour off for a non-empty NO_COLOR, whatever its value, and ignore an empty one', () => {
    expect(colorEnabled({ NO_COLOR: '1' }, terminal)).toBe(false);
    expect(colorEnabled({ NO_COLOR: 'false' }, terminal)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '' }, terminal)).toBe(true);
  });

  it('should force colour on a pipe with FORCE_COLOR, even over NO_COLOR, unless it is 0 or false', () => {
    expect(colorEnabled({ FORCE_COLOR: '1' }, pipe)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '3' }, pipe)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '' }, pipe)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1', NO_COLOR: '1' }, pipe)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, terminal)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: 'FALSE' }, terminal)).toBe(false);
  });
});
