/**
 * `make test` output a newcomer can trust: the tests print nothing (figures go to
 * build/test-reports/, app/test/support/report.ts) and jest exits because every suite closes what it
 * opened, not because it is forced to (no forceExit hiding a leaked server, pool or connection).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './github-files';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const jestConfig = require(join(ROOT, 'jest.config.js')) as { roots: string[]; forceExit?: boolean };

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
