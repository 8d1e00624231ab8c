/**
 * GitHub Actions: schema validation (@action-validator/cli, offline) and the delivery rules
 * the workflows must keep: minimal permissions, pinned actions, npm cache, OIDC only, the
 * protected prod `pulumi up`, fork-safe e2e, and a release that promotes by pull request.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { jobsOf, localActions, type Obj, ROOT, runScript, type Step, workflow, workflows } from './github-files';

const ALL = [...workflows(), ...localActions()];
const WORKFLOWS = workflows();
const EXPECTED = ['ci.yml', 'e2e-kind.yml', 'pulumi.yml', 'release.yml'];

describe('workflow files', () => {
  it('has the four delivery workflows', () => {
    expect(WORKFLOWS.map((wf) => wf.file.split('/').pop())).toEqual(expect.arrayContaining(EXPECTED));
  });

  it.each(ALL.map((wf) => [wf.file]))('%s passes action-validator', (file) => {
    const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'action-validator'), [file], { cwd: ROOT, encoding: 'utf8' });
    expect({ file, status: result.status, errors: result.status === 0 ? '' : `${result.stdout}${result.stderr}` }).toEqual({
      file,
      status: 0,
      errors: '',
    });
  });
});

describe('security and hygiene rules for every workflow', () => {
  // What a job may add on top of the workflow-wide `contents: read`, and where.
  const ALLOWED: Record<string, string[]> = {
    'contents: write': ['release.yml/promote'],
    'packages: write': ['release.yml/image'],
    'id-token: write': ['release.yml/image', 'pulumi.yml/preview-prod', 'pulumi.yml/up-prod'],
    'pull-requests: write': ['release.yml/promote', 'pulumi.yml/preview-dev', 'pulumi.yml/preview-prod'],
  };

  it.each(WORKFLOWS.map((wf) => [wf.file, wf]))('%s: permissions are read-only at the top and minimal per job', (_file, wf) => {
    expect(wf.doc.permissions).toEqual({ contents: 'read' });
    const name = wf.file.split('/').pop()!;
    for (const [job, spec] of Object.entries(jobsOf(wf))) {
      if (spec.permissions === undefined) continue;
      expect(typeof spec.permissions).toBe('object');
      for (const [scope, level] of Object.entries(spec.permissions as Obj)) {
        if (level === 'read' || level === 'none') continue;
        const grant = `${scope}: ${String(level)}`;
        const id = `${name}/${job}`;
        expect({ grant, id, allowed: (ALLOWED[grant] ?? []).includes(id) }).toEqual({ grant, id, allowed: true });
      }
    }
  });

  it.each(ALL.map((wf) => [wf.file, wf]))('%s: third-party actions are pinned to a commit SHA with a version comment', (_file, wf) => {
    const uses = [...wf.text.matchAll(/^\s*-?\s*uses:\s*(\S+)(.*)$/gm)];
    expect(uses.length).toBeGreaterThan(0);
    for (const [, ref, rest] of uses) {
      if (ref!.startsWith('./')) continue;
      expect(`${ref}${rest}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it('pins each action to one SHA everywhere', () => {
    const seen = new Map<string, Set<string>>();
    for (const wf of ALL) {
      for (const [, action, sha] of wf.text.matchAll(/uses:\s*([\w.-]+\/[\w./-]+)@([0-9a-f]{40})/g)) {
        seen.set(action!, (seen.get(action!) ?? new Set()).add(sha!));
      }
    }
    for (const [action, shas] of seen) expect({ action, shas: [...shas].length }).toEqual({ action, shas: 1 });
  });

  it('stores no long-lived cloud credentials and never checks out with a persisted token', () => {
    for (const wf of ALL) {
      expect({
        file: wf.file,
        found: wf.text.match(/aws-access-key-id|aws-secret-access-key|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|PULUMI_ACCESS_TOKEN/g),
      }).toEqual({ file: wf.file, found: null });
      for (const { step } of wf.steps) {
        if (step.uses?.startsWith('actions/checkout@')) expect(step.with?.['persist-credentials']).toBe(false);
      }
    }
  });

  it('never uses pull_request_target (untrusted code with a privileged token)', () => {
    for (const wf of WORKFLOWS) expect(Object.keys(wf.doc.on as Obj)).not.toContain('pull_request_target');
  });

  it('installs npm dependencies only through the cached setup (actions/setup-node with cache: npm)', () => {
    const setup = localActions().find((action) => action.file === join('.github', 'actions', 'setup', 'action.yml'));
    expect(setup).toBeDefined();
    const node = setup!.steps.find(({ step }) => step.uses?.startsWith('actions/setup-node@'));
    expect(node?.step.with?.cache).toBe('npm');
    for (const wf of WORKFLOWS) {
      for (const [job, spec] of Object.entries(jobsOf(wf))) {
        const steps = spec.steps ?? [];
        const needsNode = steps.some((step) => /\b(npm|npx|make)\b/.test(step.run ?? ''));
        if (!needsNode) continue;
        const usesSetup = steps.some(
          (step) => step.uses === './.github/actions/setup' || (step.uses?.startsWith('actions/setup-node@') && step.with?.cache === 'npm'),
        );
        expect({ job: `${wf.file}/${job}`, usesSetup }).toEqual({ job: `${wf.file}/${job}`, usesSetup: true });
        expect(steps.some((step) => /\bnpm (ci|install)\b/.test(step.run ?? ''))).toBe(false);
      }
    }
  });

  it('gives every job a timeout', () => {
    for (const wf of WORKFLOWS)
      for (const [job, spec] of Object.entries(jobsOf(wf)))
        expect({ job: `${wf.file}/${job}`, timeout: typeof spec['timeout-minutes'] }).toEqual({
          job: `${wf.file}/${job}`,
          timeout: 'number',
        });
  });
});

describe('ci.yml', () => {
  const ci = workflow('ci.yml');
  const jobs = jobsOf(ci);

  it('runs on pull requests and pushes to main, cancelling superseded runs', () => {
    expect(Object.keys(ci.doc.on as Obj)).toEqual(expect.arrayContaining(['pull_request', 'push']));
    expect(ci.doc.concurrency).toMatchObject({ 'cancel-in-progress': true });
    expect(String((ci.doc.concurrency as Obj).group)).toContain('github.ref');
  });

  it('runs make test against PostgreSQL 16, Redis 7 and RabbitMQ 4.2 service containers on the standard ports', () => {
    const test = Object.values(jobs).find((job) => job.steps?.some((step) => step.run === 'make test'));
    expect(test).toBeDefined();
    const services = test!.services as Record<string, Obj>;
    expect(services.postgres).toMatchObject({ image: 'postgres:16.10', ports: ['5432:5432'] });
    expect(services.redis).toMatchObject({ image: 'redis:7', ports: ['6379:6379'] });
    expect(services.rabbitmq).toMatchObject({ image: 'rabbitmq:4.2.0', ports: ['5672:5672'] });
    for (const service of Object.values(services)) expect(String(service.options)).toContain('--health-cmd');
    expect(test!.env).toEqual({
      TEST_DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:5432/postgres',
      TEST_REDIS_URL: 'redis://127.0.0.1:6379',
      TEST_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
    });
  });

  it('checks synth drift, the policy pack over dist/ and the workflows themselves', () => {
    const runs = Object.values(jobs).flatMap((job) => (job.steps ?? []).map((step) => step.run ?? ''));
    expect(runs).toEqual(expect.arrayContaining(['make drift', 'make policy']));
    expect(runs.some((run) => run.includes('scripts/test/workflows.test.ts'))).toBe(true);
  });
});

describe('e2e-kind.yml', () => {
  const e2e = workflow('e2e-kind.yml');
  const steps = e2e.steps.map(({ step }) => step);
  const runs = steps.map((step) => step.run ?? '').join('\n');

  it('runs for pull requests, forks included: no secrets referenced', () => {
    expect(Object.keys(e2e.doc.on as Obj)).toContain('pull_request');
    expect(e2e.text).not.toMatch(/secrets\./);
  });

  describe('a gate branch protection can require: every pull request gets a result', () => {
    const jobs = jobsOf(e2e);
    const diff = jobs.changes!.steps!.find((step) => step.name?.startsWith('Files changed'))!;

    function decide(event: string, changed: string[]): string {
      const dir = mkdtempSync(join(tmpdir(), 'e2e-changes-'));
      try {
        const git = (...args: string[]) =>
          spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir, encoding: 'utf8' });
        git('init', '-q');
        writeFileSync(join(dir, 'base.txt'), 'base\n');
        git('add', '.');
        git('commit', '-qm', 'base');
        for (const file of changed) {
          mkdirSync(join(dir, file, '..'), { recursive: true });
          writeFileSync(join(dir, file), 'changed\n');
        }
        git('add', '.');
        git('commit', '-qm', 'change', '--allow-empty');
        const output = join(dir, 'github-output');
        const result = spawnSync('bash', ['-e', '-c', runScript(diff)!], {
          cwd: dir,
          encoding: 'utf8',
          env: { PATH: process.env.PATH, EVENT: event, GITHUB_OUTPUT: output },
        });
        expect(result.status).toBe(0);
        return readFileSync(output, 'utf8').trim();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }

    it('has no path filter on pull_request (a filtered required check never reports)', () => {
      const on = e2e.doc.on as Record<string, Obj | null>;
      expect(on.pull_request ?? {}).not.toHaveProperty('paths');
      expect(on.pull_request ?? {}).not.toHaveProperty('paths-ignore');
      expect(jobs.e2e).toMatchObject({ needs: 'changes', if: "needs.changes.outputs.e2e == 'true'" });
      expect(jobs.changes!.outputs).toEqual({ e2e: '${{ steps.diff.outputs.e2e }}' });
    });

    it.each([
      [
        ['README.md', 'docs/onboarding.md', 'bench/README.md', 'bench/run.ts', 'infra/test/dev.test.ts', 'policies/test/pack.test.ts'],
        'e2e=false',
      ],
      [['docs/onboarding.md', 'app/src/main.ts'], 'e2e=true'],
      [['Dockerfile'], 'e2e=true'],
      [['charts/environments.ts'], 'e2e=true'],
      [['scripts/smoke.ts'], 'e2e=true'],
    ])('pull request changing %j → %s', (changed, expected) => {
      expect(decide('pull_request', changed)).toBe(expected);
    });

    it('always runs the cluster for pushes to main and manual runs', () => {
      expect(decide('push', ['README.md'])).toBe('e2e=true');
      expect(decide('workflow_dispatch', ['docs/a.md'])).toBe('e2e=true');
    });
  });

  it('builds the image once and loads it into a Kind cluster made from infra/kind-config.yaml', () => {
    const builds = steps.filter((step) => step.uses?.startsWith('docker/build-push-action@'));
    expect(builds).toHaveLength(1);
    expect(builds[0]!.with).toMatchObject({ load: true, tags: '${{ env.IMAGE }}' });
    expect(steps.find((step) => step.uses?.startsWith('helm/kind-action@'))?.with).toMatchObject({ config: 'infra/kind-config.yaml' });
    expect(runs).toContain('kind load docker-image "$IMAGE"');
  });

  it('creates the runtime Secret through the script that stands in for Pulumi (scripts/kind-manifests.ts imports the contract), then applies it', () => {
    const secretStep = steps.find((step) => step.run?.includes('--runtime-secret'))!;
    const lines = secretStep.run!.trim().split('\n');
    expect(lines).toEqual([
      'kubectl apply -f "$MANIFESTS/00-namespaces.yaml"',
      'npx --no-install tsx scripts/kind-manifests.ts --runtime-secret "$RUNNER_TEMP/runtime-secret.yaml" --github-env "$GITHUB_ENV"',
      'kubectl apply -f "$RUNNER_TEMP/runtime-secret.yaml"',
      'rm -f "$RUNNER_TEMP/runtime-secret.yaml"',
    ]);
    // the pods' label selector comes from the same script (its outputs), not a copy in the workflow
    expect(steps.filter((step) => step.env?.APP_PODS !== undefined).map((step) => step.env!.APP_PODS)).toEqual([
      '${{ steps.manifests.outputs.app_pods }}',
      '${{ steps.manifests.outputs.app_pods }}',
    ]);
  });

  it('runs in the merge queue too, like ci.yml (a required check that never reports blocks the queue)', () => {
    expect(Object.keys(e2e.doc.on as object)).toContain('merge_group');
    expect(Object.keys(workflow('ci.yml').doc.on as object)).toContain('merge_group');
  });

  it('fronts the app with the shared Gateway the dev platform creates (pinned charts, the same objects), and verifies its certificate', () => {
    expect(e2e.text).not.toMatch(/ingress-nginx/);
    expect(runs).toContain('--skip-crds -f infra/values/envoy-gateway.yaml');
    expect(runs).toContain('-f infra/values/gateway-crds.yaml');
    // the CRDs before the controller, the controller before the Gateway, the Gateway before the app
    const at = (text: string) => runs.indexOf(text);
    expect(at('helm upgrade --install gateway-crds')).toBeLessThan(at('helm upgrade --install envoy-gateway'));
    expect(at('helm upgrade --install envoy-gateway')).toBeLessThan(at('kind-manifests.ts --edge'));
    expect(at('kind-manifests.ts --edge')).toBeLessThan(at('kubectl apply -f "$MANIFESTS/10-resources.yaml"'));
    const smoke = steps.find((step) => step.run?.includes('scripts/smoke.ts'))!;
    expect(smoke.env).not.toHaveProperty('NODE_TLS_REJECT_UNAUTHORIZED');
    expect(smoke.env?.NODE_EXTRA_CA_CERTS).toBe('${{ runner.temp }}/edge-tls.crt');
  });

  it('applies the rewritten dist/dev, waits, runs the smoke journey through the ingress and keeps logs on failure', () => {
    expect(runs).toMatch(/scripts\/kind-manifests\.ts --in dist\/dev/);
    expect(runs).toContain('rollout status');
    expect(runs).toContain('scripts/smoke.ts');
    const upload = steps.find((step) => step.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toBe('failure()');
  });
});

describe('release.yml', () => {
  const release = workflow('release.yml');
  const on = release.doc.on as { push: { branches: string[]; paths: string[] } };
  const steps = release.steps.map(({ step }) => step);

  it('runs on main only for image inputs, so the promotion PR (charts/, dist/) does not loop', () => {
    expect(on.push.branches).toEqual(['main']);
    expect(on.push.paths).toEqual(expect.arrayContaining(['app/src/**', 'Dockerfile', 'package-lock.json']));
    expect(on.push.paths.some((path) => path.startsWith('dist') || path.startsWith('charts'))).toBe(false);
  });

  it('builds multi-arch with provenance and SBOM, pushes to GHCR and to ECR through OIDC', () => {
    const build = steps.find((step) => step.uses?.startsWith('docker/build-push-action@'))!;
    expect(String(build.with?.platforms)).toMatch(/linux\/amd64.*linux\/arm64/);
    expect(build.with).toMatchObject({ push: true, sbom: true, provenance: 'mode=max' });
    expect(release.text).toContain('ghcr.io/');
    expect(steps.find((step) => step.uses?.startsWith('aws-actions/configure-aws-credentials@'))?.with).toHaveProperty('role-to-assume');
    expect(steps.some((step) => step.uses?.startsWith('aws-actions/amazon-ecr-login@'))).toBe(true);
  });

  it('promotes through npm run promote (scripts/promote.ts), never an inline edit, and opens the pull request with its result', () => {
    const promote = steps.find((step) => step.run?.includes('npm run promote'))!;
    expect(promote.run!.trim()).toBe('npm run promote -- --env "$ENVIRONMENT" --image "$IMAGE"');
    expect(promote.env).toMatchObject({
      ENVIRONMENT: "${{ inputs.environment || 'prod' }}",
      IMAGE: '${{ needs.image.outputs.repository }}:${{ needs.image.outputs.tag }}@${{ needs.image.outputs.digest }}',
    });
    expect(steps.filter((step) => /\bsed\b|charts\/environments\.ts/.test(step.run ?? ''))).toEqual([]);
    const pr = steps.find((step) => step.uses?.startsWith('peter-evans/create-pull-request@'))!;
    expect(String(pr.with?.['add-paths'])).toMatch(/charts\/environments\.ts[\s\S]*dist\/\*\*/);
  });

  it('a re-run of one commit reuses the image it pushed (IMMUTABLE ECR): no second build, the same digest promoted', () => {
    const jobs = jobsOf(release);
    const existing = steps.find((step) => step.id === 'existing')!;
    expect(existing.run).toBe('bash scripts/release-reuse.sh');
    expect(existing.env).toMatchObject({
      COMMIT_TAG: 'sha-${{ github.sha }}',
      IMAGES: '${{ steps.names.outputs.images }}',
      TAGS: '${{ steps.meta.outputs.tags }}',
    });
    const build = steps.find((step) => step.uses?.startsWith('docker/build-push-action@'))!;
    expect(build.if).toBe("steps.existing.outputs.digest == ''");
    const index = (step: unknown) => steps.indexOf(step as (typeof steps)[number]);
    expect(index(existing)).toBeLessThan(index(build));
    expect(index(steps.find((step) => step.id === 'meta'))).toBeLessThan(index(existing));
    expect((jobs.image as { outputs: Record<string, string> }).outputs.digest).toBe(
      '${{ steps.existing.outputs.digest || steps.build.outputs.digest }}',
    );
  });
});

