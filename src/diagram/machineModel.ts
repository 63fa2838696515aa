import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

const PLAIN_STATE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An arrow of a state diagram: a transition that changes state, or a guarded one drawn as a self-loop. */
export interface MachineArrow {
  readonly to: string;
  /** `EVENT [guardName]`. */
  readonly label: string;
}

/** A state of a flat machine, with what its diagram shows of it. */
export interface MachineState {
  readonly key: string;
  readonly final: boolean;
  /** Its arrows, in declaration order (`on`, `after`, then `always`). */
  readonly arrows: readonly MachineArrow[];
  /** Unguarded transitions that stay in the state and only assign context: `EVENT / action, action`. */
  readonly internal: readonly string[];
}

/** What a state diagram of a flat machine shows, read off the machine's own definition. */
export interface MachineModel {
  readonly initial: string | undefined;
  readonly states: readonly MachineState[];
  /** Root-level transitions, accepted in every state: `EVENT / action` and `, goes to x` when they have a target. */
  readonly everywhere: readonly string[];
}

/** The name of a guard or action as the machine declares it: a string, `{ type }`, or a named function. */
function nameOf(reference: unknown): string {
  if (typeof reference === 'string') return reference;
  if (typeof reference === 'function') return reference.name || 'anonymous';
  if (typeof reference === 'object' && reference !== null && 'type' in reference) {
    return String(reference.type);
  }
  return String(reference);
}

/** `START`, `always`, or `after 1000` for XState's delayed-transition events. */
function eventLabel(eventType: string): string {
  if (eventType === '') return 'always';
  const delayed = /^xstate\.after\.([^.]+)\./.exec(eventType);
  return delayed?.[1] === undefined ? eventType : `after ${delayed[1]}`;
}

/** `EVENT [guardName]`, the label of an arrow. */
function arrowLabel(transition: AnyTransitionDefinition): string {
  const event = eventLabel(String(transition.eventType ?? ''));
  return transition.guard === undefined ? event : `${event} [${nameOf(transition.guard)}]`;
}

/** `EVENT / action, action` (UML's internal transition), for transitions that never leave the state. */
function internalLabel(transition: AnyTransitionDefinition): string {
  const actions = transition.actions.map(nameOf);
  const event = arrowLabel(transition);
  return actions.length === 0 ? event : `${event} / ${actions.join(', ')}`;
}

/** Every transition of a state node in declaration order: `on`, `after`, then `always`. */
function transitionsOf(node: AnyStateNode): AnyTransitionDefinition[] {
  return [...node.transitions.values()].flat().concat(node.always ?? []);
}

function checkFlat(machine: AnyStateMachine, caller: string): void {
  for (const [key, node] of Object.entries<AnyStateNode>(machine.root.states)) {
    if (!PLAIN_STATE_KEY.test(key)) {
      throw new Error(`${caller}: state key '${key}' is not a plain identifier`);
    }
    if (Object.keys(node.states).length > 0 || node.type === 'history') {
      throw new Error(
        `${caller} draws flat machines only; state '${key}' is ${node.type}. Extend the generator before nesting states.`,
      );
    }
  }
}

function stateOf(key: string, node: AnyStateNode): MachineState {
  const arrows: MachineArrow[] = [];
  const internal: string[] = [];
  for (const transition of transitionsOf(node)) {
    const targets = transition.target ?? [];
    if (targets.length === 0 && transition.guard === undefined) {
      internal.push(internalLabel(transition));
      continue;
    }
    const label = arrowLabel(transition);
    const keys = targets.length === 0 ? [key] : targets.map((target) => target.key);
    for (const to of keys) arrows.push({ to, label });
  }
  return { key, final: node.type === 'final', arrows, internal };
}

/**
 * The states, arrows, internal and root-level transitions of a flat machine, in declaration order; the one
 * reading of the machine that the Mermaid and the Graphviz diagrams share.
 * @param caller named in the error thrown for a machine with nested, parallel or history states
 */
export function machineModel(machine: AnyStateMachine, caller: string): MachineModel {
  checkFlat(machine, caller);
  const { root } = machine;
  const everywhere = transitionsOf(root).map((transition) => {
    const targets = (transition.target ?? []).map((target) => target.key);
    const goesTo = targets.length === 0 ? '' : `, goes to ${targets.join(', ')}`;
    return `${internalLabel(transition)}${goesTo}`;
  });
  return {
    initial: root.initial.target[0]?.key,
    states: Object.entries<AnyStateNode>(root.states).map(([key, node]) => stateOf(key, node)),
    everywhere,
  };
}
