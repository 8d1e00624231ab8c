/**
 * dist/ as committed: every object validates against its schema (kubernetes-models and the
 * CRD packages) with unknown fields rejected, it equals what the charts synthesize, holds no
 * plain Secret, and the Helm charts carry the same objects.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { ENVIRONMENTS } from '../environments';
import { escapeForHelm, migrateHelmHooks, renderEscaped } from '../helm';
import { contextFor, synthObjects } from '../main';
import { SCHEMA_GAPS, yamlFiles } from '../validate';
import { type Obj, ROOT, type Report, TSX, id, validateInChild } from './helpers';

const DIST = path.join(ROOT, 'dist');
const read = (file: string): Obj => parse(fs.readFileSync(file, 'utf8')) as Obj;

describe('every object in dist/ validates', () => {
  let reports: Report[];
  beforeAll(() => {
    reports = validateInChild(ENVIRONMENTS.map((env) => path.join('dist', env.name)));
  });

  test('against kubernetes-models and the CRD schemas, with no unknown field', () => {
    const files = ENVIRONMENTS.flatMap((env) => yamlFiles(path.join(DIST, env.name)));
    expect(reports.length).toBe(files.length);
    expect(reports.filter((r) => r.problems.length)).toEqual([]);
  });
});

const ACME_ISSUER = {
  apiVersion: 'cert-manager.io/v1',
  kind: 'ClusterIssuer',
  metadata: { name: 'letsencrypt-prod' },
  spec: {
    acme: {
      server: 'https://acme-v02.api.letsencrypt.org/directory',
      email: 'a@example.com',
      privateKeySecretRef: { name: 'k' },
      solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }],
    },
  },
};
const APP_PROJECT = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AppProject',
  metadata: { name: 'goticket', namespace: 'argocd' },
  spec: {
    description: 'GoTicket',
    sourceRepos: ['https://github.com/x/y'],
    destinations: [{ server: 'https://kubernetes.default.svc', namespace: 'goticket' }],
  },
};

test('the unknown-field check reaches every object of dist/, CRDs included, except free-form maps', () => {
  // An unknown key is added to each object node in turn; it may only go unnoticed in a map.
  const probe = spawnSync(TSX, ['charts/test/unknown-field-probe.ts', ...ENVIRONMENTS.map((env) => path.join('dist', env.name))], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  expect(probe.stderr).toBe('');
  const { mutations, unreported } = JSON.parse(probe.stdout) as { mutations: number; unreported: string[] };
  expect(mutations).toBeGreaterThan(800);
  const freeForm = (entry: string) => {
    const [kind, at = ''] = entry.split(' ');
    const last = at.split('.').pop();
    return (
      ['labels', 'annotations', 'matchLabels'].includes(last!) ||
      (kind === 'ConfigMap' && at === 'data') ||
      (kind === 'Service' && at === 'spec.selector')
    );
  };
  expect(unreported.filter((entry) => !freeForm(entry))).toEqual([]);
  // The maps really are there (the probe did reach them): labels of every kind, ConfigMap data.
  expect(unreported).toEqual(
    expect.arrayContaining([
      'ConfigMap data',
      'Deployment spec.template.metadata.labels',
      'ServiceMonitor spec.selector.matchLabels',
      'PrometheusRule spec.groups.[].rules.[].annotations',
    ]),
  );
});

describe('the validator', () => {
  const meta = { name: 'x', namespace: 'goticket' };
  const fixtures: [string, Obj, RegExp | null][] = [
    [
      'valid Deployment',
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta,
        spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i:1' }] } } },
      },
      null,
    ],
    [
      'typo in a container',
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta,
        spec: { selector: {}, template: { spec: { containers: [{ name: 'c', imagePullPolicyy: 'Always' }] } } },
      },
      /unknown field spec\.template\.spec\.containers\[0\]\.imagePullPolicyy/,
    ],
    [
      'wrong type',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta, spec: { replicas: '3', selector: {}, template: {} } },
      /replicas must be integer/,
    ],
    ['missing required field', { apiVersion: 'v1', kind: 'Service', metadata: meta, spec: { ports: [{ name: 'http' }] } }, /port/],
    ['typo at the top level', { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, dat: { a: 'b' } }, /unknown field dat/],
    [
      'map keys are free',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...meta, labels: { anything: 'x' } }, data: { ANY_KEY: 'v' } },
      null,
    ],
    ['unknown kind', { apiVersion: 'v1', kind: 'Gizmo', metadata: meta }, /no schema known for v1 Gizmo/],
    [
      'valid ServiceMonitor',
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: meta,
        spec: { selector: { matchLabels: { a: 'b' } }, endpoints: [{ port: 'http', path: '/metrics', interval: '30s' }] },
      },
      null,
    ],
    [
      'ServiceMonitor typo',
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: meta,
        spec: { selector: {}, endpoints: [{ port: 'http', intervall: '30s' }] },
      },
      /unknown field spec\.endpoints\[0\]\.intervall/,
    ],
    [
      'valid PrometheusRule',
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: meta,
        spec: {
          groups: [
            {
              name: 'g',
              rules: [
                {
                  alert: 'Down',
                  expr: 'up == 0',
                  for: '5m',
                  labels: { severity: 'page' },
                  annotations: { summary: '{{ $labels.pod }} down' },
                },
              ],
            },
          ],
        },
      },
      null,
    ],
    [
      'PrometheusRule typo',
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: meta,
        spec: { groups: [{ name: 'g', rules: [{ alert: 'Down', exprr: 'up == 0' }] }] },
      },
      /unknown field spec\.groups\[0\]\.rules\[0\]\.exprr/,
    ],
    [
      'valid SealedSecret',
      {
        apiVersion: 'bitnami.com/v1alpha1',
        kind: 'SealedSecret',
        metadata: meta,
        spec: { encryptedData: { K: 'AgA=' }, template: { metadata: meta, type: 'Opaque' } },
      },
      null,
    ],
    [
      'SealedSecret typo',
      { apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', metadata: meta, spec: { encryptedDat: { K: 'AgA=' } } },
      /unknown field spec\.encryptedDat/,
    ],
    [
      'valid Certificate',
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta,
        spec: { secretName: 's', dnsNames: ['a.example.com'], issuerRef: { name: 'letsencrypt-prod', kind: 'ClusterIssuer' } },
      },
      null,
    ],
    [
      'Certificate typo',
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta,
        spec: { secretName: 's', dnsName: ['a'], issuerRef: { name: 'i' } },
      },
      /unknown field spec\.dnsName/,
    ],
    [
      'valid ClusterIssuer',
      { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'selfsigned' }, spec: { selfSigned: {} } },
      null,
    ],
    [
      'ClusterIssuer missing issuerRef-type field types',
      { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'x' }, spec: { acme: { server: 1 } } },
      /server must be string|must have required/,
    ],
    ['ClusterIssuer solving http01 by ingressClassName (a known schema gap)', ACME_ISSUER, null],
    [
      'ClusterIssuer solver typo',
      { ...ACME_ISSUER, spec: { acme: { ...ACME_ISSUER.spec.acme, solvers: [{ http01: { ingress: { ingressClassNam: 'nginx' } } }] } } },
      /unknown field spec\.acme\.solvers\[0\]\.http01\.ingress\.ingressClassNam$/m,
    ],
    ['AppProject with a description (a known schema gap)', APP_PROJECT, null],
    ['AppProject typo', { ...APP_PROJECT, spec: { ...APP_PROJECT.spec, sourceRepo: ['r'] } }, /unknown field spec\.sourceRepo$/m],
    [
      'valid Application',
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'goticket', namespace: 'argocd' },
        spec: {
          project: 'default',
          source: { repoURL: 'https://github.com/x/y', path: 'dist/dev', targetRevision: 'main' },
          destination: { server: 'https://kubernetes.default.svc', namespace: 'goticket' },
          syncPolicy: { automated: { prune: true, selfHeal: true } },
        },
      },
      null,
    ],
    [
      'Application typo',
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'x' },
        spec: { project: 'default', destination: {}, source: { repoURL: 'r', pth: 'dist/dev' } },
      },
      /unknown field spec\.source\.pth/,
    ],
  ];
  let reports: Report[];
  beforeAll(() => {
    reports = validateInChild(
      ['-'],
      fixtures.map(([, manifest]) => manifest),
    );
  });

  test.each(fixtures.map(([label], i) => [label, i] as const))('%s', (_label, i) => {
    const [, , expected] = fixtures[i]!;
    const problems = reports[i]!.problems.join('\n');
    if (expected) expect(problems).toMatch(expected);
    else expect(problems).toBe('');
  });
});

test('each known schema gap is still a gap (--strict reports it): drop the entry once a package catches up', () => {
  const reports = validateInChild(['--strict', '-'], [ACME_ISSUER, APP_PROJECT]);
  expect(reports.map((r) => r.problems)).toEqual([
    ['unknown field spec.acme.solvers[0].http01.ingress.ingressClassName'],
    ['unknown field spec.description'],
  ]);
  expect(Object.values(SCHEMA_GAPS).flat()).toHaveLength(2);
});

describe.each(ENVIRONMENTS.map((env) => [env.name, env] as const))('dist/%s', (name, env) => {
  const dir = path.join(DIST, name);
  const files = fs.readdirSync(dir).sort();

  test('equals a fresh in-memory synth of charts/ (object for object)', () => {
    const committed = files.map((f) => read(path.join(dir, f)));
    const fresh = synthObjects(contextFor(env));
    const key = (objs: Obj[]) => Object.fromEntries(objs.map((o) => [id(o), o]));
    expect(key(committed)).toEqual(key(fresh));
  });

  test('one object per file, named Kind.name, stable (no name hashes)', () => {
    for (const file of files) {
      const docs = fs
        .readFileSync(path.join(dir, file), 'utf8')
        .split(/^---$/m)
        .filter((d) => d.trim());
      expect(docs).toHaveLength(1);
      const o = read(path.join(dir, file));
      expect(file).toBe(`${o.kind}.${o.metadata.name}.k8s.yaml`);
      expect(o.metadata.name).not.toMatch(/-c8[0-9a-f]{6}$/);
    }
  });

  test('the Helm chart carries the same objects but the Namespace, escaped for Go templates; migrations run as a hook', () => {
    const helm = path.join(DIST, 'helm', name);
    const chart = read(path.join(helm, 'Chart.yaml'));
    // appVersion is the pinned tag (repo:tag, repo:tag@digest) or else the digest of environments.ts
    const [reference, digest] = env.image.split('@');
    const appVersion = /:([\w][\w.-]*)$/.exec(reference!.slice(reference!.lastIndexOf('/')))?.[1] ?? digest;
    expect(appVersion).toBeTruthy();
    expect(chart).toMatchObject({ apiVersion: 'v2', name: `goticket-${name}`, type: 'application', appVersion });
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+/);
    // the Pulumi stack creates the namespace (and the runtime Secret in it): Helm could not adopt a copy
    const namespaces = files.filter((file) => read(path.join(dir, file)).kind === 'Namespace');
    expect(namespaces).toEqual(['Namespace.goticket.k8s.yaml']);
    expect(fs.readdirSync(path.join(helm, 'templates')).sort()).toEqual(files.filter((file) => !namespaces.includes(file)));
    const job = 'Job.goticket-migrate.k8s.yaml';
    const sa = 'ServiceAccount.goticket-migrate.k8s.yaml';
    for (const file of files.filter((f) => !namespaces.includes(f) && f !== job && f !== sa)) {
      const template = fs.readFileSync(path.join(helm, 'templates', file), 'utf8');
      expect(renderEscaped(template)).toBe(fs.readFileSync(path.join(dir, file), 'utf8'));
    }
    const plainJob = read(path.join(dir, job));
    const helmJob = read(path.join(helm, 'templates', job));
    expect(helmJob).toEqual({
      ...plainJob,
      metadata: { ...plainJob.metadata, annotations: { ...plainJob.metadata.annotations, ...migrateHelmHooks(env, -1) } },
    });
    const plainSa = read(path.join(dir, sa));
    expect(read(path.join(helm, 'templates', sa))).toEqual({
      ...plainSa,
      metadata: { ...plainSa.metadata, annotations: { ...plainSa.metadata.annotations, ...migrateHelmHooks(env, -2) } },
    });
    // Fails on the old code (post-install everywhere): with a managed database nothing stops the
    // Job from running before the Deployments, so it must; with the in-cluster one it cannot.
    expect(helmJob.metadata.annotations!['helm.sh/hook']).toBe(
      env.backends.kind === 'vpc' ? 'pre-install,pre-upgrade' : 'post-install,pre-upgrade',
    );
    expect(helmJob.metadata.annotations!['argocd.argoproj.io/hook']).toMatch(/^(PreSync|Sync)$/); // Argo CD's own hook wins over Helm's
    expect(fs.readFileSync(path.join(helm, 'README.md'), 'utf8')).toContain(
      `helm upgrade --install goticket dist/helm/${name} --namespace goticket`,
    );
  });
});

test('no plain Secret anywhere in dist/', () => {
  const plain = yamlFiles(DIST).filter((file) => /^kind: Secret$/m.test(fs.readFileSync(file, 'utf8')));
  expect(plain).toEqual([]);
});

test('Helm escaping: renders back to the original and leaves no live template action', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('{', '}', '{{', '}}', ' ', 'a', '$', '"', '\n') }), (text) => {
      const escaped = escapeForHelm(text);
      expect(renderEscaped(escaped)).toBe(text);
      expect(escaped.replace(/\{\{ "\{\{" \}\}/g, '')).not.toContain('{{');
    }),
    { numRuns: 300 },
  );
});
