/**
 * `make test` output a newcomer can trust: the tests print nothing (figures go to
 * build/test-reports/, app/test/support/report.ts) and jest exits because every suite closes what it
 * opened, not because it is forced to (no forceExit hiding a leaked server, pool or connection).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from './github-files';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const jestConfig = require(join(ROOT, 'jest.config.js')) as { roots: string[]; forceExit?: boolean; testEnvironment: string };

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === '__snapshots__') return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? testFiles(path) : entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

test('jest is not told to force its exit', () => {
  expect(jestConfig.forceExit).toBeUndefined();
});

test('no test file writes to the console', () => {
  const files = jestConfig.roots.flatMap((root) => testFiles(root.replace('<rootDir>', ROOT)));
  expect(files.length).toBeGreaterThan(50);
  const printing = files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line, i) => ({ line, at: `${relative(ROOT, file)}:${i + 1}` }))
      .filter(({ line }) => /\bconsole\.(log|info|warn|error|debug)\(|process\.(stdout|stderr)\.write\(/.test(line))
      .map(({ at }) => at),
  );
  expect(printing).toEqual([]);
});

test('a test file that leaves a server or connection open fails by name; one that closes what it opened passes (scripts/jest-environment.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jest-environment-'));
  try {
    const server = (close: string) => `
      const { createServer } = require('node:http');
      const { connect } = require('node:net');
      const server = createServer();
      let client;
      beforeAll(() => new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)));
      test('connects', async () => {
        client = await new Promise((resolve) => { const socket = connect(server.address().port, '127.0.0.1', () => resolve(socket)); });
        expect(client.remotePort).toBe(server.address().port);
      });
      ${close}`;
    // Closed later than the check's grace, so this child jest still ends by itself.
    writeFileSync(join(dir, 'leaks.test.js'), server('setTimeout(() => { client.destroy(); server.close(); }, 6_500);'));
    writeFileSync(
      join(dir, 'closes.test.js'),
      server('afterAll(() => { client.destroy(); return new Promise((resolve) => server.close(resolve)); });'),
    );
    const config = {
      rootDir: dir,
      testEnvironment: jestConfig.testEnvironment.replace('<rootDir>', ROOT),
      transform: {},
      testMatch: ['**/*.test.js'],
    };
    const run = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), '--ci', '--runInBand', '--config', JSON.stringify(config)], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/PASS \S*closes\.test\.js/);
    expect(run.stderr).toMatch(
      /FAIL \S*leaks\.test\.js[\s\S]*left open 5 s after the file's last hook[^\n]*server listening on [^\n]*client connection 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+/,
    );
    expect(run.stderr).toMatch(/Test Suites:\s+1 failed, 1 passed, 2 total/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
