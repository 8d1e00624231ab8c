import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DEPENDENCY_KEYS, PAYMENTS, RUNTIME_KEYS, RUNTIME_SECRET } from '../../platform/contract';
import { podEnvironments, startupError, unreadVariables } from '../../platform/test/pod-environment';
import {
  APP_PODS_SELECTOR,
  E2E_ADMIN_EMAIL,
  edgeManifests,
  isServiceImage,
  main,
  paymentsSecret,
  prepare,
  readManifests,
  runtimeSecret,
  servedKinds,
} from '../kind-manifests';
import { ROOT } from './github-files';

const API_RESOURCES = `
namespaces                        ns           v1                                true         Namespace
deployments                       deploy       apps/v1                           true         Deployment
jobs                                           batch/v1                          true         Job
httproutes                                     gateway.networking.k8s.io/v1      true         HTTPRoute
statefulsets                      sts          apps/v1                           true         StatefulSet
`;

const DIST = `apiVersion: v1
kind: Namespace
metadata: { name: goticket }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: goticket-api, namespace: goticket }
spec:
  template:
    spec:
      initContainers: [{ name: wait, image: 'ghcr.io/goticket-platform/goticket:0.1.0' }]
      containers:
        - { name: api, image: 'ghcr.io/goticket-platform/goticket:0.1.0@sha256:${'a'.repeat(64)}', imagePullPolicy: Always }
---
apiVersion: batch/v1
kind: Job
metadata: { name: goticket-migrate, namespace: goticket }
spec: { template: { spec: { containers: [{ name: migrate, image: '123.dkr.ecr.eu-west-1.amazonaws.com/goticket:1.2.3' }] } } }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: postgres, namespace: goticket }
spec: { template: { spec: { containers: [{ name: postgres, image: 'postgres:15.8' }] } } }
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: { name: goticket-api, namespace: goticket }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: goticket, namespace: goticket }
spec: { hostnames: [goticket.127.0.0.1.nip.io] }
`;

