/**
 * scripts/npm-install-locked.sh, the one way dependencies are installed (make install, the CI
 * setup action through it, both install stages of the Dockerfile). Its decisions are tested with
 * a stand-in `npm` on PATH that answers `npm ci` with a recorded refusal and "installs" a given
 * tree, so no registry is needed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { localActions, ROOT, workflows } from './github-files';

const SCRIPT = join(ROOT, 'scripts', 'npm-install-locked.sh');

/** Answers `npm ci` per FAKE_CI_* and writes FAKE_TREE as the installed tree; logs every call. */
const FAKE_NPM = `#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
install_tree() { mkdir -p node_modules && cp "$FAKE_TREE" node_modules/.package-lock.json; }
case "$1" in
  ci)
    if [ "$FAKE_CI_STATUS" = 0 ]; then install_tree; exit 0; fi
    cat "$FAKE_CI_OUTPUT" >&2
    exit "$FAKE_CI_STATUS" ;;
  install)
    install_tree
    if [ -n "\${FAKE_REWRITE_LOCK:-}" ]; then echo '{}' > package-lock.json; fi
    exit 0 ;;
esac
exit 99
`;

type Packages = Record<string, { version?: string; optional?: boolean; optionalDependencies?: Record<string, string> }>;

const LOCK: Packages = {
  '': { version: '1.0.0' },
  'node_modules/native': { version: '2.0.0', optionalDependencies: { 'native-linux-x64-gnu': '2.0.0', 'native-linux-arm64-gnu': '2.0.0', 'native-darwin-arm64': '2.0.0' } },
  'node_modules/native-linux-x64-gnu': { version: '2.0.0', optional: true },
  'node_modules/left-pad': { version: '1.3.0' },
};

/** What `npm install` puts on an arm64 machine: the locked tree plus that platform's binary. */
const ARM64_TREE: Packages = {
  'node_modules/native': { version: '2.0.0' },
  'node_modules/native-linux-arm64-gnu': { version: '2.0.0', optional: true },
  'node_modules/left-pad': { version: '1.3.0' },
};

const REFUSAL_HEAD = [
  'npm error code EUSAGE',
  'npm error',
  'npm error `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with `npm install` before continuing.',
  'npm error',
];
// As npm 11 prints them: the version is empty when the registry has no such package.
const PLATFORM_MISSING = ['npm error Missing: native-linux-arm64-gnu@2.0.0 from lock file', 'npm error Missing: native-darwin-arm64@ from lock file'];

interface Run {
  ciStatus?: number;
  ciOutput?: string[];
  tree?: Packages;
  lock?: Packages | null;
  rewriteLock?: boolean;
  args?: string[];
}

