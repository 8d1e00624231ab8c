/** One jest run covers the service, charts, infra and policies; transpile-only (tsc --noEmit type-checks once). */
const ESM_ONLY = ['openid-client', 'oauth4webapi', 'jose'];
/** @type {import('jest').Config} */
module.exports = {
  // node, plus a check that each file closes what it opened (scripts/jest-environment.js)
  testEnvironment: '<rootDir>/scripts/jest-environment.js',
  roots: [
    '<rootDir>/app',
    '<rootDir>/platform',
    '<rootDir>/charts',
    '<rootDir>/infra',
    '<rootDir>/policies',
    '<rootDir>/scripts',
    '<rootDir>/bench',
  ],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
    // openid-client and its two dependencies ship only ES modules, which jest's CommonJS runtime cannot
    // require on Node 20 (node itself can: require(esm)); they are transpiled to CommonJS for tests only.
    [`/node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testPathIgnorePatterns: ['/node_modules/', '/build/', '/dist/'],
  testTimeout: 60000,
};
