/**
 * The Makefile as the delivery issue asks for it: `make` alone lists every target with one line
 * each, and a target whose tool (docker and its plugins, kind, pulumi) is missing stops with one
 * line saying what to install. make runs here with PATH pointing only at stand-in tools, so the
 * result does not depend on what the machine has installed; `-n` shows what would run.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './github-files';
import { dev } from '../../charts/environments';

const MAKE = spawnSync('bash', ['-c', 'command -v make'], { encoding: 'utf8' }).stdout.trim();
const MAKEFILE = readFileSync(join(ROOT, 'Makefile'), 'utf8');

/** Every target the delivery issue names. */
const ISSUE_TARGETS = [
  'help',
  'install',
  'run',
  'dev',
  'build',
  'test',
  'test-unit',
  'test-integration',
  'lint',
  'fmt',
  'typecheck',
  'synth',
  'drift',
  'policy',
  'bench',
  'seal',
  'deps-up',
  'deps-down',
  'kind-up',
  'kind-down',
  'preview',
  'up',
  'destroy',
  'image',
];

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The ordinary utilities recipes use (help needs awk), linked one by one: the machine's docker, kind or pulumi never leak in. */
const UTILITIES = ['awk', 'cat', 'date', 'git', 'grep', 'head', 'node', 'sed', 'sort'];
const utilities = mkdtempSync(join(tmpdir(), 'make-utilities-'));
dirs.push(utilities);
for (const name of UTILITIES) {
  const found = spawnSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (found) symlinkSync(found, join(utilities, name));
}

/**
 * A PATH holding only stand-ins: `docker` answers the subcommands listed in `docker`
 * (`compose`, `buildx`, `info`) and fails the others; `kind` (reporting the given version, default
 * a current one) and `pulumi` exist when asked for.
 */
function toolsPath(tools: { docker?: string[]; kind?: boolean | string; pulumi?: boolean }): string {
  const bin = mkdtempSync(join(tmpdir(), 'make-tools-'));
  dirs.push(bin);
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  if (tools.docker)
    tool(
      'docker',
      `case " ${tools.docker.join(' ')} " in *" $1 "*) exit 0 ;; esac\necho "docker: '$1' is not a docker command" >&2\nexit 1`,
    );
  if (tools.kind) tool('kind', `echo "kind v${tools.kind === true ? '0.27.0' : tools.kind} go1.23.4 linux/amd64"`);
  if (tools.pulumi) tool('pulumi', 'exit 0');
  return `${bin}:${utilities}`;
}

function make(args: string[], path = toolsPath({})) {
  const emptyHome = mkdtempSync(join(tmpdir(), 'make-home-'));
  dirs.push(emptyHome);
  // No MAKEFLAGS/MAKELEVEL from an outer `make test`; the install stamp is never remade here.
  const result = spawnSync(MAKE, ['--no-print-directory', '-o', 'node_modules/.install-stamp', ...args], {
    cwd: ROOT,
    env: { PATH: path, HOME: emptyHome },
    encoding: 'utf8',
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trimEnd() };
}

describe('make (help, the default target)', () => {
  const help = make([]);
  const lines = help.output.replace(/\x1b\[[0-9;]*m/g, '').split('\n'); // eslint-disable-line no-control-regex
  const listed = lines.map((line) => line.match(/^\s+([\w-]+)\s+(\S.*)$/)).filter((match) => match !== null);

  it('prints one line per target and nothing else', () => {
    expect(help.status).toBe(0);
    expect(listed).toHaveLength(lines.length);
    const names = listed.map((match) => match[1]!);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(ISSUE_TARGETS)('lists %s with a description', (target) => {
    const line = listed.find((match) => match[1] === target);
    expect(line?.[2]?.length ?? 0).toBeGreaterThan(10);
  });

  it('lists every target the Makefile defines (no undocumented ones)', () => {
    const defined = [...MAKEFILE.matchAll(/^([a-z][\w-]*):(?!=)/gm)].map((match) => match[1]!);
    expect(defined.length).toBeGreaterThanOrEqual(ISSUE_TARGETS.length);
    expect(listed.map((match) => match[1]).sort()).toEqual([...new Set(defined)].sort());
  });
});

describe('make run', () => {
  it('stops with one line while another instance holds the data folder, before make build touches build/app', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'make-run-data-'));
    dirs.push(dataDir);
    writeFileSync(join(dataDir, 'goticket.pid'), `${process.pid}\n`); // this jest process: alive, and not make's check
    // -n: should the check let it through, nothing is built or started
    const result = spawnSync(MAKE, ['--no-print-directory', '-n', '-o', 'node_modules/.install-stamp', 'run'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: dataDir, DATA_DIR: dataDir },
      encoding: 'utf8',
    });
    const output = `${result.stdout}${result.stderr}`.trimEnd();
    expect({ status: result.status, lines: output.split('\n').length }).toEqual({ status: 2, lines: 1 });
    expect(output).toMatch(
      new RegExp(
        `^Makefile:\\d+: \\*\\*\\* another instance is using ${dataDir} \\(pid ${process.pid}\\): stop it first, or set DATA_DIR to another folder\\.  Stop\\.$`,
      ),
    );
  });
});

