/**
 * Runs the Pulumi program under `pulumi.runtime.setMocks`, recording every resource the program
 * registers with the inputs it passed. Remote components (awsx Vpc, eks Cluster/ManagedNodeGroup,
 * yaml.v2 ConfigGroup) appear as ONE resource here, so tests assert on their inputs; their
 * outputs are the canned values below. Every Output resolves, so nothing hangs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SECRET_SIG = '4dabf18193072939515e22adb298388d';
const SECRET_VALUE = '1b47061264138c4ac30d75fd1eb44270';

export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  provider?: string;
  id?: string;
  /** Logical names of the resources passed in `dependsOn` (explicit ordering only). */
  dependsOn: string[];
  /** `providers` option (package → provider logical name): how remote components get theirs. */
  providers: Record<string, string>;
  /** Type of the `parent` option's resource; undefined = the stack. */
  parentType?: string;
  deleteBeforeReplace?: boolean;
  /** The `ignoreChanges` option (property paths Pulumi never diffs). */
  ignoreChanges?: string[];
}

/** A function the program invoked (e.g. command:local:run), with its arguments. */
export interface Invoked {
  token: string;
  args: Record<string, unknown>;
}

export const MOCK = {
  vpcId: 'vpc-0mock',
  publicSubnetIds: ['subnet-pub-a', 'subnet-pub-b', 'subnet-pub-c'],
  privateSubnetIds: ['subnet-node-a', 'subnet-node-b', 'subnet-node-c'],
  dataSubnetIds: ['subnet-data-a', 'subnet-data-b', 'subnet-data-c'],
  nodeSecurityGroupId: 'sg-eks-nodes',
  rdsAddress: 'goticket-db.c0mock.eu-west-1.rds.amazonaws.com',
  redisPrimary: 'master.goticket-cache.c0mock.euw1.cache.amazonaws.com',
  mqEndpoint: 'amqps://b-0mock.mq.eu-west-1.amazonaws.com:5671',
  lbHostname: 'a0mock.elb.eu-west-1.amazonaws.com',
  certPem: '-----BEGIN CERTIFICATE-----\nMOCKCERT\n-----END CERTIFICATE-----\n',
  keyPem: '-----BEGIN RSA PRIVATE KEY-----\nMOCKKEY\n-----END RSA PRIVATE KEY-----\n',
  kubeconfig: 'apiVersion: v1\nkind: Config\nclusters: []\n',
  /** As long as the longest RandomPassword the program asks for (48), so the service accepts it as a JWT secret. */
  password: (name: string) => `pw${name.replace(/[^A-Za-z0-9]/g, '')}X9`.padEnd(48, '0'),
};

