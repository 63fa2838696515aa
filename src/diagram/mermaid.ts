import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { taskMachine } from '../machines/taskMachine.js';

const INDENT = '  ';
const MERMAID_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

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

function checkFlat(machine: AnyStateMachine): void {
  for (const [key, node] of Object.entries<AnyStateNode>(machine.root.states)) {
    if (!MERMAID_ID.test(key)) {
      throw new Error(`machineToMermaid: state key '${key}' is not a plain Mermaid state id`);
    }
    if (Object.keys(node.states).length > 0 || node.type === 'history') {
      throw new Error(
        `machineToMermaid draws flat machines only; state '${key}' is ${node.type}. Extend the generator before nesting states.`,
      );
    }
  }
}

/**
 * Mermaid `stateDiagram-v2` text generated from an XState machine's own definition, so it cannot drift from it.
 *
 * Arrows are labelled `EVENT [guardName]`; a guarded transition without a target is drawn as a self-loop.
 * Unguarded transitions without a target (they only assign context) are listed inside their state as
 * `EVENT / action`, and root-level transitions, legal in every state, go into a note on the initial state.
 * The output is deterministic: states, transitions and actions in declaration order, ending with a newline.
 * @param machine a flat machine (no nested or parallel states) @default taskMachine
 */
export function machineToMermaid(machine: AnyStateMachine = taskMachine): string {
  checkFlat(machine);
  const { root } = machine;
  const states = Object.entries<AnyStateNode>(root.states);
  const initial = root.initial.target[0]?.key;
  const lines = ['stateDiagram-v2'];
  if (initial !== undefined) lines.push(`${INDENT}[*] --> ${initial}`);

  const internal: string[] = [];
  for (const [key, node] of states) {
    for (const transition of transitionsOf(node)) {
      const targets = transition.target ?? [];
      if (targets.length === 0 && transition.guard === undefined) {
        internal.push(`${INDENT}${key} : ${internalLabel(transition)}`);
        continue;
      }
      const label = arrowLabel(transition);
      const keys = targets.length === 0 ? [key] : targets.map((target) => target.key);
      for (const target of keys) lines.push(`${INDENT}${key} --> ${target}: ${label}`);
    }
    if (node.type === 'final') lines.push(`${INDENT}${key} --> [*]`);
  }

  if (internal.length > 0) {
    lines.push(
      `${INDENT}%% Transitions that stay in their state and only assign context (EVENT / action)`,
    );
    lines.push(...internal);
  }

  const everywhere = transitionsOf(root);
  if (everywhere.length > 0 && initial !== undefined) {
    lines.push(`${INDENT}note right of ${initial}`);
    lines.push(`${INDENT}${INDENT}Accepted in every state (root-level transitions)`);
    for (const transition of everywhere) {
      const targets = (transition.target ?? []).map((target) => target.key);
      const goesTo = targets.length === 0 ? '' : `, goes to ${targets.join(', ')}`;
      lines.push(`${INDENT}${INDENT}${internalLabel(transition)}${goesTo}`);
    }
    lines.push(`${INDENT}end note`);
  }
  return `${lines.join('\n')}\n`;
}
