import { AgentAddress, TmuxAddress } from '../../src/agent/AgentAddress.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { invalidArgument } from '../support/errors.js';

describe('TmuxAddress', () => {
  describe('label', () => {
    it('should be session:paneId', () => {
      expect(new TmuxAddress('agentrelay', '%3').label).toBe('agentrelay:%3');
      expect(new TmuxAddress('work', '%12').label).toBe('work:%12');
    });

    it('should expose session and paneId', () => {
      const address = new TmuxAddress('agentrelay', '%3');
      expect(address.session).toBe('agentrelay');
      expect(address.paneId).toBe('%3');
    });
  });

  describe('equals', () => {
    const address = new TmuxAddress('agentrelay', '%1');

    it('should be true for another address with the same values', () => {
      expect(address.equals(new TmuxAddress('agentrelay', '%1'))).toBe(true);
      expect(new TmuxAddress('agentrelay', '%1').equals(address)).toBe(true);
    });

    it('should be true for the address itself', () => {
      expect(address.equals(address)).toBe(true);
    });

    it('should be false for a different session or pane, in both directions', () => {
      const otherSession = new TmuxAddress('other', '%1');
      const otherPane = new TmuxAddress('agentrelay', '%2');
      expect(address.equals(otherSession)).toBe(false);
      expect(otherSession.equals(address)).toBe(false);
      expect(address.equals(otherPane)).toBe(false);
      expect(otherPane.equals(address)).toBe(false);
    });

    it('should be false for values that are not addresses', () => {
      for (const other of [
        null,
        undefined,
        'agentrelay:%1',
        42,
        { kind: 'tmux', session: 'agentrelay', paneId: '%1' },
        { label: 'agentrelay:%1' },
      ]) {
        expect(address.equals(other)).toBe(false);
      }
    });

    it('should not be fooled by a label collision', () => {
      const a = new TmuxAddress('a:b', 'c');
      const b = new TmuxAddress('a', 'b:c');
      expect(a.label).toBe(b.label);
      expect(a.equals(b)).toBe(false);
    });
  });

  describe('immutability', () => {
    const address = new TmuxAddress('agentrelay', '%1');

    it('should be frozen', () => {
      expect(Object.isFrozen(address)).toBe(true);
    });

    it('should throw on assignment and keep its values', () => {
      expect(() => {
        // @ts-expect-error session is readonly
        address.session = 'other';
      }).toThrow(TypeError);
      expect(() => {
        // @ts-expect-error paneId is readonly
        address.paneId = '%9';
      }).toThrow(TypeError);
      expect(address.session).toBe('agentrelay');
      expect(address.paneId).toBe('%1');
      expect(address.label).toBe('agentrelay:%1');
    });

    it('should throw when a property is added', () => {
      expect(() => {
        (address as unknown as Record<string, unknown>).extra = 1;
      }).toThrow(TypeError);
      expect('extra' in address).toBe(false);
    });

    it('should not be changed through its JSON form', () => {
      const json = address.toJSON() as { session: string };
      json.session = 'changed';
      expect(address.session).toBe('agentrelay');
      expect(address.toJSON().session).toBe('agentrelay');
    });
  });

  describe('class hierarchy', () => {
    it('should be an AgentAddress and a TmuxAddress', () => {
      const address: AgentAddress = new TmuxAddress('s', '%0');
      expect(address).toBeInstanceOf(AgentAddress);
      expect(address).toBeInstanceOf(TmuxAddress);
    });
  });

  describe('JSON', () => {
    const address = new TmuxAddress('agentrelay', '%7');

    it('should give its kind, session and paneId', () => {
      expect(address.toJSON()).toEqual({ kind: 'tmux', session: 'agentrelay', paneId: '%7' });
      expect(JSON.parse(JSON.stringify(address))).toEqual({
        kind: 'tmux',
        session: 'agentrelay',
        paneId: '%7',
      });
    });

    it('should round-trip through JSON.stringify and fromJSON', () => {
      const restored = AgentAddress.fromJSON(JSON.parse(JSON.stringify(address)));
      expect(restored).toBeInstanceOf(TmuxAddress);
      expect(restored).not.toBe(address);
      expect(restored.equals(address)).toBe(true);
      expect(restored.label).toBe('agentrelay:%7');
      expect(Object.isFrozen(restored)).toBe(true);
    });

    it.each([
      ['null', null, 'address'],
      ['a string', 'agentrelay:%7', 'address'],
      ['an object without kind', { session: 's', paneId: '%1' }, 'address'],
      ['an unknown kind', { kind: 'ssh', session: 's', paneId: '%1' }, 'address'],
      ['an empty session', { kind: 'tmux', session: '', paneId: '%1' }, 'address.session'],
      ['a missing paneId', { kind: 'tmux', session: 's' }, 'address.paneId'],
      ['a non-string paneId', { kind: 'tmux', session: 's', paneId: 1 }, 'address.paneId'],
    ])('should refuse %s in fromJSON', (_label, json, argument) => {
      expect(invalidArgument(() => AgentAddress.fromJSON(json)).argument).toBe(argument);
    });

    it('should name the given argument in fromJSON errors', () => {
      expect(
        invalidArgument(() => AgentAddress.fromJSON(null, 'context.agentAddress')).argument,
      ).toBe('context.agentAddress');
      expect(
        invalidArgument(() =>
          AgentAddress.fromJSON({ kind: 'tmux', session: 's', paneId: '' }, 'context.agentAddress'),
        ).argument,
      ).toBe('context.agentAddress.paneId');
    });
  });

  describe('validation', () => {
    it.each([
      ['an empty session', '', '%1', 'address.session', /empty string/],
      ['a non-string session', 5, '%1', 'address.session', /number \(5\)/],
      ['an undefined session', undefined, '%1', 'address.session', /undefined/],
      ['an empty paneId', 's', '', 'address.paneId', /empty string/],
      ['a null paneId', 's', null, 'address.paneId', /null/],
    ])('should refuse %s', (_label, session, paneId, argument, given) => {
      const error = invalidArgument(() => new TmuxAddress(session as never, paneId as never));
      expect(error.argument).toBe(argument);
      expect(error.expected).toBe('a non-empty string');
      expect(error.received).toMatch(given);
      expect(error.message).toContain(argument);
      expect(error.message).toContain('a non-empty string');
      expect(error.message).toMatch(given);
    });

    it('should not compile with non-string arguments', () => {
      // @ts-expect-error session must be a string
      expect(() => new TmuxAddress(5, '%1')).toThrow(InvalidArgumentError);
      // @ts-expect-error paneId is required
      expect(() => new TmuxAddress('s')).toThrow(InvalidArgumentError);
    });
  });
});