function outputsFor(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case 'awsx:ec2:Vpc':
      return {
        vpcId: MOCK.vpcId,
        publicSubnetIds: MOCK.publicSubnetIds,
        privateSubnetIds: MOCK.privateSubnetIds,
        isolatedSubnetIds: MOCK.dataSubnetIds,
      };
    case 'eks:index:Cluster':
      return {
        kubeconfigJson: '{"apiVersion":"v1","kind":"Config"}',
        nodeSecurityGroupId: MOCK.nodeSecurityGroupId,
        clusterSecurityGroupId: MOCK.nodeSecurityGroupId,
        eksCluster: { name: inputs.name },
      };
    case 'aws:rds/instance:Instance':
      return { address: MOCK.rdsAddress, endpoint: `${MOCK.rdsAddress}:5432` };
    case 'aws:elasticache/replicationGroup:ReplicationGroup':
      return { primaryEndpointAddress: MOCK.redisPrimary };
    case 'aws:mq/broker:Broker':
      return { instances: [{ endpoints: [MOCK.mqEndpoint], consoleUrl: 'https://console', ipAddress: '' }] };
    case 'aws:ecr/repository:Repository':
      return { repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${String(inputs.name)}` };
    case 'random:index/randomPassword:RandomPassword':
      return { result: MOCK.password(name) };
    case 'tls:index/privateKey:PrivateKey':
      return { privateKeyPem: MOCK.keyPem, publicKeyPem: 'PUBLIC' };
    case 'tls:index/selfSignedCert:SelfSignedCert':
      return { certPem: MOCK.certPem };
    case 'command:local:Command':
      return { stdout: '', stderr: '' };
    case 'kubernetes:helm.sh/v3:Release':
      return { status: { name: inputs.name, namespace: inputs.namespace, status: 'deployed', version: inputs.version } };
    case 'kubernetes:core/v1:Service':
      return { status: { loadBalancer: { ingress: [{ hostname: MOCK.lbHostname }] } } };
    default:
      return {};
  }
}

/** What an invoked function returns: `kind get kubeconfig` (run on every preview and up) prints the mock kubeconfig. */
function invokeResult(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  if (token === 'command:local:run') return { stdout: MOCK.kubeconfig, stderr: '' };
  return inputs;
}

/** Stack config from a committed Pulumi.<stack>.yaml, as `pulumi.runtime.setAllConfig` wants it. */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, string> {
  const file = parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config: Record<string, unknown> };
  const merged: Record<string, unknown> = { ...file.config, ...overrides };
  return Object.fromEntries(
    Object.entries(merged)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
}

/**
 * Pulumi.prod.yaml as a team fills it in (the committed file keeps documentation placeholders,
 * which the program refuses): the prod tests, the policy tests and `make rehearse` run on this.
 */
export function filledInProdConfig(): Record<string, string> {
  const committed = parse(fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.prod.yaml'), 'utf8')) as {
    config: Record<string, Record<string, unknown>>;
  };
  return stackConfig('prod', {
    'goticket:host': 'tickets.goticket.cloud',
    'goticket:grafanaHost': 'grafana.goticket.cloud',
    'goticket:argocdHost': 'argocd.goticket.cloud',
    'goticket:acmeEmail': 'platform@goticket.cloud',
    'goticket:oauthGoogleClientSecret': 'GOCSPX-test-google-client-secret',
    'goticket:oauthGithubClientSecret': 'test-github-client-secret-0123456789abcdef',
    'goticket:stripeApiKey': 'sk_live_goticketTestKey0123456789',
    'goticket:stripeWebhookSecret': 'whsec_goticketTestSecret0123456789',
    'goticket:eks': {
      ...committed.config['goticket:eks'],
      publicAccessCidrs: ['35.180.10.0/24'],
      deployRoleArn: 'arn:aws:iam::210987654321:role/goticket-deploy',
      previewRoleArn: 'arn:aws:iam::210987654321:role/goticket-preview',
    },
  });
}

/** The config each stack's tests run on: the committed dev stack, the filled-in prod stack. */
export const testStackConfig = (stack: string): Record<string, string> => (stack === 'prod' ? filledInProdConfig() : stackConfig(stack));

export interface ProgramRun {
  resources: Recorded[];
  invokes: Invoked[];
  outputs: Record<string, unknown>;
  /** The program's exports, still as Outputs (for isSecret checks). */
  exports: Record<string, unknown>;
}

/** Set mocks and config, load infra/index.ts, wait for every registration, resolve exports. */
export async function runProgram(stack: string, config: Record<string, string>): Promise<ProgramRun> {
  const resources: Recorded[] = [];
  const invokes: Invoked[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const inputs = args.inputs as Record<string, unknown>;
        resources.push({ type: args.type, name: args.name, inputs, provider: args.provider, id: args.id, dependsOn: [], providers: {} });
        const state = {
          name: inputs.name ?? args.name,
          arn: `arn:aws:mock:::${args.name}`,
          ...inputs,
          ...outputsFor(args.type, args.name, inputs),
        };
        return { id: args.id || `${args.name}-id`, state };
      },
      call: (args) => {
        invokes.push({ token: args.token, args: args.inputs as Record<string, unknown> });
        return invokeResult(args.token, args.inputs as Record<string, unknown>);
      },
    },
    'goticket',
    stack,
    false,
  );
  pulumi.runtime.setAllConfig(config);
  // Stack transformations see each resource's options: record the explicit dependsOn.
  const explicit = new Map<string, pulumi.Resource[]>();
  const providerMaps = new Map<string, pulumi.ProviderResource[]>();
  const parents = new Map<string, pulumi.Resource>();
  const deleteFirst = new Set<string>();
  const ignored = new Map<string, string[]>();
  let exports: Record<string, unknown> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      const deps = t.opts.dependsOn;
      if (Array.isArray(deps))
        explicit.set(
          `${t.type}::${t.name}`,
          deps.filter((dep) => pulumi.Resource.isInstance(dep)),
        );
      else if (pulumi.Resource.isInstance(deps)) explicit.set(`${t.type}::${t.name}`, [deps]);
      const providers = (t.opts as pulumi.ComponentResourceOptions).providers;
      if (providers) providerMaps.set(`${t.type}::${t.name}`, Array.isArray(providers) ? providers : Object.values(providers));
      if (t.opts.parent) parents.set(`${t.type}::${t.name}`, t.opts.parent);
      if ((t.opts as pulumi.CustomResourceOptions).deleteBeforeReplace) deleteFirst.add(`${t.type}::${t.name}`);
      if (t.opts.ignoreChanges) ignored.set(`${t.type}::${t.name}`, [...t.opts.ignoreChanges]);
      return undefined;
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    exports = require('../index') as Record<string, unknown>;
    return undefined;
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const settings = require('@pulumi/pulumi/runtime/settings') as { waitForRPCs(): Promise<void> };
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exports)) outputs[key] = await resolve(value);
  await settings.waitForRPCs();
  for (const r of resources) {
    r.deleteBeforeReplace = deleteFirst.has(`${r.type}::${r.name}`) || undefined;
    r.ignoreChanges = ignored.get(`${r.type}::${r.name}`);
    const deps = explicit.get(`${r.type}::${r.name}`) ?? [];
    r.dependsOn = await Promise.all(deps.map(async (d) => (await resolve(d.urn))?.split('::').pop() ?? '?'));
    const parent = parents.get(`${r.type}::${r.name}`);
    // A URN ends in `::<type chain>::<name>`; the chain's last element is the resource's own type.
    const parentUrn = parent ? ((await resolve(parent.urn)) ?? '') : '';
    if (parentUrn && !parentUrn.endsWith('::pulumi:pulumi:Stack::goticket-' + pulumi.getStack()))
      r.parentType = parentUrn.split('::').slice(-2, -1)[0]?.split('$').pop();
    for (const p of providerMaps.get(`${r.type}::${r.name}`) ?? []) {
      const urn = (await resolve(p.urn)) ?? '';
      r.providers[urn.split('::').slice(-2, -1)[0]?.split(':').pop() ?? '?'] = urn.split('::').pop() ?? '?';
    }
  }
  return { resources: resources.filter((r) => r.type !== 'pulumi:pulumi:Stack'), invokes, outputs, exports };
}

/** Whether `from` waits for `to` through explicit dependsOn edges (transitively). */
export function waitsFor(run: ProgramRun, from: string, to: string): boolean {
  const byName = new Map(run.resources.map((r) => [r.name, r]));
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (name === to && name !== from) return true;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...(byName.get(name)?.dependsOn ?? []));
  }
  return false;
}

export function resolve<T>(value: pulumi.Input<T> | undefined): Promise<T | undefined> {
  return new Promise((done) => pulumi.output(value).apply((v) => done(v as T | undefined)));
}

// ---------------------------------------------------------------- inspecting inputs

export function isSecretValue(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

/** Inputs with secret wrappers removed (recursively). */
export function plain(v: unknown): unknown {
  if (isSecretValue(v)) return plain((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

export function ofType(run: ProgramRun, type: string): Recorded[] {
  return run.resources.filter((r) => r.type === type);
}

export function one(run: ProgramRun, type: string, predicate: (r: Recorded) => boolean = () => true): Recorded {
  const found = ofType(run, type).filter(predicate);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
}

export function field(r: Recorded, dotted: string): unknown {
  let v: unknown = plain(r.inputs);
  for (const k of dotted.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

/** Custom resources of a kind by metadata.name (k8s objects). */
export function k8sObject(run: ProgramRun, kind: string, name: string): Recorded {
  return one(run, `kubernetes:${kind}`, (r) => field(r, 'metadata.name') === name);
}

export function release(run: ProgramRun, releaseName: string): Recorded {
  return one(run, 'kubernetes:helm.sh/v3:Release', (r) => r.inputs.name === releaseName);
}

/** Base names of a Helm release's values files, in order. */
export async function valuesFileNames(r: Recorded): Promise<string[]> {
  const assets = (r.inputs.valueYamlFiles ?? []) as { path: Promise<string> | string }[];
  return (await Promise.all(assets.map((a) => Promise.resolve(a.path)))).map((p) => path.basename(p));
}

/** A provider reference is `<urn>::<id>`; the URN ends in `pulumi:providers:<pkg>::<name>`. */
export function providerOf(r: Recorded): { pkg: string; name: string } | undefined {
  if (!r.provider) return undefined;
  const parts = r.provider.split('::');
  const type = parts[parts.length - 3] ?? '';
  return { pkg: type.split(':').pop() ?? '', name: parts[parts.length - 2] ?? '' };
}

/**
 * The Kubernetes objects the program creates itself (Namespaces, Secrets, ClusterIssuers, the Argo
 * CD AppProject and Application, …) as manifests: not Helm releases, ConfigGroups or reads.
 */
export function kubernetesObjects(run: ProgramRun): Record<string, unknown>[] {
  return run.resources
    .filter((r) => /^kubernetes:[^:]+:[^:]+$/.test(r.type) && !/^kubernetes:(helm\.sh|yaml)\//.test(r.type) && !r.id)
    .map((r) => plain(r.inputs) as Record<string, unknown>);
}

/** Objects of dist/<env> (one per file), as committed. */
export function distObjects(environment: string): Record<string, unknown>[] {
  const dir = path.join(REPO_ROOT, 'dist', environment);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Record<string, unknown>);
}

/**
 * What an Argo CD AppProject refuses among `objects` (its sync would fail on them): cluster-scoped
 * kinds missing from clusterResourceWhitelist, namespaced objects outside its destinations.
 */
export function notPermittedByProject(project: Record<string, unknown>, objects: Record<string, unknown>[]): string[] {
  const spec = project.spec as { clusterResourceWhitelist?: { group: string; kind: string }[]; destinations: { namespace: string }[] };
  const out: string[] = [];
  for (const o of objects) {
    const { name, namespace } = o.metadata as { name: string; namespace?: string };
    const group = String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/')[0] : '';
    if (namespace === undefined) {
      const allowed = (spec.clusterResourceWhitelist ?? []).some(
        (w) => (w.group === '*' || w.group === group) && (w.kind === '*' || w.kind === o.kind),
      );
      if (!allowed) out.push(`${String(o.kind)}/${name} (cluster-scoped, not whitelisted)`);
    } else if (!spec.destinations.some((d) => d.namespace === '*' || d.namespace === namespace)) {
      out.push(`${String(o.kind)}/${namespace}/${name} (namespace not a destination)`);
    }
  }
  return out;
}
