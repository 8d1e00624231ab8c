/** The dev stack (Kind) under Pulumi mocks, with the committed Pulumi.dev.yaml. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { REPOSITORY_SECRET } from '../components/gitops';
import { CHARTS, VALUES_DIR } from '../components/helm';
import { kubeconfigCommand } from '../components/kind-cluster';
import {
  MOCK,
  REPO_ROOT,
  field,
  isSecretValue,
  k8sObject,
  ofType,
  one,
  plain,
  providerOf,
  release,
  runProgram,
  stackConfig,
  type ProgramRun,
  distObjects,
  kubernetesObjects,
  notPermittedByProject,
  valuesFileNames,
} from './harness';
import { validateInChild } from '../../charts/test/helpers';
import { CLUSTER_ISSUER_OF } from '../../platform/contract';
import { serviceStartupTests } from './service-startup';

let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram('dev', stackConfig('dev'));
});

describe('dev inventory', () => {
  it('creates no AWS resources at all', () => {
    const aws = run.resources.filter((r) => /^(aws|awsx|eks):/.test(r.type) || r.type === 'pulumi:providers:aws');
    expect(aws).toEqual([]);
  });

  it('creates the Kind cluster, platform, runtime and GitOps components', () => {
    const components = run.resources
      .filter((r) => r.type.startsWith('goticket:'))
      .map((r) => r.type)
      .sort();
    expect(components).toEqual([
      'goticket:cluster:KindCluster',
      'goticket:gitops:GitOps',
      'goticket:platform:Platform',
      'goticket:runtime:Runtime',
    ]);
  });

  it('installs every add-on as a Helm release', () => {
    const names = ofType(run, 'kubernetes:helm.sh/v3:Release')
      .map((r) => r.inputs.name)
      .sort();
    expect(names).toEqual([
      'argocd',
      'cert-manager',
      'envoy-gateway',
      'gateway-crds',
      'kube-prometheus-stack',
      'metrics-server',
      'prometheus-adapter',
      'sealed-secrets',
    ]);
  });

  it('sends every Kubernetes object through the Kind cluster provider, never the ambient kubeconfig', () => {
    const k8s = run.resources.filter((r) => r.type.startsWith('kubernetes:'));
    expect(k8s.length).toBeGreaterThan(10);
    for (const r of k8s) expect(providerOf(r)).toEqual({ pkg: 'kubernetes', name: 'dev-k8s' });
  });
});

describe('Kind cluster', () => {
  /** Runs the component's create command with a stand-in `kind` that logs its calls. */
  function runCreate(kindVersion: string, existing: string[]): { status: number | null; stderr: string; calls: string[] } {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kind-'));
    const log = path.join(bin, 'calls.log');
    fs.writeFileSync(
      path.join(bin, 'kind'),
      `#!/bin/sh\necho "$*" >> ${log}\ncase "$1" in\n  version) echo "kind v${kindVersion} go1.24.2 linux/amd64" ;;\n  get) printf '%s\\n' ${existing.join(' ')} ;;\nesac\n`,
      { mode: 0o755 },
    );
    const create = one(run, 'command:local:Command', (r) => r.name === 'dev-create').inputs.create as string;
    const result = spawnSync('/bin/sh', ['-c', create], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
    fs.rmSync(bin, { recursive: true, force: true });
    return { status: result.status, stderr: result.stderr, calls };
  }

  /** Runs a shell snippet with a stand-in `kind` whose every call runs `kindBody`. */
  function runShell(script: string, kindBody: string): { status: number | null; stderr: string } {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kind-'));
    fs.writeFileSync(path.join(bin, 'kind'), `#!/bin/sh\n${kindBody}\n`, { mode: 0o755 });
    const result = spawnSync('/bin/sh', ['-c', script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
    fs.rmSync(bin, { recursive: true, force: true });
    return { status: result.status, stderr: result.stderr };
  }

  it('creates the cluster from the committed kind-config.yaml when it does not exist', () => {
    const configPath = path.join(REPO_ROOT, 'infra', 'kind-config.yaml');
    const r = runCreate('0.29.0', ['other']);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual(['version', 'get clusters', `create cluster --name goticket --config ${configPath} --wait 180s`]);
  });

  it('adopts an existing cluster (make kind-up) instead of creating a second one', () => {
    expect(runCreate('0.24.0', ['goticket']).calls).toEqual(['version', 'get clusters']);
  });

  it('refuses a kind too old to enforce NetworkPolicies, with one line', () => {
    const r = runCreate('0.23.0', []);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('kind >= 0.24.0 is required (found 0.23.0): older kind does not enforce NetworkPolicies\n');
    expect(r.calls).toEqual(['version']);
    expect(runCreate('0.100.1', ['goticket']).status).toBe(0); // versions compare as numbers, not text
  });

  it('deletes the cluster on destroy', () => {
    expect(one(run, 'command:local:Command', (r) => r.name === 'dev-create').inputs.delete).toBe('kind delete cluster --name goticket');
  });

  it('reads the kubeconfig on every preview and up (an invoke, never a stored output), after the cluster exists, and keeps it secret (break 5)', async () => {
    // no stateful Command caches a kubeconfig: a cluster recreated outside Pulumi (new CA, new port) is picked up
    expect(ofType(run, 'command:local:Command').map((r) => r.name)).toEqual(['dev-create']);
    const reads = run.invokes.filter((i) => i.token === 'command:local:run');
    expect(reads.map((i) => i.args.command)).toEqual([kubeconfigCommand('goticket')]);
    const provider = one(run, 'pulumi:providers:kubernetes');
    expect(isSecretValue(provider.inputs.kubeconfig)).toBe(true);
    expect(plain(provider.inputs.kubeconfig)).toBe(MOCK.kubeconfig);
    expect(await pulumi.isSecret(run.exports.kubeconfig as pulumi.Output<string>)).toBe(true);
  });

  it('says what to do when the cluster was deleted outside Pulumi, in one line', () => {
    const r = runShell(kubeconfigCommand('goticket'), 'exit 1');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('Kind cluster goticket does not exist (deleted outside Pulumi?): make kind-up, then pulumi up again\n');
  });

  it('replaces the cluster delete-first when kind-config.yaml changes, so a cluster remains (break 5)', () => {
    const create = one(run, 'command:local:Command', (r) => r.name === 'dev-create');
    expect(create.deleteBeforeReplace).toBe(true);
    // The two orders a replacement can run in, against a kind that keeps its clusters in a file:
    // create-first finds the old cluster (no-op) and the old delete then removes it.
    const order = (first: 'create' | 'delete') => {
      const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'kind-state-'));
      const state = path.join(bin, 'clusters');
      fs.writeFileSync(state, 'goticket\n');
      fs.writeFileSync(
        path.join(bin, 'kind'),
        `#!/bin/sh\ncase "$1 $2" in\n  "version "*) echo "kind v0.29.0 go1.24 linux/amd64" ;;\n  "get clusters") cat ${state} ;;\n  "create cluster") echo goticket >> ${state} ;;\n  "delete cluster") : > ${state} ;;\nesac\n`,
        { mode: 0o755 },
      );
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
      const steps = first === 'create' ? [create.inputs.create, create.inputs.delete] : [create.inputs.delete, create.inputs.create];
      for (const step of steps) expect(spawnSync('/bin/sh', ['-c', step as string], { env }).status).toBe(0);
      const clusters = fs.readFileSync(state, 'utf8').trim();
      fs.rmSync(bin, { recursive: true, force: true });
      return clusters;
    };
    expect(order('create')).toBe('');
    expect(order('delete')).toBe('goticket');
  });
});

