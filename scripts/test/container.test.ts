/**
 * The container build, checked without a Docker engine: the Dockerfile parsed with
 * dockerfile-ast, .dockerignore evaluated with Docker's matching rules, docker-compose.yml
 * parsed as YAML.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Copy,
  type Dockerfile,
  DockerfileParser,
  type From,
  type Instruction,
  type JSONInstruction,
  type Label,
} from 'dockerfile-ast';
import { parse } from 'yaml';
import { type Obj, ROOT } from './github-files';
import { loadConfig } from '../../app/src/config';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Stage {
  from: From;
  name: string;
  instructions: Instruction[];
}

function stagesOf(dockerfile: Dockerfile): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = instruction as From;
      stages.push({ from, name: from.getBuildStage() ?? String(stages.length), instructions: [] });
    } else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

const keyword = (stage: Stage, name: string) => stage.instructions.filter((instruction) => instruction.getKeyword() === name);
const runs = (stage: Stage) => keyword(stage, 'RUN').map((instruction) => instruction.getArgumentsContent() ?? '');
const json = (instruction: Instruction) => (instruction as JSONInstruction).getJSONStrings().map((argument) => argument.getJSONValue());
const unquote = (value: string | null) => (value ?? '').replace(/^"(.*)"$/s, '$1');

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        out += '(?:.*/)?';
      } else out += '.*';
    } else if (char === '*') out += '[^/]*';
    else if (char === '?') out += '[^/]';
    else out += char.replace(/[.+^${}()|[\]\\]/, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Docker's .dockerignore semantics: paths relative to the context, `**`, the last matching rule wins, a match on a parent covers its children. */
function dockerignored(patterns: string[], path: string): boolean {
  const rules = patterns
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => ({ negate: line.startsWith('!'), regexp: globToRegExp(line.replace(/^!/, '').replace(/^\/+|\/+$/g, '')) }));
  const segments = path.split('/');
  const prefixes = segments.map((_, index) => segments.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const rule of rules) if (prefixes.some((prefix) => rule.regexp.test(prefix))) ignored = !rule.negate;
  return ignored;
}

