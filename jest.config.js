/** One jest run covers the service, charts, infra and policies; transpile-only (tsc --noEmit type-checks once). */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/app', '<rootDir>/platform', '<rootDir>/charts', '<rootDir>/infra', '<rootDir>/policies', '<rootDir>/scripts'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testPathIgnorePatterns: ['/node_modules/', '/build/', '/dist/'],
  testTimeout: 60000,
};