describe('targets whose tool is missing stop with one line saying what to install', () => {
  const oneLine = (target: string[], path: string, message: RegExp) => {
    const { status, output } = make(target, path);
    expect({ target, status, lines: output.split('\n').length }).toEqual({ target, status: 2, lines: 1 });
    expect(output).toMatch(/^Makefile:\d+: \*\*\* .+\. {2}Stop\.$/);
    expect(output).toMatch(message);
  };

  it.each([['deps-up'], ['deps-down'], ['image'], ['kind-load']])('%s without docker', (target) => {
    oneLine(
      [target],
      toolsPath({ kind: true }),
      /docker is not installed: install Docker Engine \(https:\/\/docs\.docker\.com\/engine\/install\/\)/,
    );
  });

  it.each([['deps-up'], ['deps-down']])('%s with a docker CLI but no compose plugin', (target) => {
    oneLine([target], toolsPath({ docker: ['info', 'buildx'] }), /docker compose is not installed: install the Docker Compose plugin/);
  });

  it('image with a docker CLI but no buildx (the Dockerfile needs BuildKit)', () => {
    oneLine(['image'], toolsPath({ docker: ['info', 'compose'] }), /docker buildx is not installed: install the Docker Buildx plugin/);
  });

  it.each([['deps-up'], ['image'], ['kind-up']])('%s when the Docker engine does not answer', (target) => {
    oneLine(
      [target],
      toolsPath({ docker: ['compose', 'buildx'], kind: true }),
      /the Docker engine does not answer: start it or install Docker Engine/,
    );
  });

  it.each([['kind-up'], ['kind-down']])('%s without kind', (target) => {
    oneLine(
      [target],
      toolsPath({ docker: ['compose', 'buildx', 'info'] }),
      /kind is not installed: install kind \(https:\/\/kind\.sigs\.k8s\.io\//,
    );
  });

  it.each([['0.20.0'], ['0.23.9']])('kind-up with kind %s (too old to enforce NetworkPolicies)', (version) => {
    const minimum = readFileSync(join(ROOT, 'infra', 'components', 'kind-cluster.ts'), 'utf8').match(/KIND_MIN_VERSION = '([\d.]+)'/)?.[1];
    expect(minimum).toBeDefined();
    oneLine(
      ['kind-up'],
      toolsPath({ docker: ['compose', 'buildx', 'info'], kind: version }),
      new RegExp(`kind >= ${minimum!.replace(/\./g, '\\.')} is required`),
    );
  });

  it.each([['preview'], ['up']])(
    '%s without pulumi stops before npm install would start (the install is due: package.json is newer)',
    (target) => {
      const emptyHome = mkdtempSync(join(tmpdir(), 'make-home-'));
      dirs.push(emptyHome);
      // -n: nothing runs; -W package.json: the install stamp is out of date, so its recipe is due
      const result = spawnSync(MAKE, ['--no-print-directory', '-n', '-W', 'package.json', target, 'STACK=prod'], {
        cwd: ROOT,
        env: { PATH: toolsPath({}), HOME: emptyHome },
        encoding: 'utf8',
      });
      expect(result.status).not.toBe(0);
      expect(result.stdout).not.toContain('npm-install-locked');
      expect(result.stderr).toMatch(/pulumi is not installed/);
    },
  );

  it.each([['preview'], ['up'], ['destroy']])('%s STACK=prod without pulumi', (target) => {
    oneLine(
      [target, 'STACK=prod'],
      toolsPath({}),
      /pulumi is not installed: install the Pulumi CLI \(https:\/\/www\.pulumi\.com\/docs\/install\/\)/,
    );
  });
});

describe('with the tools present the same targets run their commands', () => {
  const all = () => toolsPath({ docker: ['compose', 'buildx', 'info'], kind: true, pulumi: true });
  const dryRun = (...args: string[]) => {
    const result = make(['-n', ...args], all());
    expect(result.status).toBe(0);
    return result.output;
  };

  it('deps-up and deps-down use docker compose', () => {
    expect(dryRun('deps-up')).toBe('docker compose up -d --wait postgres redis rabbitmq');
    expect(dryRun('deps-down')).toBe('docker compose down');
  });

  it('image builds with BuildKit the image dist/dev runs, and kind-load builds and loads exactly that image', () => {
    expect(dev.image).toMatch(/:local$/);
    expect(dryRun('image')).toContain(`docker buildx build --load -t ${dev.image}`);
    const kindLoad = dryRun('kind-load');
    expect(kindLoad).toContain(`docker buildx build --load -t ${dev.image}`);
    expect(kindLoad).toContain(`kind load docker-image ${dev.image} --name goticket`);
    expect(dryRun('image', 'IMAGE=example/goticket:mine')).toContain('-t example/goticket:mine');
  });

  it('kind-load refuses a release (Kind pulls it) and image a digest, each with one line', () => {
    const release = `ghcr.io/goticket-platform/goticket:sha-${'a'.repeat(40)}@sha256:${'b'.repeat(64)}`;
    const refused = make(['-n', 'kind-load', `IMAGE=${release}`], all());
    expect(refused.status).toBe(2);
    expect(refused.output).toMatch(
      /^Makefile:\d+: \*\*\* dist\/dev runs the release .*nothing to build\. For a local build: npm run promote -- --env dev --image ghcr\.io\/goticket-platform\/goticket:local\. {2}Stop\.$/,
    );
    expect(make(['-n', 'image', `IMAGE=${release}`], all()).output).toMatch(/pins a digest: a local build cannot have it/);
  });

  it('preview, up and destroy act on STACK, preview and up with the policy pack', () => {
    expect(dryRun('preview', 'STACK=prod')).toBe('pulumi preview --stack prod --policy-pack policies');
    expect(dryRun('up', 'STACK=prod')).toBe('pulumi up --stack prod --policy-pack policies');
    expect(dryRun('destroy', 'STACK=dev')).toBe('pulumi destroy --stack dev');
    expect(dryRun('kind-up')).toBe('kind create cluster --name goticket --config infra/kind-config.yaml');
  });

  it.each([['0.24.0'], ['0.31.2']])('kind-up runs with kind %s', (version) => {
    const result = make(['-n', 'kind-up'], toolsPath({ docker: ['compose', 'buildx', 'info'], kind: version }));
    expect(result).toEqual({ status: 0, output: 'kind create cluster --name goticket --config infra/kind-config.yaml' });
  });
});
