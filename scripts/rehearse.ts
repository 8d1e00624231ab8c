/**
 * `make rehearse`: everything of the real deploy flow that runs without a cluster, a cloud, Docker
 * or the Pulumi CLI, one line per step (README "What the rehearsal proves"):
 *
 *   synth        a fresh synth of charts/ equals the committed dist/ (what Argo CD syncs)
 *   promote      `npm run promote -- --env prod --image <fake release>` on a copy of the repository,
 *                then the policy pack over the copy's dist/ (promote itself re-synthesizes and checks
 *                the image chain there)
 *   image chain  release.yml's tags and repositories, environments.ts, dist/ and `make kind-load` agree
 *   config       Pulumi.dev.yaml passes the program's validation; Pulumi.prod.yaml as committed stops
 *                with one line per placeholder key and per secret to set; a filled-in copy of it passes
 *   policy       the policy pack's Kubernetes rules over dist/
 *   e2e dry run  the steps of e2e-kind.yml that call scripts/kind-manifests.ts, run as written with a
 *                kubectl stand-in: the manifests Kind gets, the runtime Secret, the step outputs
 *
 * Exit 1 on the first failing step, with what failed.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { type RawConfig, SECRET_KEYS, parseStackConfig } from '../infra/config';
import { filledInProdConfig, stackConfig } from '../infra/test/harness';
import { runManifestCheck } from '../policies/manifests';
import { PAYMENTS, RUNTIME_KEYS, RUNTIME_SECRET } from '../platform/contract';
import { checkRepository } from './lib/image-chain';
import { copyRepository } from './lib/repo-copy';

const ROOT = resolve(__dirname, '..');

class StepFailure extends Error {}

const fail = (message: string): never => {
  throw new StepFailure(message);
};

/** A child process; rejects with its output when it fails. Steps run side by side, so this is asynchronous. */
function run(command: string, args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((done, reject) => {
    execFile(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (error) reject(new StepFailure(`${command} ${args.join(' ')} failed:\n${output}`));
      else done(output);
    });
  });
}

// ------------------------------------------------------------------ steps

async function synth(): Promise<string> {
  await run('bash', ['scripts/drift.sh']);
  return 'dist/ equals a fresh synth of charts/';
}

async function promoteOnCopy(): Promise<string> {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const reference = `ghcr.io/goticket-platform/goticket:${version}-0123456789ab@sha256:${'0123456789abcdef'.repeat(4)}`;
  const copy = copyRepository(ROOT, 'rehearse-');
  try {
    await run('npm', ['run', '--silent', 'promote', '--', '--env', 'prod', '--image', reference], copy.dir);
    const api = readFileSync(join(copy.dir, 'dist', 'prod', 'Deployment.goticket-api.k8s.yaml'), 'utf8');
    if (!api.includes(`image: ${reference}`)) fail(`the copy's dist/prod does not run ${reference}`);
    const policy = runManifestCheck([join(copy.dir, 'dist')]);
    if (policy.exitCode !== 0) fail(`policy pack over the promoted dist/:\n${[...policy.out, ...policy.err].join('\n')}`);
    return `npm run promote -- --env prod --image <fake digest> on a copy: re-synthesized, image chain and policy pack pass`;
  } finally {
    copy.remove();
  }
}

function imageChain(): string {
  const problems = checkRepository(ROOT);
  if (problems.length > 0) fail(problems.join('\n'));
  return 'release.yml, environments.ts, dist/ and make kind-load agree';
}