describe('Dockerfile', () => {
  const dockerfile = DockerfileParser.parse(read('Dockerfile'));
  const stages = stagesOf(dockerfile);
  const runtime = stages.at(-1)!;
  const byName = new Map(stages.map((stage) => [stage.name, stage]));

  // npm ci, through scripts/npm-install-locked.sh (see its test).
  const INSTALL = /\bbash scripts\/npm-install-locked\.sh\b/;

  it('is multi-stage: locked install (npm ci) → build → runtime with production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const install = stages.find((stage) => runs(stage).some((run) => INSTALL.test(run) && !run.includes('--omit=dev')));
    const build = stages.find((stage) => runs(stage).some((run) => run.includes('npm run build')));
    const prodDeps = stages.find((stage) => runs(stage).some((run) => INSTALL.test(run) && run.includes('--omit=dev')));
    expect([install?.name, build?.name, prodDeps?.name].every(Boolean)).toBe(true);
    expect(build!.from.getImageName()).toBe(install!.name);
    expect(runs(runtime).some((run) => /\bnpm\b/.test(run) && !run.startsWith('rm '))).toBe(false);
    const copies = keyword(runtime, 'COPY') as Copy[];
    const fromStages = copies.map((copy) => [copy.getFromFlag()?.getValue(), copy.getArguments().map((argument) => argument.getValue())]);
    expect(fromStages).toEqual(
      expect.arrayContaining([
        [prodDeps!.name, ['/app/node_modules', './node_modules']],
        [build!.name, ['/app/build', './build']],
        [undefined, ['package.json', './']],
      ]),
    );
    expect(copies.map((copy) => copy.getFromFlag()?.getValue()).filter(Boolean)).not.toContain(install!.name);
  });

  it('proves the native bcrypt binary loads for the target platform while building the production dependencies', () => {
    const prodDeps = stages.find((stage) => runs(stage).some((run) => INSTALL.test(run) && run.includes('--omit=dev')))!;
    expect(prodDeps.from.getPlatformFlag()).toBeNull(); // the target platform, unlike the build-platform stages
    expect(runs(prodDeps).join('\n')).toMatch(/node -e "require\('@node-rs\/bcrypt'\)\.hashSync\(/);
  });

  it('installs without running package install scripts', () => {
    const installs = stages.flatMap(runs).filter((run) => INSTALL.test(run));
    expect(installs).toHaveLength(2);
    for (const run of installs) expect(run).toContain('--ignore-scripts');
  });

  it('pins every base image to an exact version and a digest; the runtime base is minimal', () => {
    const external = stages.filter((stage) => !byName.has(stage.from.getImageName() ?? ''));
    expect(external.length).toBeGreaterThan(0);
    for (const { from } of external) {
      expect(from.getImageTag()).toMatch(/^\d+\.\d+\.\d+(-[\w.-]+)?$/);
      expect(from.getImageDigest()).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const base = runtime.from;
    expect(`${base.getImageName()}:${base.getImageTag()}`).toMatch(/^(node:\d+\.\d+\.\d+-\w+-slim|gcr\.io\/distroless\/nodejs\d+-\w+)/);
  });

  it('runs as a numeric non-root user', () => {
    const users = keyword(runtime, 'USER').map((user) => user.getArgumentsContent());
    expect(users).toEqual(['10001:10001']);
    const [uid, gid] = users[0]!.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
  });

  it('needs no shell at runtime: exec-form ENTRYPOINT, CMD and HEALTHCHECK', () => {
    expect(keyword(runtime, 'SHELL')).toHaveLength(0);
    const [entrypoint] = keyword(runtime, 'ENTRYPOINT');
    const [cmd] = keyword(runtime, 'CMD');
    expect(json(entrypoint!)).toEqual(['node']);
    expect(json(cmd!)).toEqual(['build/app/main.js', 'api']);
    for (const healthcheck of keyword(runtime, 'HEALTHCHECK')) expect(healthcheck.getArgumentsContent()).toMatch(/CMD \["node",/);
  });

  it('writes nothing outside /tmp: root-owned application files, temp and home in /tmp, no volumes', () => {
    const env = Object.fromEntries(
      keyword(runtime, 'ENV').flatMap((instruction) =>
        (instruction as Label).getProperties().map((property) => [property.getName(), unquote(property.getValue())]),
      ),
    );
    expect(env).toMatchObject({ NODE_ENV: 'production', PORT: '8080', HOME: '/tmp', TMPDIR: '/tmp' });
    expect(keyword(runtime, 'WORKDIR').map((workdir) => workdir.getArgumentsContent())).toEqual(['/app']);
    expect(keyword(runtime, 'VOLUME')).toHaveLength(0);
    for (const copy of keyword(runtime, 'COPY') as Copy[]) expect(copy.getFlags().map((flag) => flag.getName())).not.toContain('chown');
    const userLine = keyword(runtime, 'USER')[0]!.getRange().start.line;
    expect(keyword(runtime, 'RUN').filter((run) => run.getRange().start.line > userLine)).toHaveLength(0);
    expect(keyword(runtime, 'EXPOSE').map((expose) => expose.getArgumentsContent())).toEqual(['8080 9090']);
  });

  it('carries the OCI labels', () => {
    const labels = Object.fromEntries(
      keyword(runtime, 'LABEL').flatMap((instruction) =>
        (instruction as Label).getProperties().map((property) => [property.getName(), unquote(property.getValue())]),
      ),
    );
    for (const name of ['title', 'description', 'source', 'licenses', 'version', 'revision', 'created']) {
      expect(labels[`org.opencontainers.image.${name}`]).toBeTruthy();
    }
    expect(labels['org.opencontainers.image.revision']).toBe('${REVISION}');
  });

  it('bakes no secrets and fetches nothing with ADD', () => {
    for (const stage of stages) {
      expect(keyword(stage, 'ADD')).toHaveLength(0);
      for (const instruction of [...keyword(stage, 'ENV'), ...keyword(stage, 'ARG')])
        expect(instruction.getArgumentsContent()).not.toMatch(/PASSWORD|SECRET|TOKEN|_KEY\b/i);
    }
  });

  describe('.dockerignore', () => {
    const patterns = read('.dockerignore').split('\n');

    it.each([
      '.git',
      '.git/config',
      'node_modules',
      'node_modules/pg/package.json',
      '.data',
      '.data/pg/PG_VERSION',
      'dist',
      'dist/dev/api.yaml',
      'build',
      'build/app/main.js',
      '.env',
      '.env.production',
      'app/src/.env',
      'app/test/unit/x.test.ts',
      'charts/main.ts',
      'infra/index.ts',
      'Pulumi.prod.yaml',
      'Dockerfile',
    ])('keeps %s out of the build context', (path) => expect(dockerignored(patterns, path)).toBe(true));

    it('lets in every file the Dockerfile copies from the context', () => {
      const sources = stages.flatMap((stage) =>
        (keyword(stage, 'COPY') as Copy[])
          .filter((copy) => !copy.getFromFlag())
          .flatMap((copy) =>
            copy
              .getArguments()
              .slice(0, -1)
              .map((argument) => argument.getValue()),
          ),
      );
      expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'scripts/npm-install-locked.sh', 'app/src']));
      for (const source of sources) expect({ source, ignored: dockerignored(patterns, source) }).toEqual({ source, ignored: false });
      expect(dockerignored(patterns, 'app/src/main.ts')).toBe(false);
      expect(dockerignored(patterns, 'app/src/adapters/postgres/migrations/001_init.sql')).toBe(false);
    });

    it('follows Docker matching rules (self-check of the evaluator)', () => {
      expect(dockerignored(['*', '!keep'], 'keep/a/b')).toBe(false);
      expect(dockerignored(['**/*.log'], 'a/b/c.log')).toBe(true);
      expect(dockerignored(['**/*.log'], 'c.log')).toBe(true);
      expect(dockerignored(['*.md', '!README.md'], 'README.md')).toBe(false);
      expect(dockerignored(['docs'], 'docs/a.md')).toBe(true);
      expect(dockerignored(['*'], 'a/b')).toBe(true);
    });
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Obj> };
  const services = compose.services;

  it('runs PostgreSQL, Redis and RabbitMQ with management, each with a health check and a pinned major version', () => {
    expect(services.postgres?.image).toMatch(/^postgres:16\b/);
    expect(services.redis?.image).toMatch(/^redis:7\b/);
    expect(services.rabbitmq?.image).toMatch(/^rabbitmq:4[\w.-]*management/);
    for (const name of ['postgres', 'redis', 'rabbitmq']) {
      expect((services[name]!.healthcheck as Obj).test).toEqual(expect.arrayContaining(['CMD']));
    }
    for (const service of Object.values(services)) if (service.image) expect(service.image).not.toMatch(/:latest$|^[^:]+$/);
  });

  it('publishes ports on 127.0.0.1 only', () => {
    for (const service of Object.values(services))
      for (const port of (service.ports as string[] | undefined) ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
  });

  it('builds the service from the Dockerfile, migrates first, and runs it hardened with a health check', () => {
    const app = services.app!;
    expect(app.build).toBe('.');
    expect(app).toMatchObject({ user: '10001:10001', read_only: true, tmpfs: ['/tmp'], cap_drop: ['ALL'] });
    expect(app.command).toEqual(['build/app/main.js', 'all']);
    expect(app.depends_on).toMatchObject({
      migrate: { condition: 'service_completed_successfully' },
      redis: { condition: 'service_healthy' },
      rabbitmq: { condition: 'service_healthy' },
    });
    expect(services.migrate?.command).toEqual(['build/app/main.js', 'migrate']);
    expect(services.migrate?.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
    expect((app.healthcheck as Obj).test).toEqual(expect.arrayContaining(['CMD', 'node']));
    expect(app.environment).toMatchObject({
      DATABASE_URL: expect.stringContaining('@postgres:5432/'),
      REDIS_URL: 'redis://redis:6379',
      AMQP_URL: expect.stringContaining('@rabbitmq:5672'),
    });
    expect(services.migrate?.environment).toMatchObject({ NODE_ENV: 'production' });
  });

  /** A service's environment as compose resolves it with nothing exported (`${NAME:-default}` → default). */
  const environmentOf = (service: string): NodeJS.ProcessEnv =>
    Object.fromEntries(
      Object.entries(services[service]!.environment as Record<string, string>).map(([key, value]) => [
        key,
        String(value).replace(/\$\{\w+:-([^}]*)\}/g, '$1'),
      ]),
    );

  it('gives each container what its role needs to start (the config the service loads, as compose resolves it)', () => {
    expect(() => loadConfig(environmentOf('migrate'), 'migrate')).not.toThrow();
    // the all role includes payments: with no Stripe keys it needs the local provider, so not production
    expect(() => loadConfig(environmentOf('app'), 'all')).not.toThrow();
    expect(() => loadConfig({ ...environmentOf('app'), NODE_ENV: 'production' }, 'all')).toThrow(/STRIPE_/);
  });

  it('has every service `make deps-up` starts', () => {
    const line = read('Makefile').match(/docker compose up -d --wait (.+)/)?.[1] ?? '';
    const wanted = line.split(/\s+/).filter(Boolean);
    expect(wanted.length).toBeGreaterThan(0);
    for (const name of wanted) expect(Object.keys(services)).toContain(name);
  });
});