function run({ ciStatus = 1, ciOutput = [], tree = ARM64_TREE, lock = LOCK, rewriteLock = false, args = ['--omit=dev', '--ignore-scripts'] }: Run) {
  const dir = mkdtempSync(join(tmpdir(), 'npm-locked-'));
  try {
    const bin = join(dir, 'bin');
    const project = join(dir, 'project');
    mkdirSync(bin);
    mkdirSync(project);
    writeFileSync(join(bin, 'npm'), FAKE_NPM);
    chmodSync(join(bin, 'npm'), 0o755);
    writeFileSync(join(dir, 'ci-output.txt'), ciOutput.map((line) => `${line}\n`).join(''));
    writeFileSync(join(dir, 'tree.json'), JSON.stringify({ lockfileVersion: 3, packages: tree }));
    const lockText = JSON.stringify({ name: 'fixture', lockfileVersion: 3, packages: lock }, null, 2);
    if (lock) writeFileSync(join(project, 'package-lock.json'), lockText);
    const env = {
      PATH: `${bin}:${process.env.PATH}`,
      FAKE_LOG: join(dir, 'calls.txt'),
      FAKE_CI_STATUS: String(ciStatus),
      FAKE_CI_OUTPUT: join(dir, 'ci-output.txt'),
      FAKE_TREE: join(dir, 'tree.json'),
      ...(rewriteLock ? { FAKE_REWRITE_LOCK: '1' } : {}),
    };
    const result = spawnSync('bash', [SCRIPT, ...args], { cwd: project, env, encoding: 'utf8' });
    const calls = existsSync(env.FAKE_LOG) ? readFileSync(env.FAKE_LOG, 'utf8').split('\n').filter(Boolean) : [];
    const lockAfter = lock ? readFileSync(join(project, 'package-lock.json'), 'utf8') : null;
    return { status: result.status, stderr: result.stderr, calls, lockUnchanged: lockAfter === (lock ? lockText : null) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NPM_CI = 'ci --no-audit --no-fund --omit=dev --ignore-scripts';
const NPM_INSTALL = 'install --no-save --no-audit --no-fund --omit=dev --ignore-scripts';

describe('scripts/npm-install-locked.sh', () => {
  it('runs npm ci with the given flags and nothing else when npm ci accepts the lock', () => {
    const result = run({ ciStatus: 0 });
    expect(result).toMatchObject({ status: 0, calls: [NPM_CI], lockUnchanged: true });
  });

  it('installs the same lock with npm install --no-save when npm ci only misses other platforms\' optional packages', () => {
    const result = run({ ciOutput: [...REFUSAL_HEAD, ...PLATFORM_MISSING] });
    expect(result).toMatchObject({ status: 0, calls: [NPM_CI, NPM_INSTALL], lockUnchanged: true });
    expect(result.stderr).toContain("npm ci refused the lock only for other platforms' optional packages");
  });

  it('understands the npm ERR! prefix of older npm releases too', () => {
    const result = run({ ciOutput: ['npm ERR! code EUSAGE', 'npm ERR! Missing: native-linux-arm64-gnu@2.0.0 from lock file'] });
    expect(result).toMatchObject({ status: 0, calls: [NPM_CI, NPM_INSTALL] });
    expect(run({ ciOutput: ['npm ERR! Missing: is-odd@3.0.1 from lock file'] }).calls).toEqual([NPM_CI]);
  });

  it('fails without a fallback when package.json wants a package the lock lacks', () => {
    const result = run({ ciOutput: [...REFUSAL_HEAD, ...PLATFORM_MISSING, 'npm error Missing: is-odd@3.0.1 from lock file'] });
    expect(result.status).not.toBe(0);
    expect(result.calls).toEqual([NPM_CI]);
    expect(result.stderr).toContain('npm-install-locked: Missing: is-odd@3.0.1 from lock file');
    expect(result.stderr).toContain("run 'npm install' and commit package-lock.json");
  });

  it('fails without a fallback when a locked version no longer satisfies package.json', () => {
    const result = run({ ciOutput: [...REFUSAL_HEAD, "npm error Invalid: lock file's left-pad@1.3.0 does not satisfy left-pad@2.0.0"] });
    expect(result.status).not.toBe(0);
    expect(result.calls).toEqual([NPM_CI]);
    expect(result.stderr).toContain("Invalid: lock file's left-pad@1.3.0 does not satisfy left-pad@2.0.0");
  });

  it('fails without a fallback, with npm\'s exit code, when npm ci fails for another reason', () => {
    const result = run({ ciStatus: 7, ciOutput: ['npm error code ETIMEDOUT', 'npm error network request to https://registry.npmjs.org/left-pad failed'] });
    expect(result.status).toBe(7);
    expect(result.calls).toEqual([NPM_CI]);
    expect(result.stderr).toContain('npm ci failed for another reason than the lock file');
  });

  it('does not treat a locked package as a missing platform package', () => {
    const lock = { ...LOCK, 'node_modules/native-linux-arm64-gnu': { version: '2.0.0', optional: true } };
    const result = run({ lock, ciOutput: [...REFUSAL_HEAD, 'npm error Missing: native-linux-arm64-gnu@2.0.0 from lock file'] });
    expect(result.status).not.toBe(0);
    expect(result.calls).toEqual([NPM_CI]);
  });

  it('fails when the fallback installed another version of a locked package', () => {
    const tree = { ...ARM64_TREE, 'node_modules/left-pad': { version: '1.3.1' } };
    const result = run({ tree, ciOutput: [...REFUSAL_HEAD, ...PLATFORM_MISSING] });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('node_modules/left-pad: installed 1.3.1, locked 1.3.0');
  });

  it('fails when the fallback installed a package that is neither locked nor an optional platform package', () => {
    const tree = { ...ARM64_TREE, 'node_modules/is-odd': { version: '3.0.1' }, 'node_modules/native-linux-riscv64-gnu': { version: '2.0.0', optional: true } };
    const result = run({ tree, ciOutput: [...REFUSAL_HEAD, ...PLATFORM_MISSING] });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('node_modules/is-odd: installed 3.0.1, locked nothing');
    expect(result.stderr).toContain('node_modules/native-linux-riscv64-gnu: installed 2.0.0, locked nothing');
  });

  it('fails when the fallback installed a platform package in another version than its parent pins', () => {
    const tree = { ...ARM64_TREE, 'node_modules/native-linux-arm64-gnu': { version: '2.0.1', optional: true } };
    const result = run({ tree, ciOutput: [...REFUSAL_HEAD, ...PLATFORM_MISSING] });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('node_modules/native-linux-arm64-gnu: installed 2.0.1, locked nothing');
  });

  it('restores package-lock.json and fails if npm install rewrote it', () => {
    const result = run({ rewriteLock: true, ciOutput: [...REFUSAL_HEAD, ...PLATFORM_MISSING] });
    expect(result.status).not.toBe(0);
    expect(result.lockUnchanged).toBe(true);
    expect(result.stderr).toContain('npm install changed package-lock.json (restored)');
  });

  it('refuses to run without a package-lock.json', () => {
    const result = run({ lock: null, ciStatus: 0 });
    expect(result.status).not.toBe(0);
    expect(result.calls).toEqual([]);
    expect(result.stderr).toContain('no package-lock.json');
  });
});

describe('every install goes through scripts/npm-install-locked.sh', () => {
  const INSTALL = /\bnpm\s+(ci|install|i|clean-install)\b/;
  const SCRIPT_CALL = /\bbash scripts\/npm-install-locked\.sh\b/;

  it('make install runs it, then writes the stamp that spares later targets a second install', () => {
    const makefile = readFileSync(join(ROOT, 'Makefile'), 'utf8');
    const rule = makefile.match(/^node_modules\/\.install-stamp:.*\n((?:\t.*\n)+)/m);
    expect(rule?.[1]?.split('\n').filter(Boolean)).toEqual(['\t@bash scripts/npm-install-locked.sh', '\t@touch $@']);
    expect(makefile).toMatch(/^install: node_modules\/\.install-stamp /m);
  });

  it('the CI setup action installs with make install', () => {
    const setup = localActions().find((action) => action.file.endsWith(join('setup', 'action.yml')))!;
    const runs = setup.steps.map(({ step }) => step.run ?? '').filter(Boolean);
    expect(runs).toContain('make install');
  });

  it('both install stages of the Dockerfile copy it in and run it, production dependencies without dev ones', () => {
    const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const runs = dockerfile.getInstructions().filter((instruction) => instruction.getKeyword() === 'RUN').map((run) => run.getArgumentsContent() ?? '');
    const installs = runs.filter((run) => SCRIPT_CALL.test(run));
    expect(installs.map((run) => run.includes('--omit=dev')).sort()).toEqual([false, true]);
    const copies = dockerfile.getInstructions().filter((instruction) => instruction.getKeyword() === 'COPY').map((copy) => copy.getArgumentsContent());
    expect(copies.filter((copy) => copy === 'scripts/npm-install-locked.sh ./scripts/')).toHaveLength(2);
  });

  it('nothing else installs the project\'s dependencies (npm ci, npm install; a global npm upgrade is fine)', () => {
    const files = [
      { file: 'Makefile', text: readFileSync(join(ROOT, 'Makefile'), 'utf8') },
      { file: 'Dockerfile', text: readFileSync(join(ROOT, 'Dockerfile'), 'utf8') },
      ...[...workflows(), ...localActions()].map(({ file, steps }) => ({ file, text: steps.map(({ step }) => step.run ?? '').join('\n') })),
    ];
    for (const { file, text } of files) {
      const commands = text.split('\n').filter((line) => !/^\s*#/.test(line));
      expect({ file, offending: commands.filter((line) => INSTALL.test(line) && !/\s(--global|-g)\b/.test(line)) }).toEqual({ file, offending: [] });
    }
  });
});
