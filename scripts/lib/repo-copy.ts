/**
 * A throwaway copy of the repository for rehearsals (make rehearse, scripts/test/promote.test.ts):
 * the files git knows (tracked and not ignored, as they are in the working tree), with node_modules
 * symlinked, not copied. Without git (an exported tree) every file but node_modules, .git, build/
 * and .data/. Whatever runs there cannot touch the real tree.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const NOT_COPIED = new Set(['node_modules', '.git', 'build', '.data']);

function treeFiles(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (dir === root && NOT_COPIED.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return treeFiles(root, path);
    return entry.isFile() ? [relative(root, path)] : [];
  });
}

function filesOf(root: string): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\0')
      .filter(Boolean);
  } catch {
    return treeFiles(root);
  }
}

export interface RepoCopy {
  dir: string;
  remove(): void;
}

export function copyRepository(root: string, prefix = 'goticket-copy-'): RepoCopy {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const file of filesOf(root)) {
    const from = join(root, file);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(from, join(dir, file));
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
