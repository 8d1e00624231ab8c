/** The rehearsals' repository copy: git's files from a checkout, the tree without git; node_modules linked, never copied. */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyRepository } from '../lib/repo-copy';
import { ROOT } from './github-files';

test('a checkout: the files git knows, node_modules as a link', () => {
  const copy = copyRepository(ROOT, 'repo-copy-test-');
  try {
    for (const file of [
      'Makefile',
      'charts/environments.ts',
      'dist/dev/Deployment.goticket-api.k8s.yaml',
      '.github/workflows/release.yml',
    ]) {
      expect(readFileSync(join(copy.dir, file), 'utf8')).toBe(readFileSync(join(ROOT, file), 'utf8'));
    }
    expect(lstatSync(join(copy.dir, 'node_modules')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(copy.dir, '.git'))).toBe(false);
  } finally {
    copy.remove();
  }
  expect(existsSync(copy.dir)).toBe(false);
});

test('a tree without git (an exported archive): every file but node_modules, .git, build and .data', () => {
  const root = mkdtempSync(join(tmpdir(), 'repo-copy-tree-'));
  try {
    for (const dir of ['node_modules/x', 'build', '.data', 'charts/deep']) mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, 'Makefile'), 'all:\n');
    writeFileSync(join(root, 'charts/deep/a.ts'), 'export {};\n');
    writeFileSync(join(root, 'build/out.js'), '');
    writeFileSync(join(root, '.data/db'), '');
    writeFileSync(join(root, 'node_modules/x/index.js'), '');
    const copy = copyRepository(root, 'repo-copy-test-');
    try {
      expect(readFileSync(join(copy.dir, 'charts/deep/a.ts'), 'utf8')).toBe('export {};\n');
      expect(existsSync(join(copy.dir, 'Makefile'))).toBe(true);
      expect([existsSync(join(copy.dir, 'build')), existsSync(join(copy.dir, '.data'))]).toEqual([false, false]);
      expect(lstatSync(join(copy.dir, 'node_modules')).isSymbolicLink()).toBe(true);
    } finally {
      copy.remove();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
