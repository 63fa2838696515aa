import type { AnyStateMachine } from 'xstate';
import { taskMachine } from '../machines/taskMachine.js';
import { machineModel } from './machineModel.js';

const INDENT = '  ';

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
  const { initial, states, everywhere } = machineModel(machine, 'machineToMermaid');
  const lines = ['stateDiagram-v2'];
  if (initial !== undefined) lines.push(`${INDENT}[*] --> ${initial}`);

  for (const { key, arrows, final } of states) {
    for (const { to, label } of arrows) lines.push(`${INDENT}${key} --> ${to}: ${label}`);
    if (final) lines.push(`${INDENT}${key} --> [*]`);
  }

  const internal = states.flatMap(({ key, internal }) =>
    internal.map((label) => `${INDENT}${key} : ${label}`),
  );
  if (internal.length > 0) {
    lines.push(
      `${INDENT}%% Transitions that stay in their state and only assign context (EVENT / action)`,
    );
    lines.push(...internal);
  }

  if (everywhere.length > 0 && initial !== undefined) {
    lines.push(`${INDENT}note right of ${initial}`);
    lines.push(`${INDENT}${INDENT}Accepted in every state (root-level transitions)`);
    for (const label of everywhere) lines.push(`${INDENT}${INDENT}${label}`);
    lines.push(`${INDENT}end note`);
  }
  return `${lines.join('\n')}\n`;
}
