import type { AnyStateMachine } from 'xstate';
import { taskMachine } from '../machines/taskMachine.js';

/** A JSON value: what {@link machineToStatelyJSON} returns and `JSON.stringify` writes unchanged. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Plain JSON of a config value; functions (the context factory, inline guards or actions) are left out. */
function toJson(value: unknown): JsonValue | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) {
    return value.map(toJson).filter((item): item is JsonValue => item !== undefined);
  }
  if (typeof value === 'object') {
    const result: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value)) {
      const json = toJson(item);
      if (json !== undefined) result[key] = json;
    }
    return result;
  }
  return undefined;
}

/**
 * The machine's config (the object given to `createMachine`) as plain JSON: the shape Stately's tools read.
 *
 * Stately's inspector shows an actor from exactly this (`JSON.stringify(actor.logic.config)`), and Stately
 * Studio's "Import from code" accepts it wrapped as `createMachine(<this JSON>)`. Guards and actions appear by
 * name; functions (here only the context factory, which needs the task as input) are left out.
 * `machine.toJSON()` is not used: it is XState's resolved state-node tree (`#task.running` targets, `order`,
 * `source`, `eventType` on every transition), which neither tool imports.
 * @param machine @default taskMachine
 */
export function machineToStatelyJSON(machine: AnyStateMachine = taskMachine): JsonValue {
  const json = toJson(machine.config);
  if (json === undefined) throw new Error('machineToStatelyJSON: the machine has no config object');
  return json;
}