describe('kind-manifests', () => {
  it('recognises the service image in any registry, tag or digest form, and nothing else', () => {
    expect(isServiceImage('ghcr.io/goticket-platform/goticket:0.1.0')).toBe(true);
    expect(isServiceImage(`ghcr.io/goticket-platform/goticket@sha256:${'b'.repeat(64)}`)).toBe(true);
    expect(isServiceImage('localhost:5000/goticket')).toBe(true);
    expect(isServiceImage('postgres:15')).toBe(false);
    expect(isServiceImage('ghcr.io/goticket-platform/goticket-tools:1')).toBe(false);
  });

  it('parses kubectl api-resources rows with and without short names', () => {
    const served = servedKinds(API_RESOURCES);
    expect(served.has('batch/v1/Job')).toBe(true);
    expect(served.has('v1/Namespace')).toBe(true);
    expect(served.has('monitoring.coreos.com/v1/ServiceMonitor')).toBe(false);
  });

  it('points every goticket container at the loaded image, keeps the dependencies, drops unserved kinds', () => {
    const docs = parseAllDocuments(DIST).map((doc) => doc.toJS() as Record<string, unknown>);
    const result = prepare(docs, 'goticket:e2e-abc', servedKinds(API_RESOURCES));
    expect(result.replacedImages).toBe(3);
    expect(result.skipped).toEqual(['ServiceMonitor/goticket-api (monitoring.coreos.com/v1 not served)']);
    expect(result.hosts).toEqual(['goticket.127.0.0.1.nip.io']);
    expect(result.namespaces.map((doc) => doc.kind)).toEqual(['Namespace']);
    const text = JSON.stringify(result.resources);
    expect(text).not.toContain('ghcr.io');
    expect(text).not.toContain('"Always"');
    expect(text).toContain('"postgres:15.8"');
  });

  it('writes ordered files and GitHub outputs; refuses a tree without the service', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kind-manifests-'));
    try {
      const input = join(dir, 'in');
      mkdirSync(input);
      writeFileSync(join(input, 'all.yaml'), DIST);
      writeFileSync(join(dir, 'api-resources.txt'), API_RESOURCES);
      const out = join(dir, 'out');
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        expect(main(['--in', input, '--out', out, '--image', 'goticket:e2e', '--api-resources', join(dir, 'api-resources.txt')])).toBe(0);
        expect(log.mock.calls.map(([line]) => line)).toEqual([
          'namespace=goticket',
          'host=goticket.127.0.0.1.nip.io',
          `app_pods=${APP_PODS_SELECTOR}`,
        ]);
        expect(readManifests(out).map((doc) => doc.kind)).toEqual(['Namespace', 'Deployment', 'Job', 'StatefulSet', 'HTTPRoute']);
        expect(readFileSync(join(out, '10-resources.yaml'), 'utf8')).toContain('image: goticket:e2e');
        writeFileSync(join(input, 'all.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n');
        expect(main(['--in', input, '--out', out, '--image', 'goticket:e2e'])).toBe(1);
        expect(main(['--in', input])).toBe(2);
      } finally {
        log.mockRestore();
        error.mockRestore();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kind-manifests --runtime-secret (the e2e job’s stand-in for the Pulumi Runtime component)', () => {
  type Secret = { metadata: { name: string; namespace: string }; stringData: Record<string, string> };

  it('holds the contract’s keys, the dependencies’ passwords and the smoke test’s admin, each value fresh', () => {
    const a = runtimeSecret() as unknown as Secret;
    const b = runtimeSecret() as unknown as Secret;
    expect(a.metadata).toMatchObject({ name: RUNTIME_SECRET, namespace: 'goticket' });
    expect(Object.keys(a.stringData).sort()).toEqual([...RUNTIME_KEYS, ...DEPENDENCY_KEYS, 'ADMIN_EMAIL', 'ADMIN_PASSWORD'].sort());
    expect(a.stringData.JWT_SECRET).not.toBe(b.stringData.JWT_SECRET);
    expect(new URL(a.stringData.DATABASE_URL!).password).toBe(a.stringData.POSTGRES_PASSWORD);
  });

  it('is what every pod of the committed dist/dev needs: the service starts with it and finds nothing unread', () => {
    const secret = runtimeSecret() as unknown as Secret;
    const payments = paymentsSecret(secret) as unknown as Secret;
    expect(payments.metadata).toMatchObject({ name: PAYMENTS.secret, namespace: 'goticket' });
    expect(Object.keys(payments.stringData).sort()).toEqual([...PAYMENTS.secretKeys].sort());
    const pods = podEnvironments(readManifests(join(ROOT, 'dist', 'dev')), {
      [RUNTIME_SECRET]: secret.stringData,
      [PAYMENTS.secret]: payments.stringData,
    });
    expect(pods.filter((pod) => pod.service)).toHaveLength(4);
    for (const pod of pods.filter((p) => p.service)) {
      expect([pod.workload, startupError(pod.env, pod.role), unreadVariables(pod.env)]).toEqual([pod.workload, undefined, []]);
    }
  });

  it('writes the Secret privately, masks every generated value and hands the admin to later steps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kind-secret-'));
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const file = join(dir, 'sub', 'runtime-secret.yaml');
      const githubEnv = join(dir, 'github-env');
      writeFileSync(githubEnv, 'EXISTING=1\n');
      expect(main(['--runtime-secret', file, '--github-env', githubEnv])).toBe(0);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const [secret, payments] = parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => doc.toJS() as Secret);
      expect([secret!.metadata.name, payments!.metadata.name]).toEqual([RUNTIME_SECRET, PAYMENTS.secret]);
      const masked = log.mock.calls.map(([line]) => String(line));
      const values = [...new Set([...Object.values(secret!.stringData), ...Object.values(payments!.stringData)])]
        .filter((value) => value !== E2E_ADMIN_EMAIL)
        .map((value) => `::add-mask::${value}`);
      expect(masked.sort()).toEqual(values.sort());
      expect(readFileSync(githubEnv, 'utf8')).toBe(
        `EXISTING=1\nSMOKE_ADMIN_EMAIL=${E2E_ADMIN_EMAIL}\nSMOKE_ADMIN_PASSWORD=${secret!.stringData.ADMIN_PASSWORD}\n`,
      );
      expect(error.mock.calls.join('\n')).not.toContain(secret!.stringData.JWT_SECRET);
    } finally {
      log.mockRestore();
      error.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kind-manifests --edge (the e2e job’s stand-in for the Platform component’s Gateway)', () => {
  it('writes the dev platform’s EnvoyProxy, GatewayClass, Gateway and redirect for the host of dist/dev’s HTTPRoute', () => {
    const route = readManifests(join(ROOT, 'dist', 'dev')).find((doc) => doc.kind === 'HTTPRoute') as {
      spec: { hostnames: string[]; parentRefs: { name: string; namespace: string; sectionName: string }[] };
    };
    const host = route.spec.hostnames[0]!;
    const docs = edgeManifests(host) as {
      kind: string;
      metadata: { name: string; namespace?: string };
      spec: { listeners?: { name: string; hostname?: string }[] };
    }[];
    expect(docs.map((doc) => doc.kind)).toEqual(['EnvoyProxy', 'GatewayClass', 'Gateway', 'HTTPRoute']);
    const gateway = docs.find((doc) => doc.kind === 'Gateway')!;
    // the route dist/dev ships attaches to exactly this Gateway and one of its listeners, for its host
    expect([gateway.metadata.name, gateway.metadata.namespace]).toEqual([
      route.spec.parentRefs[0]!.name,
      route.spec.parentRefs[0]!.namespace,
    ]);
    expect(gateway.spec.listeners!.find((l) => l.name === route.spec.parentRefs[0]!.sectionName)!.hostname).toBe(host);

    const dir = mkdtempSync(join(tmpdir(), 'kind-edge-'));
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(main(['--edge', join(dir, 'edge.yaml'), '--host', host])).toBe(0);
      expect(log.mock.calls.map(([line]) => line)).toEqual([
        'edge_namespace=envoy-gateway-system',
        'gateway=goticket-edge',
        'api_tls_secret=goticket-edge-https-api-tls',
      ]);
      expect(parseAllDocuments(readFileSync(join(dir, 'edge.yaml'), 'utf8')).map((doc) => (doc.toJS() as { kind: string }).kind)).toEqual([
        'EnvoyProxy',
        'GatewayClass',
        'Gateway',
        'HTTPRoute',
      ]);
      expect(main(['--edge', join(dir, 'edge.yaml')])).toBe(2);
    } finally {
      log.mockRestore();
      error.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