describe('platform on Kind', () => {
  it('pins every chart version and uses the committed values files', async () => {
    for (const r of ofType(run, 'kubernetes:helm.sh/v3:Release')) {
      const key = Object.keys(CHARTS).find((k) => CHARTS[k as keyof typeof CHARTS].chart === r.inputs.chart) as keyof typeof CHARTS;
      expect(r.inputs.version).toBe(CHARTS[key].version);
      expect(r.inputs.version).toMatch(/^v?\d+\.\d+\.\d+$/);
      expect(field(r, 'repositoryOpts.repo')).toBe(CHARTS[key].repo);
      expect(r.inputs.createNamespace).toBe(false);
      expect((await valuesFileNames(r))[0]).toBe(`${key}.yaml`);
    }
  });

  it('serves the resource metrics the api HPA of dist/dev scales on (metrics-server, Kind kubelet TLS)', async () => {
    const hpa = distObjects('dev').find((o) => o.kind === 'HorizontalPodAutoscaler') as { spec: { metrics: { type: string }[] } };
    expect(hpa.spec.metrics.map((m) => m.type)).toContain('Resource');
    const ms = release(run, 'metrics-server');
    expect(ms.inputs.namespace).toBe('kube-system');
    expect(await valuesFileNames(ms)).toEqual(['metrics-server.yaml', 'metrics-server.dev.yaml']);
    expect((parse(fs.readFileSync(path.join(VALUES_DIR, 'metrics-server.dev.yaml'), 'utf8')) as { args: string[] }).args).toEqual([
      '--kubelet-insecure-tls',
    ]);
  });

  it('uses the shared values of the edge charts (Kind differs only in the EnvoyProxy, infra/test/edge.test.ts)', async () => {
    expect(await valuesFileNames(release(run, 'envoy-gateway'))).toEqual(['envoy-gateway.yaml']);
  });

  it('has a self-signed ClusterIssuer (and no Let’s Encrypt) created after cert-manager', () => {
    const issuers = ofType(run, 'kubernetes:cert-manager.io/v1:ClusterIssuer').map((r) => field(r, 'metadata.name'));
    expect(issuers).toEqual(['selfsigned']);
    expect(issuers).toContain(CLUSTER_ISSUER_OF.dev); // the one the dev Gateway's certificates come from
    expect(field(k8sObject(run, 'cert-manager.io/v1:ClusterIssuer', 'selfsigned'), 'spec')).toEqual({ selfSigned: {} });
  });

  it('stores prometheus on Kind’s standard storage class with the configured retention', () => {
    const kps = release(run, 'kube-prometheus-stack');
    expect(field(kps, 'values.prometheus.prometheusSpec.retention')).toBe('3d');
    expect(field(kps, 'values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec')).toMatchObject({
      storageClassName: 'standard',
      resources: { requests: { storage: '5Gi' } },
    });
    expect(field(kps, 'values.grafana.ingress')).toEqual({ enabled: false });
    expect(field(k8sObject(run, 'gateway.networking.k8s.io/v1:HTTPRoute', 'grafana'), 'spec.hostnames')).toEqual(['grafana.localtest.me']);
  });
});

