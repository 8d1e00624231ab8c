/**
 * shellcheck (Debian package; `make test` installs it through scripts/system-deps.sh) over every
 * tracked shell script and over every `run:` block of the workflows and local actions, which
 * GitHub runs with `bash -e`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localActions, ROOT, runScript, workflows } from './github-files';

const hasShellcheck = spawnSync('shellcheck', ['--version']).status === 0;

function shellcheck(files: string[], cwd: string): string {
  const result = spawnSync('shellcheck', ['--format=gcc', '--severity=info', ...files], { cwd, encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`.trim();
}

describe('shellcheck', () => {
  it('is installed (make system-deps)', () => {
    expect(hasShellcheck ? 'installed' : 'shellcheck is not installed: run `make system-deps` (Debian package shellcheck)').toBe(
      'installed',
    );
  });

  const scripts = execFileSync('git', ['ls-files', '--', '*.sh', '.ci/run'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);

  (hasShellcheck ? it : it.skip)('passes on every tracked shell script', () => {
    expect(scripts).toEqual(expect.arrayContaining(['.ci/run', 'scripts/ensure-services.sh', 'scripts/system-deps.sh']));
    expect(shellcheck(scripts, ROOT)).toBe('');
  });

  (hasShellcheck ? it : it.skip)('passes on every run: block of the workflows and local actions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shellcheck-run-'));
    try {
      const names = new Map<string, string>();
      for (const wf of [...workflows(), ...localActions()]) {
        wf.steps.forEach(({ job, step }, index) => {
          const script = runScript(step);
          if (script === null) return;
          const file = `${names.size}.sh`;
          names.set(file, `${wf.file} ${job} step ${index + 1} "${step.name ?? script.split('\n')[0]}"`);
          writeFileSync(join(dir, file), `#!/usr/bin/env bash\nset -e\n${script}`);
        });
      }
      expect(names.size).toBeGreaterThan(10);
      const report = shellcheck([...names.keys()], dir).replace(
        /^(\d+\.sh):(\d+):/gm,
        (_all, file: string, line: string) => `${names.get(file)} line ${Number(line) - 2}:`,
      );
      expect(report).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
