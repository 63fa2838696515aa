/**
 * Jest runs the TypeScript sources through ts-jest as CommonJS (type checking
 * is `npm run typecheck`'s job, so ts-jest only transpiles) and maps the `.js`
 * suffixes that NodeNext imports need back to the `.ts` files.
 * @type {import('jest').Config}
 */
export default {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json', diagnostics: false }],
  },
};