serviceStartupTests('dev', () => run);

describe('runtime Secret (dev)', () => {
  const secret = () => k8sObject(run, 'core/v1:Secret', 'goticket-runtime');

  it('lives in namespace goticket, which enforces Pod Security "restricted"', () => {
    expect(field(secret(), 'metadata.namespace')).toBe('goticket');
    expect(field(k8sObject(run, 'core/v1:Namespace', 'goticket'), 'metadata.labels')).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
  });

  it('points at the in-cluster dependencies with the generated passwords, every value secret', () => {
    // The values reach the provider as one secret: nothing in it is ever shown in plain text.
    expect(isSecretValue(secret().inputs.stringData)).toBe(true);
    const data = plain(secret().inputs.stringData) as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual([
      'AMQP_URL',
      'DATABASE_URL',
      'JWT_SECRET',
      'OAUTH_GITHUB_CLIENT_SECRET',
      'OAUTH_GOOGLE_CLIENT_SECRET',
      'POSTGRES_PASSWORD',
      'RABBITMQ_PASSWORD',
      'REDIS_PASSWORD',
      'REDIS_URL',
    ]);
    const pg = MOCK.password('runtime-postgres-password');
    const redis = MOCK.password('runtime-redis-password');
    const mq = MOCK.password('runtime-rabbitmq-password');
    expect(data).toEqual({
      DATABASE_URL: `postgres://goticket:${pg}@postgres:5432/goticket`,
      REDIS_URL: `redis://:${redis}@redis:6379`,
      AMQP_URL: `amqp://goticket:${mq}@rabbitmq:5672`,
      JWT_SECRET: MOCK.password('runtime-jwt-secret'),
      POSTGRES_PASSWORD: pg,
      REDIS_PASSWORD: redis,
      RABBITMQ_PASSWORD: mq,
      // social sign-in is off in dev (no client ids in charts/environments.ts): empty, not missing
      OAUTH_GOOGLE_CLIENT_SECRET: '',
      OAUTH_GITHUB_CLIENT_SECRET: '',
    });
  });

  it('generates a JWT secret of at least 32 bytes without URL-hostile characters', () => {
    const jwt = one(run, 'random:index/randomPassword:RandomPassword', (r) => r.name === 'runtime-jwt-secret');
    expect(jwt.inputs.length).toBeGreaterThanOrEqual(32);
    expect(jwt.inputs.special).toBe(false);
  });
});