/** `pulumi.runtime.setAllConfig` form (objects as JSON) → the raw object infra/config.ts validates. */
function rawConfig(config: Record<string, string>): RawConfig {
  const raw: RawConfig = {};
  for (const [key, text] of Object.entries(config)) {
    const [namespace, name = ''] = key.split(':');
    let value: unknown = text;
    if (/^[[{]/.test(text)) value = JSON.parse(text);
    if (namespace === 'aws' && name === 'region') raw.awsRegion = value;
    else if (namespace === 'goticket') raw[name] = value;
  }
  return raw;
}

function config(): string {
  parseStackConfig(rawConfig(stackConfig('dev')));
  let refused: string[] = [];
  try {
    parseStackConfig(rawConfig(stackConfig('prod')));
  } catch (error) {
    refused = (error as Error).message.split('\n');
  }
  if (refused.length === 0) fail('Pulumi.prod.yaml as committed passes: it should stop at its placeholders');
  // Expected: placeholder values (one line naming what to set), and secrets, which no committed file holds.
  const secrets = new Set<string>(SECRET_KEYS.map((key) => `goticket:${key}`));
  const placeholder = (line: string) => /^invalid config ([\w:.]+): .+[:;] set .+$/.exec(line)?.[1];
  const secret = (line: string) => {
    const key = /^missing config ([\w:.]+)$/.exec(line)?.[1];
    return key !== undefined && secrets.has(key) ? key : undefined;
  };
  const unexpected = refused.filter((line) => placeholder(line) === undefined && secret(line) === undefined);
  if (unexpected.length > 0) fail(`Pulumi.prod.yaml fails for more than its placeholders and secrets:\n${unexpected.join('\n')}`);
  const keys = refused.map(placeholder).filter((key) => key !== undefined);
  const toSet = refused.map(secret).filter((key) => key !== undefined);
  parseStackConfig(rawConfig(filledInProdConfig()));
  return `dev passes; prod as committed stops at ${keys.length} placeholders (${keys.join(', ')}) and ${toSet.length} secrets to set (${toSet.join(', ')}); filled in, it passes`;
}

function policy(): string {
  const result = runManifestCheck([join(ROOT, 'dist')]);
  if (result.exitCode !== 0) fail([...result.out, ...result.err].join('\n'));
  return [...result.out, ...result.err].find((line) => /violation/.test(line))?.replace(/^policy:manifests: /, '') ?? 'passes';
}

/** What a Kind cluster serves: the built-in kinds dist/dev uses plus the Gateway API's standard CRDs. */
const KIND_API_RESOURCES = [
  'configmaps cm v1 true ConfigMap',
  'namespaces ns v1 false Namespace',
  'secrets  v1 true Secret',
  'serviceaccounts sa v1 true ServiceAccount',
  'services svc v1 true Service',
  'deployments deploy apps/v1 true Deployment',
  'statefulsets sts apps/v1 true StatefulSet',
  'horizontalpodautoscalers hpa autoscaling/v2 true HorizontalPodAutoscaler',
  'jobs  batch/v1 true Job',
  'cronjobs cj batch/v1 true CronJob',
  'ingresses ing networking.k8s.io/v1 true Ingress',
  'networkpolicies netpol networking.k8s.io/v1 true NetworkPolicy',
  'poddisruptionbudgets pdb policy/v1 true PodDisruptionBudget',
  'roles  rbac.authorization.k8s.io/v1 true Role',
  'rolebindings  rbac.authorization.k8s.io/v1 true RoleBinding',
  'gateways gtw gateway.networking.k8s.io/v1 true Gateway',
  'httproutes  gateway.networking.k8s.io/v1 true HTTPRoute',
  'grpcroutes  gateway.networking.k8s.io/v1 true GRPCRoute',
].join('\n');

const KUBECTL_STUB = `#!/bin/bash
# kubectl for a dry run: api-resources answers from a file; apply -f keeps a copy of the file;
# create secret tls needs its certificate and key files; wait for a Gateway needs it applied first;
# nothing else runs.
[ "$1" = -n ] && shift 2
case "$1" in
  api-resources) cat "$REHEARSE_API_RESOURCES" ;;
  apply) [ "$2" = -f ] && [ -s "$3" ] || { echo "kubectl stand-in: apply needs -f <file that exists>" >&2; exit 1; }
    n=$(ls "$REHEARSE_APPLIED" | wc -l); cp "$3" "$REHEARSE_APPLIED/$n-$(basename "$3")" ;;
  create) [ "$2" = secret ] && [ "$3" = tls ] && [ "$5" = --cert ] && [ -s "$6" ] && [ "$7" = --key ] && [ -s "$8" ] \
      || { echo "kubectl stand-in: create secret tls <name> --cert <file> --key <file> (files that exist)" >&2; exit 1; }
    n=$(ls "$REHEARSE_APPLIED" | wc -l); echo "tls secret $4" > "$REHEARSE_APPLIED/$n-secret-$4.txt" ;;
  wait) gateway="\${3#gateway/}"
    grep -lq "^kind: Gateway$" "$REHEARSE_APPLIED"/* 2>/dev/null && grep -q "name: $gateway$" "$REHEARSE_APPLIED"/* \
      || { echo "kubectl stand-in: wait for $3 that was never applied" >&2; exit 1; } ;;
  *) echo "kubectl stand-in: '$*' needs a cluster" >&2; exit 1 ;;
esac
`;

type Obj = Record<string, unknown>;

/** The e2e-kind.yml steps that call scripts/kind-manifests.ts, run as written in `root` with a kubectl stand-in. */
export async function e2eDryRun(root = ROOT): Promise<string> {
  const workflow = parse(readFileSync(join(root, '.github', 'workflows', 'e2e-kind.yml'), 'utf8')) as {
    jobs: Record<string, { env?: Record<string, string>; steps?: Obj[] }>;
  };
  const job = workflow.jobs.e2e ?? fail('e2e-kind.yml has no e2e job');
  const steps = (job.steps ?? []).filter((step) => typeof step.run === 'string' && step.run.includes('scripts/kind-manifests.ts'));
  if (steps.length === 0) fail('e2e-kind.yml runs scripts/kind-manifests.ts in no step');
  const dir = mkdtempSync(join(tmpdir(), 'rehearse-e2e-'));
  try {
    const sha = 'e'.repeat(40);
    const expression = (text: string) => {
      const value = text.replace(/\$\{\{ github\.sha \}\}/g, sha).replace(/\$\{\{ github\.workspace \}\}/g, join(dir, 'workspace'));
      if (value.includes('${{')) fail(`e2e-kind.yml job env needs an expression the dry run cannot give: ${text}`);
      return value;
    };
    const jobEnv = Object.fromEntries(Object.entries(job.env ?? {}).map(([key, value]) => [key, expression(String(value))]));
    for (const folder of ['bin', 'applied', 'runner']) spawnSync('mkdir', ['-p', join(dir, folder)]);
    writeFileSync(join(dir, 'bin', 'kubectl'), KUBECTL_STUB);
    chmodSync(join(dir, 'bin', 'kubectl'), 0o755);
    writeFileSync(join(dir, 'api-resources.txt'), `${KIND_API_RESOURCES}\n`);
    const files = { output: join(dir, 'github-output'), env: join(dir, 'github-env') };
    writeFileSync(files.output, '');
    writeFileSync(files.env, '');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...jobEnv,
      PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`,
      RUNNER_TEMP: join(dir, 'runner'),
      GITHUB_OUTPUT: files.output,
      GITHUB_ENV: files.env,
      REHEARSE_API_RESOURCES: join(dir, 'api-resources.txt'),
      REHEARSE_APPLIED: join(dir, 'applied'),
    };
    // Each step with its own env: `${{ runner.temp }}` and earlier steps' outputs (the edge step takes the manifests step's host).
    const stepOutputs: Record<string, Record<string, string>> = {};
    const outputsSoFar = () =>
      Object.fromEntries(
        readFileSync(files.output, 'utf8')
          .split('\n')
          .flatMap((line) => (/^\w+=/.test(line) ? [line.split(/=(.*)/s, 2) as [string, string]] : [])),
      );
    for (const step of steps) {
      const before = outputsSoFar();
      const stepEnv = Object.fromEntries(
        Object.entries((step.env as Record<string, string> | undefined) ?? {}).map(([key, value]) => [
          key,
          String(value)
            .replace(/\$\{\{ runner\.temp \}\}/g, env.RUNNER_TEMP!)
            .replace(
              /\$\{\{ steps\.([\w-]+)\.outputs\.(\w+) \}\}/g,
              (_all, id: string, key: string) =>
                stepOutputs[id]?.[key] ?? fail(`e2e-kind.yml step env needs ${id}.outputs.${key}, which no earlier step gives`),
            ),
        ]),
      );
      if (Object.values(stepEnv).some((value) => value.includes('${{')))
        fail(`e2e-kind.yml step env needs an expression the dry run cannot give: ${JSON.stringify(step.env)}`);
      await run('bash', ['-e', '-o', 'pipefail', '-c', String(step.run)], root, { ...env, ...stepEnv });
      const after = outputsSoFar();
      if (typeof step.id === 'string')
        stepOutputs[step.id] = Object.fromEntries(Object.entries(after).filter(([key, value]) => before[key] !== value));
    }

    const outputs = Object.fromEntries(
      readFileSync(files.output, 'utf8')
        .split('\n')
        .flatMap((line) => (/^\w+=/.test(line) ? [line.split(/=(.*)/s, 2) as [string, string]] : [])),
    );
    for (const key of ['namespace', 'host', 'app_pods'])
      if (!outputs[key]) fail(`the manifests step gives no ${key} output (the smoke step needs it)`);
    if (!/^SMOKE_ADMIN_EMAIL=.+\nSMOKE_ADMIN_PASSWORD=.+\n$/.test(readFileSync(files.env, 'utf8')))
      fail('no SMOKE_ADMIN_EMAIL/SMOKE_ADMIN_PASSWORD for the smoke step');
    const manifests = jobEnv.MANIFESTS ?? fail('e2e-kind.yml job env has no MANIFESTS');
    const objects = (file: string) => parseAllDocuments(readFileSync(join(manifests, file), 'utf8')).map((doc) => doc.toJS() as Obj);
    const resources = objects('10-resources.yaml');
    const images = resources.flatMap((object) => JSON.stringify(object).match(/"image":"[^"]+"/g) ?? []);
    const service = images.filter((image) => image.includes(jobEnv.IMAGE ?? '<no IMAGE>'));
    if (service.length < 3) fail(`only ${service.length} containers run ${jobEnv.IMAGE ?? ''} in 10-resources.yaml`);
    if (images.some((image) => /\/goticket[:@]/.test(image))) fail('a goticket container still names the registry image');
    if (objects('00-namespaces.yaml').some((object) => object.kind !== 'Namespace')) fail('00-namespaces.yaml holds more than namespaces');
    const applied = readdirSync(join(dir, 'applied')).sort();
    const appliedObjects = applied
      .filter((file) => file.endsWith('.yaml'))
      .flatMap((file) => parseAllDocuments(readFileSync(join(dir, 'applied', file), 'utf8')).map((doc) => doc.toJS() as Obj));
    const secretNamed = (name: string) =>
      appliedObjects.find((object) => object.kind === 'Secret' && (object.metadata as Obj | undefined)?.name === name);
    const keysOf = (secret: Obj | undefined) => Object.keys((secret?.stringData as Obj | undefined) ?? {});
    const missing = RUNTIME_KEYS.filter((key) => !keysOf(secretNamed(RUNTIME_SECRET)).includes(key));
    if (missing.length > 0) fail(`the runtime Secret lacks ${missing.join(', ')}`);
    // the payments pods of dist/dev load their own Secret: without it they never start
    const missingPayments = PAYMENTS.secretKeys.filter((key) => !keysOf(secretNamed(PAYMENTS.secret)).includes(key));
    if (missingPayments.length > 0) fail(`the payments Secret ${PAYMENTS.secret} lacks ${missingPayments.join(', ')}`);
    if (existsSync(join(dir, 'runner', 'runtime-secret.yaml'))) fail('the runtime Secret file is left on the runner');
    if (existsSync(join(dir, 'runner', 'edge-tls.key'))) fail('the Gateway certificate key is left on the runner');
    const edge = applied
      .filter((file) => file.endsWith('edge.yaml'))
      .flatMap((file) => parseAllDocuments(readFileSync(join(dir, 'applied', file), 'utf8')).map((doc) => (doc.toJS() as Obj).kind));
    if (!edge.includes('Gateway')) fail('no step applies the shared Gateway');
    if (!applied.some((file) => file.includes('-secret-'))) fail('no certificate Secret for the Gateway listener');
    return `${steps.length} kind-manifests steps of e2e-kind.yml: ${resources.length} objects, ${service.length} containers on the loaded image, runtime Secret with ${RUNTIME_KEYS.length} keys and the payments Secret with ${PAYMENTS.secretKeys.length}, host ${outputs.host}, edge ${edge.join('+')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** In report order; the ones with child processes start first and run side by side. */
export const STEPS: readonly (readonly [string, () => string | Promise<string>])[] = [
  ['synth', synth],
  ['promote', promoteOnCopy],
  ['image chain', imageChain],
  ['config', config],
  ['policy', policy],
  ['e2e dry run', () => e2eDryRun()],
];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const started = Date.now();
  const timed = (step: () => string | Promise<string>) => {
    const t0 = Date.now();
    // a synchronous step's throw becomes a rejection, so every step reports in order
    return Promise.resolve()
      .then(step)
      .then((line) => ({ line, ms: Date.now() - t0 }));
  };
  const asynchronous = new Set<string>(['synth', 'promote', 'e2e dry run']);
  const running = new Map(STEPS.filter(([name]) => asynchronous.has(name)).map(([name, step]) => [name, timed(step)]));
  for (const promise of running.values()) promise.catch(() => undefined); // reported below, in order
  for (const [name, step] of STEPS) {
    try {
      const { line, ms } = await (running.get(name) ?? timed(step));
      console.log(`rehearse: ${name}: ${line} (${seconds(ms)})`);
    } catch (error) {
      console.error(`rehearse: ${name} FAILED: ${(error as Error).message}`);
      return 1;
    }
  }
  console.log(
    `rehearse: ${STEPS.length} steps passed in ${seconds(Date.now() - started)}; what only GitHub can prove: README "What the rehearsal proves"`,
  );
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(`rehearse: ${(error as Error).message}`);
      process.exitCode = 1;
    },
  );
}
