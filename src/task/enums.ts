/** The role an agent plays for a task. */
export const AgentRole = {
  SPEC_WRITER: 'spec_writer',
  TEST_WRITER: 'test_writer',
  TEST_REVIEWER: 'test_reviewer',
  IMPLEMENTER: 'implementer',
  GENERIC: 'generic',
} as const;

/** One of the {@link AgentRole} values. */
export type AgentRole = (typeof AgentRole)[keyof typeof AgentRole];

/** The agent framework that runs a task. */
export const AgentFramework = {
  CLAUDE_CODE: 'claude_code',
} as const;

/** One of the {@link AgentFramework} values. */
export type AgentFramework = (typeof AgentFramework)[keyof typeof AgentFramework];

/** How much architecture-decision-record prose an agent writes. */
export const AgentVerbosity = {
  NONE: 'none',
  STANDARD: 'standard',
  DETAILED: 'detailed',
  EDUCATIONAL: 'educational',
} as const;

/** One of the {@link AgentVerbosity} values. */
export type AgentVerbosity = (typeof AgentVerbosity)[keyof typeof AgentVerbosity];
