import { InvalidArgumentError } from '../errors.js';
import { describeValue, isNonEmptyString, isRecord } from '../validation.js';

/** The JSON form of a tmux address, as stored in the machine's context and in snapshots. */
export interface TmuxAddressJSON {
  readonly kind: 'tmux';
  readonly session: string;
  readonly paneId: string;
}

/** The JSON form of any {@link AgentAddress}, discriminated by `kind`. */
export type AgentAddressJSON = TmuxAddressJSON;

/** Where an agent can be reached (for example a tmux pane); kept as an audit trail after teardown. */
export abstract class AgentAddress {
  /** A short human-readable form, e.g. `agentrelay:%1`. */
  abstract get label(): string;

  /** The plain JSON form, discriminated by `kind`. */
  abstract toJSON(): AgentAddressJSON;

  /** Whether `other` is an address of the same kind with the same values. */
  equals(other: unknown): boolean {
    if (!(other instanceof AgentAddress)) return false;
    const mine = this.toJSON();
    const theirs = other.toJSON();
    return (Object.keys(mine) as (keyof AgentAddressJSON)[]).every(
      (key) => mine[key] === theirs[key],
    );
  }

  /** Rebuilds an address from its JSON form; throws {@link InvalidArgumentError} naming `argument` when malformed. */
  static fromJSON(json: unknown, argument = 'address'): AgentAddress {
    if (!isRecord(json) || json.kind !== 'tmux') {
      throw new InvalidArgumentError(
        argument,
        "an address object of kind 'tmux'",
        describeValue(json),
      );
    }
    return new TmuxAddress(json.session as string, json.paneId as string, argument);
  }
}

/** A tmux pane: `label` is `session:paneId`; frozen; equal when session and pane are equal. */
export class TmuxAddress extends AgentAddress {
  readonly session: string;
  readonly paneId: string;

  /** @param argument name used in errors; callers restoring a snapshot pass the field's path. */
  constructor(session: string, paneId: string, argument = 'address') {
    super();
    if (!isNonEmptyString(session)) {
      throw new InvalidArgumentError(
        `${argument}.session`,
        'a non-empty string',
        describeValue(session),
      );
    }
    if (!isNonEmptyString(paneId)) {
      throw new InvalidArgumentError(
        `${argument}.paneId`,
        'a non-empty string',
        describeValue(paneId),
      );
    }
    this.session = session;
    this.paneId = paneId;
    Object.freeze(this);
  }

  /** `session:paneId`, e.g. `agentrelay:%3`. */
  get label(): string {
    return `${this.session}:${this.paneId}`;
  }

  /** `{ kind: 'tmux', session, paneId }`. */
  toJSON(): TmuxAddressJSON {
    return { kind: 'tmux', session: this.session, paneId: this.paneId };
  }
}