describe('GitOps (dev)', () => {
  it('syncs dist/dev of the configured repository and revision with prune, self-heal and server-side apply', () => {
    const app = k8sObject(run, 'argoproj.io/v1alpha1:Application', 'goticket');
    expect(field(app, 'metadata.namespace')).toBe('argocd');
    expect(field(app, 'spec.source')).toEqual({
      repoURL: 'https://github.com/goticket-platform/goticket.git',
      targetRevision: 'main',
      path: 'dist/dev',
      directory: { recurse: false },
    });
    expect(field(app, 'spec.destination')).toEqual({ server: 'https://kubernetes.default.svc', namespace: 'goticket' });
    expect(field(app, 'spec.syncPolicy.automated')).toEqual({ prune: true, selfHeal: true });
    expect(field(app, 'spec.syncPolicy.syncOptions')).toEqual(expect.arrayContaining(['ServerSideApply=true', 'CreateNamespace=false']));
  });

  it('confines the Application to its repository and namespace through an AppProject', () => {
    const project = k8sObject(run, 'argoproj.io/v1alpha1:AppProject', 'goticket');
    expect(field(project, 'spec.sourceRepos')).toEqual(['https://github.com/goticket-platform/goticket.git']);
    expect(field(project, 'spec.destinations')).toEqual([{ server: 'https://kubernetes.default.svc', namespace: 'goticket' }]);
    // Only the one cluster-scoped kind dist/ holds (Namespace goticket): no ClusterRoles, CRDs, …
    expect(field(project, 'spec.clusterResourceWhitelist')).toEqual([{ group: '', kind: 'Namespace' }]);
    expect(field(k8sObject(run, 'argoproj.io/v1alpha1:Application', 'goticket'), 'spec.project')).toBe('goticket');
  });

  it('permits every object of dist/dev (Argo CD fails the whole sync on one it refuses)', () => {
    const project = plain(k8sObject(run, 'argoproj.io/v1alpha1:AppProject', 'goticket').inputs) as Record<string, unknown>;
    const objects = distObjects('dev');
    expect(objects.some((o) => o.kind === 'Namespace')).toBe(true);
    expect(notPermittedByProject(project, objects)).toEqual([]);
    // The check itself refuses what the project does not list.
    expect(
      notPermittedByProject(project, [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'x' } }]),
    ).toEqual(['ClusterRole/x (cluster-scoped, not whitelisted)']);
    expect(
      notPermittedByProject(project, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' } }]),
    ).toHaveLength(1);
  });

  it('creates no repository credential for a public gitRepoUrl (Argo CD reads it anonymously)', () => {
    expect(ofType(run, 'kubernetes:core/v1:Secret').map((r) => field(r, 'metadata.name'))).not.toContain(REPOSITORY_SECRET);
  });

  it('applies nothing directly (no ConfigGroup) in gitops mode', () => {
    expect(ofType(run, 'kubernetes:yaml/v2:ConfigGroup')).toEqual([]);
  });
});