describe('pulumi.yml', () => {
  const pulumi = workflow('pulumi.yml');
  const jobs = jobsOf(pulumi);
  const on = pulumi.doc.on as Record<string, { paths?: string[] }>;

  const previewOf = (stack: string) => {
    const found = Object.entries(jobs).filter(([, job]) =>
      (job.steps ?? []).some(
        (step) => step.uses?.startsWith('pulumi/actions@') && step.with?.command === 'preview' && step.with?.['stack-name'] === stack,
      ),
    );
    expect(found).toHaveLength(1);
    const [name, job] = found[0]!;
    return { name, job, action: job.steps!.find((step) => step.uses?.startsWith('pulumi/actions@'))! };
  };

  it('previews dev and prod on pull requests touching infra/ or Pulumi.*.yaml, with the policy pack and the diff on the PR', () => {
    expect(on.pull_request?.paths).toEqual(expect.arrayContaining(['infra/**', 'Pulumi.*.yaml']));
    for (const stack of ['dev', 'prod']) {
      const { job, action } = previewOf(stack);
      expect(job.if).toContain("github.event_name == 'pull_request'");
      expect(action.with).toMatchObject({ policyPacks: 'policies', diff: true, 'edit-pr-comment': true });
      expect(String(action.with?.['comment-on-pr'])).not.toBe('false');
    }
    expect(previewOf('prod').action.with).toMatchObject({ 'comment-on-pr': true, 'cloud-url': '${{ vars.PULUMI_BACKEND_URL }}' });
  });

  it('previews dev as a fresh stack in a throwaway backend on the runner: no shared state, no cloud credentials, forks included', () => {
    const { job, action } = previewOf('dev');
    expect(action.with).toMatchObject({
      'cloud-url': 'file://${{ runner.temp }}/pulumi-dev-state',
      upsert: true,
      'secrets-provider': 'passphrase',
    });
    expect(job.steps!.some((step) => step.run === 'mkdir -p "$RUNNER_TEMP/pulumi-dev-state"')).toBe(true);
    expect(job.if).not.toContain('head.repo.full_name');
    expect(action.with?.['comment-on-pr']).toBe('${{ github.event.pull_request.head.repo.full_name == github.repository }}');
    expect(JSON.stringify(job)).not.toMatch(/aws-actions|AWS_|secrets\.|PULUMI_BACKEND_URL/);
    expect((job.permissions as Obj)['id-token']).toBeUndefined();
    expect(pulumi.doc.env as Obj).not.toHaveProperty('PULUMI_BACKEND_URL'); // would override cloud-url
  });

  it('reaches AWS and the shared state only through OIDC role assumption, in the prod jobs', () => {
    const prodJobs = Object.entries(jobs).filter(([name]) => name.endsWith('-prod'));
    expect(prodJobs.map(([name]) => name).sort()).toEqual(['preview-prod', 'up-prod']);
    for (const [name, job] of prodJobs) {
      const aws = (job.steps ?? []).filter((step) => step.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      expect({ name, aws: aws.length }).toEqual({ name, aws: 1 });
      expect(aws[0]!.with).toHaveProperty('role-to-assume');
      expect((job.permissions as Obj)['id-token']).toBe('write');
    }
    expect(previewOf('prod').job.if).toContain('github.event.pull_request.head.repo.full_name == github.repository');
    expect((jobs['up-prod']!.env as Obj).PULUMI_BACKEND_URL).toBe('${{ vars.PULUMI_BACKEND_URL }}');
  });

  it('runs the prod jobs where the EKS API is reachable: a configurable runner, checked before Pulumi starts (break 3)', () => {
    expect(on.pull_request?.paths).toEqual(expect.arrayContaining(['platform/**']));
    expect(on.push?.paths).toEqual(expect.arrayContaining(['platform/**']));
    for (const name of ['preview-prod', 'up-prod']) {
      const job = jobs[name]!;
      expect(job['runs-on']).toBe(`\${{ fromJSON(vars.PULUMI_PROD_RUNS_ON || '"ubuntu-24.04"') }}`);
      const steps = job.steps!;
      const check = steps.findIndex((step) => step.run === 'npx --no-install tsx scripts/eks-reachable.ts --stack prod');
      const credentials = steps.findIndex((step) => step.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      const pulumiStep = steps.findIndex((step) => step.uses?.startsWith('pulumi/actions@') || /pulumi up\b/.test(step.run ?? ''));
      expect({ name, order: credentials < check && check < pulumiStep }).toEqual({ name, order: true });
    }
    // the dev preview needs no cluster and keeps the plain hosted runner
    expect(jobs['preview-dev']!['runs-on']).toBe('ubuntu-24.04');
  });

  it('runs pulumi up for prod only from main, behind the protected production environment, with the policy pack', () => {
    const ups = Object.entries(jobs).filter(([, job]) => (job.steps ?? []).some((step: Step) => /pulumi up\b/.test(step.run ?? '')));
    expect(ups.map(([name]) => name)).toEqual(['up-prod']);
    const [, up] = ups[0]!;
    expect(up.if).toContain("github.ref == 'refs/heads/main'");
    expect(up.environment).toMatchObject({ name: 'production' });
    expect(up.concurrency).toMatchObject({ 'cancel-in-progress': false });
    const run = up.steps!.map((step) => step.run ?? '').join('\n');
    expect(run).toMatch(/pulumi up --stack prod --yes .*--policy-pack policies/);
  });
});

describe('dependabot.yml', () => {
  it('updates npm, GitHub Actions and Docker on a schedule', () => {
    const config = parse(readFileSync(join(ROOT, '.github', 'dependabot.yml'), 'utf8')) as { version: number; updates: Obj[] };
    expect(config.version).toBe(2);
    const ecosystems = config.updates.map((update) => update['package-ecosystem']);
    expect(ecosystems).toEqual(expect.arrayContaining(['npm', 'github-actions', 'docker']));
    for (const update of config.updates) expect((update.schedule as Obj).interval).toMatch(/^(daily|weekly|monthly)$/);
  });
});
