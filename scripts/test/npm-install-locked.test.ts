/**
 * scripts/npm-install-locked.sh, the one way dependencies are installed (make install, the CI
 * setup action through it, both install stages of the Dockerfile). Tested with a stand-in `npm` on
 * PATH that answers `npm ci` with recorded output, so no registry is needed; the committed lock
 * itself is checked to hold what `npm ci` needs on every platform.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { localActions, ROOT, workflows } from './github-files';

const SCRIPT = join(ROOT, 'scripts', 'npm-install-locked.sh');

/** Answers `npm ci` with FAKE_CI_OUTPUT (on stderr) and FAKE_CI_STATUS; logs every call. */
const FAKE_NPM = `#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
[ "$1" = ci ] || exit 99
cat "$FAKE_CI_OUTPUT" >&2
exit "$FAKE_CI_STATUS"
`;

const ENGINE_WARNINGS = [
  'npm warn EBADENGINE Unsupported engine {',
  "npm warn EBADENGINE   required: { node: '>=22.15.0' },",
  'npm warn EBADENGINE }',
];
const REFUSAL_HEAD = [
  'npm error code EUSAGE',
  'npm error',
  'npm error `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with `npm install` before continuing.',
  'npm error',
];
/** What npm 11 appends to a refusal: its whole usage text (~100 lines), then the debug log's path. */
const USAGE = [
  'npm error Clean install a project',
  'npm error',
  'npm error Usage:',
  'npm error npm ci',
  ...Array.from({ length: 90 }, (_, i) => `npm error   --option-${i}`),
  'npm error Run "npm help ci" for more info',
  'npm error A complete log of this run can be found in: /root/.npm/_logs/debug-0.log',
];

function run({ ciStatus = 1, ciOutput = [] as string[], lock = true, args = ['--omit=dev', '--ignore-scripts'] }) {
  const dir = mkdtempSync(join(tmpdir(), 'npm-locked-'));
  try {
    const bin = join(dir, 'bin');
    const project = join(dir, 'project');
    mkdirSync(bin);
    mkdirSync(project);
    writeFileSync(join(bin, 'npm'), FAKE_NPM);
    chmodSync(join(bin, 'npm'), 0o755);
    writeFileSync(join(dir, 'ci-output.txt'), ciOutput.map((line) => `${line}\n`).join(''));
    if (lock) writeFileSync(join(project, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    const env = {
      PATH: `${bin}:${process.env.PATH}`,
      FAKE_LOG: join(dir, 'calls.txt'),
      FAKE_CI_STATUS: String(ciStatus),
      FAKE_CI_OUTPUT: join(dir, 'ci-output.txt'),
    };
    const result = spawnSync('bash', [SCRIPT, ...args], { cwd: project, env, encoding: 'utf8' });
    const calls = existsSync(env.FAKE_LOG) ? readFileSync(env.FAKE_LOG, 'utf8').split('\n').filter(Boolean) : [];
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NPM_CI = 'ci --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts';

describe('scripts/npm-install-locked.sh', () => {
  it('runs npm ci with the given flags, nothing else, and says one line', () => {
    const result = run({ ciStatus: 0, ciOutput: ENGINE_WARNINGS });
    expect(result).toMatchObject({ status: 0, calls: [NPM_CI], stderr: '' });
    expect(result.stdout).toBe('npm-install-locked: node_modules installed from package-lock.json (npm ci)\n');
  });

  it("shows a refusal without npm's usage text, says what to do and fails with npm's code", () => {
    const missing = 'npm error Missing: is-odd@3.0.1 from lock file';
    const result = run({ ciOutput: [...REFUSAL_HEAD, missing, 'npm error', ...USAGE] });
    expect(result.status).toBe(1);
    expect(result.calls).toEqual([NPM_CI]);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toEqual([
      ...REFUSAL_HEAD,
      missing,
      'npm error',
      USAGE.at(-1),
      expect.stringContaining("run 'npm install' and commit package-lock.json"),
    ]);
  });

  it('names the cause when a locked package declares platform packages the registry lacks', () => {
    const result = run({ ciOutput: [...REFUSAL_HEAD, 'npm error Missing: native-darwin-arm64@ from lock file', ...USAGE] });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('npm error Missing: native-darwin-arm64@ from lock file');
    expect(result.stderr).toContain('pin a release of it whose platform packages are all published');
    expect(result.stderr).not.toContain('Usage:');
  });

  it("passes any other failure through with npm's exit code", () => {
    const result = run({
      ciStatus: 7,
      ciOutput: ['npm error code ETIMEDOUT', 'npm error network request to https://registry.npmjs.org/left-pad failed'],
    });
    expect(result).toMatchObject({ status: 7, calls: [NPM_CI] });
    expect(result.stderr).toBe('npm error code ETIMEDOUT\nnpm error network request to https://registry.npmjs.org/left-pad failed\n');
  });

  it('refuses to run without a package-lock.json', () => {
    const result = run({ lock: false, ciStatus: 0 });
    expect(result.status).not.toBe(0);
    expect(result.calls).toEqual([]);
    expect(result.stderr).toContain('no package-lock.json');
  });
});

describe('package-lock.json', () => {
  type Entry = { version?: string; optional?: boolean; optionalDependencies?: Record<string, string> };
  const packages = (JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Entry> }).packages;

  it('locks every optional package a locked package pins exactly, so npm ci accepts it on every platform', () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(packages)) {
      for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
        if (!/^\d+\.\d+\.\d+$/.test(spec)) continue;
        // resolved as node would: next to the dependant, else in each enclosing node_modules up to the root
        const parts = path.split('/node_modules/');
        const candidates = parts.map((_, i) =>
          `${parts.slice(0, parts.length - i).join('/node_modules/')}/node_modules/${name}`.replace(/^\//, ''),
        );
        candidates.push(`node_modules/${name}`);
        if (!candidates.some((candidate) => packages[candidate]?.version === spec)) missing.push(`${name}@${spec} (for ${path})`);
      }
    }
    expect(missing).toEqual([]);
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
    const runs = dockerfile
      .getInstructions()
      .filter((instruction) => instruction.getKeyword() === 'RUN')
      .map((run) => run.getArgumentsContent() ?? '');
    const installs = runs.filter((run) => SCRIPT_CALL.test(run));
    expect(installs.map((run) => run.includes('--omit=dev')).sort()).toEqual([false, true]);
    const copies = dockerfile
      .getInstructions()
      .filter((instruction) => instruction.getKeyword() === 'COPY')
      .map((copy) => copy.getArgumentsContent());
    expect(copies.filter((copy) => copy === 'scripts/npm-install-locked.sh ./scripts/')).toHaveLength(2);
  });

  it("nothing else installs the project's dependencies (npm ci, npm install; a global npm upgrade is fine)", () => {
    const files = [
      { file: 'Makefile', text: readFileSync(join(ROOT, 'Makefile'), 'utf8') },
      { file: 'Dockerfile', text: readFileSync(join(ROOT, 'Dockerfile'), 'utf8') },
      ...[...workflows(), ...localActions()].map(({ file, steps }) => ({ file, text: steps.map(({ step }) => step.run ?? '').join('\n') })),
    ];
    for (const { file, text } of files) {
      const commands = text.split('\n').filter((line) => !/^\s*#/.test(line));
      expect({ file, offending: commands.filter((line) => INSTALL.test(line) && !/\s(--global|-g)\b/.test(line)) }).toEqual({
        file,
        offending: [],
      });
    }
  });
});