describe('dev stack outputs', () => {
  it('reports hosts, URLs, in-cluster endpoints and the sealing certificate', () => {
    expect(run.outputs).toMatchObject({
      environment: 'dev',
      clusterName: 'goticket',
      ingressHostname: 'goticket.localtest.me',
      appUrl: 'https://goticket.localtest.me',
      grafanaUrl: 'https://grafana.localtest.me',
      argocdUrl: 'https://argocd.localtest.me',
      ingressAddress: 'localhost',
      databaseEndpoint: 'postgres.goticket.svc:5432',
      cacheEndpoint: 'redis.goticket.svc:6379',
      brokerEndpoint: 'rabbitmq.goticket.svc:5672',
      sealingCertificate: MOCK.certPem,
      runtimeSecret: 'goticket/goticket-runtime',
    });
    expect(run.outputs.registryUrl).toBeUndefined();
  });

  it('keeps credentials secret', async () => {
    expect(await pulumi.isSecret(run.exports.grafanaAdminPassword as pulumi.Output<string>)).toBe(true);
    expect(await pulumi.isSecret(run.exports.sealingCertificate as pulumi.Output<string>)).toBe(false);
  });
});

describe('ordering (explicit dependsOn)', () => {
  it('installs the sealing key before the sealed-secrets controller', () => {
    expect(release(run, 'sealed-secrets').dependsOn).toContain('platform-sealing-key');
  });
  it('creates ClusterIssuers after cert-manager (CRDs and webhook)', () => {
    expect(k8sObject(run, 'cert-manager.io/v1:ClusterIssuer', 'selfsigned').dependsOn).toContain('platform-cert-manager');
  });
});

describe('Kubernetes objects Pulumi creates (dev)', () => {
  it('validate against the Kubernetes and CRD schemas (cert-manager, Argo CD, Gateway API) with no unknown field', () => {
    // Envoy Gateway publishes no schema package for its own EnvoyProxy (infra/test/edge.test.ts checks it field by field).
    const objects = kubernetesObjects(run).filter((o) => o.apiVersion !== 'gateway.envoyproxy.io/v1alpha1');
    expect(objects.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Namespace', 'Secret', 'ClusterIssuer', 'AppProject', 'Application', 'Gateway', 'GatewayClass', 'HTTPRoute']),
    );
    const reports = validateInChild(['-'], objects);
    expect(reports).toHaveLength(objects.length);
    expect(reports.filter((r) => r.problems.length)).toEqual([]);
  });
});

describe('component structure (dev)', () => {
  it('parents every resource to a component, and the components to the stack', () => {
    const components = ['goticket:cluster:KindCluster', 'goticket:platform:Platform', 'goticket:runtime:Runtime', 'goticket:gitops:GitOps'];
    expect(
      run.resources
        .filter((r) => r.type.startsWith('goticket:'))
        .map((r) => [r.type, r.parentType ?? 'stack'])
        .sort(),
    ).toEqual(components.map((c) => [c, 'stack']).sort());
    const outside = run.resources.filter((r) => !r.type.startsWith('goticket:') && !r.parentType?.startsWith('goticket:'));
    expect(outside.map((r) => `${r.type} ${r.parentType ?? 'stack'}`)).toEqual([]);
  });
});
