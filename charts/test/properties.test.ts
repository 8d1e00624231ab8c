/**
 * Properties that hold for any valid environment, checked on dev, prod and on random
 * environments (fast-check): they do not depend on snapshots.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import {
  type Environment,
  ENVIRONMENTS,
  IMAGE_REPOSITORIES,
  dev,
  imagePullPolicyOf,
  prod,
  quantity,
  validateEnvironment,
} from '../environments';
import { PRE_STOP_SECONDS, configData } from '../goticket';
import { emptySealedSecret } from '../secrets/sealing';
import { type Obj, byId, differences, matches, ofKind, podSpecOf, synth, workloads } from './helpers';
import { EDGE } from '../../platform/contract';

const PROTO_DIR = path.join(__dirname, '../../proto/goticket/v1');

/** Every violation of the platform rules in one environment's objects (empty = fine). */
function violations(objects: Obj[], env: Environment): string[] {
  const out: string[] = [];
  const fail = (o: Obj, problem: string) => out.push(`${o.kind}/${o.metadata.name}: ${problem}`);

  for (const w of workloads(objects)) {
    const pod = podSpecOf(w);
    if (pod.automountServiceAccountToken !== false) fail(w, 'mounts a service-account token');
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) fail(w, 'uses host namespaces');
    const psc = pod.securityContext ?? {};
    if (psc.runAsNonRoot !== true || psc.seccompProfile?.type !== 'RuntimeDefault') fail(w, 'pod securityContext is not restricted');
    const mounts = new Set<string>();
    for (const c of [...(pod.initContainers ?? []), ...pod.containers] as Obj[]) {
      const sc = c.securityContext ?? {};
      if (sc.allowPrivilegeEscalation !== false) fail(w, `${c.name}: allowPrivilegeEscalation`);
      if (sc.privileged === true) fail(w, `${c.name}: privileged`);
      if (sc.readOnlyRootFilesystem !== true) fail(w, `${c.name}: writable root filesystem`);
      if (sc.runAsNonRoot !== true || !(sc.runAsUser > 0)) fail(w, `${c.name}: may run as root`);
      if (JSON.stringify(sc.capabilities) !== JSON.stringify({ drop: ['ALL'] })) fail(w, `${c.name}: capabilities not dropped`);
      if (sc.seccompProfile?.type !== 'RuntimeDefault') fail(w, `${c.name}: no seccomp RuntimeDefault`);
      for (const r of ['requests', 'limits'])
        for (const k of ['cpu', 'memory']) if (!c.resources?.[r]?.[k]) fail(w, `${c.name}: no ${r}.${k}`);
      if (c.resources && quantity(c.resources.requests.memory) > quantity(c.resources.limits.memory))
        fail(w, `${c.name}: memory request > limit`);
      const image = String(c.image);
      if (image.endsWith(':latest') || !/(:[\w][\w.-]*|@sha256:[a-f0-9]{64})$/.test(image.replace(/^[^/]+:\d+\//, '')))
        fail(w, `${c.name}: image ${image} is not pinned`);
      if (c.imagePullPolicy === 'Always') fail(w, `${c.name}: imagePullPolicy Always`);
      // Jobs run to completion: probes are for long-running pods.
      if (w.kind !== 'Job' && !(c.startupProbe && c.livenessProbe && c.readinessProbe))
        fail(w, `${c.name}: missing a startup, liveness or readiness probe`);
      // A Node process sizes its heap from the node's memory unless told the container's limit.
      if (c.args?.[0] === 'build/app/main.js') {
        const options = (c.env ?? []).find((e: Obj) => e.name === 'NODE_OPTIONS')?.value ?? '';
        const oldSpaceMiB = Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);
        const limitMiB = c.resources?.limits?.memory ? quantity(c.resources.limits.memory) / 2 ** 20 : 0;
        if (!(oldSpaceMiB > 0 && oldSpaceMiB <= limitMiB / 2))
          fail(w, `${c.name}: NODE_OPTIONS "${options}" does not cap old space at half the ${limitMiB} MiB limit`);
      }
      for (const m of c.volumeMounts ?? []) mounts.add(m.mountPath);
    }
    if (!mounts.has('/tmp')) fail(w, 'no writable /tmp');
    for (const v of pod.volumes ?? []) if (v.hostPath) fail(w, 'hostPath volume');
  }

  const labelsOf = (w: Obj): Record<string, string> => w.spec.template.metadata.labels;
  const policies = ofKind(objects, 'NetworkPolicy');
  const deny = policies.find((p) => JSON.stringify(p.spec.podSelector) === '{}' && !p.spec.ingress && !p.spec.egress);
  if (!deny || JSON.stringify(deny.spec.policyTypes) !== JSON.stringify(['Ingress', 'Egress']))
    out.push('no default-deny NetworkPolicy for ingress and egress');
  for (const d of ofKind(objects, 'Deployment')) {
    const labels = labelsOf(d);
    if (!ofKind(objects, 'PodDisruptionBudget').some((pdb) => matches(pdb.spec.selector, labels))) fail(d, 'no PodDisruptionBudget');
    // Beyond the default deny: an explicit ingress rule and an explicit egress rule for its pods.
    const own = policies.filter((p) => JSON.stringify(p.spec.podSelector) !== '{}' && matches(p.spec.podSelector, labels));
    if (!own.some((p) => p.spec.ingress?.length)) fail(d, 'no NetworkPolicy allowing ingress');
    if (!own.some((p) => p.spec.egress?.length)) fail(d, 'no NetworkPolicy allowing egress');
    const spread = podSpecOf(d).topologySpreadConstraints ?? [];
    for (const key of ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']) {
      if (!spread.some((t: Obj) => t.topologyKey === key && matches(t.labelSelector, labels))) fail(d, `no topology spread on ${key}`);
    }
    const grace = podSpecOf(d).terminationGracePeriodSeconds;
    const preStop = podSpecOf(d).containers[0].lifecycle?.preStop?.sleep?.seconds;
    if (!(preStop > 0)) fail(d, 'no preStop delay');
    if (!(grace > (preStop ?? 0) + env.config.SHUTDOWN_TIMEOUT_SECONDS)) fail(d, `grace ${grace}s <= preStop + SHUTDOWN_TIMEOUT`);
  }

  const hpas = ofKind(objects, 'HorizontalPodAutoscaler');
  if (hpas.length !== 1) out.push(`expected one HPA, got ${hpas.length}`);
  for (const hpa of hpas) {
    const target = byId(objects, `${hpa.spec.scaleTargetRef.kind}/${hpa.spec.scaleTargetRef.name}`);
    if (target.spec.template.metadata.labels['app.kubernetes.io/component'] !== 'api') fail(hpa, 'does not target the api');
    if ('replicas' in target.spec) fail(target, 'sets replicas although an HPA scales it');
    if (hpa.spec.minReplicas !== env.api.minReplicas || hpa.spec.maxReplicas !== env.api.maxReplicas)
      fail(hpa, 'replica bounds differ from environments.ts');
  }

  for (const o of objects) {
    if (o.kind === 'Secret') fail(o, 'plain Secret in the synth');
    if (o.kind !== 'Namespace' && o.metadata.namespace !== 'goticket') fail(o, 'outside the goticket namespace');
  }
  return out;
}

describe.each(ENVIRONMENTS.map((env) => [env.name, env] as const))('%s', (_name, env) => {
  const objects = synth(env);

  test('meets every platform rule', () => {
    expect(violations(objects, env)).toEqual([]);
  });

  test('api and worker run the same image with their role, env from the ConfigMap and goticket-runtime', () => {
    for (const role of ['api', 'worker']) {
      const container = podSpecOf(byId(objects, `Deployment/goticket-${role}`)).containers[0];
      expect(container.image).toBe(env.image);
      expect(container.args).toEqual(['build/app/main.js', role]);
      expect(container.envFrom).toEqual([{ configMapRef: { name: 'goticket-config' } }, { secretRef: { name: 'goticket-runtime' } }]);
    }
    expect(byId(objects, 'ConfigMap/goticket-config').data).toEqual(configData(env));
    expect(configData(env)).toMatchObject({ NODE_ENV: 'production', PORT: '8080', CORS_ORIGINS: `https://${env.host}` });
  });

  test('migrate is an Argo CD hook with its ServiceAccount one wave earlier', () => {
    const job = byId(objects, 'Job/goticket-migrate');
    const sa = byId(objects, 'ServiceAccount/goticket-migrate');
    expect(job.metadata.annotations['argocd.argoproj.io/hook']).toBe(env.migrationHook);
    expect(sa.metadata.annotations['argocd.argoproj.io/hook']).toBe(env.migrationHook);
    expect(Number(sa.metadata.annotations['argocd.argoproj.io/sync-wave'])).toBeLessThan(
      Number(job.metadata.annotations['argocd.argoproj.io/sync-wave']),
    );
    const container = podSpecOf(job).containers[0];
    expect(container.args).toEqual(['build/app/main.js', 'migrate']);
    // No ConfigMap reference: a PreSync hook runs before the ConfigMap exists on a first sync.
    expect(JSON.stringify(container)).not.toContain('configMapRef');
    expect(podSpecOf(job).restartPolicy).toBe('Never');
  });

  test('HTTPRoute on the shared Gateway’s HTTPS api listener, only the public paths, no Ingress', () => {
    expect(objects.filter((o) => o.kind === 'Ingress')).toEqual([]);
    const route = byId(objects, 'HTTPRoute/goticket');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.spec.parentRefs).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: EDGE.gateway.name,
        namespace: EDGE.gateway.namespace,
        sectionName: EDGE.listeners.api,
      },
    ]);
    expect(route.spec.hostnames).toEqual([env.host]);
    expect(route.spec.rules).toHaveLength(1);
    expect(route.spec.rules[0].matches.map((m: Obj) => `${m.path.type} ${m.path.value}`)).toEqual([
      'PathPrefix /api',
      'PathPrefix /docs',
      'Exact /openapi.json',
      'Exact /graphql',
    ]);
    expect(route.spec.rules[0].backendRefs).toEqual([{ group: '', kind: 'Service', name: 'goticket-api', port: 80 }]);
  });

  test('GRPCRoute on the same listener and host: exactly the published goticket.v1 services, to the Service’s h2c port', () => {
    const route = byId(objects, 'GRPCRoute/goticket');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.spec.parentRefs).toEqual(byId(objects, 'HTTPRoute/goticket').spec.parentRefs);
    expect(route.spec.hostnames).toEqual([env.host]);
    // Every service the protos publish, and nothing else (health and reflection stay inside the cluster).
    const published = readdirSync(PROTO_DIR)
      .filter((f) => f.endsWith('.proto'))
      .flatMap((f) => {
        const text = readFileSync(path.join(PROTO_DIR, f), 'utf8');
        const pkg = /^package\s+([\w.]+);/m.exec(text)![1];
        return [...text.matchAll(/^service\s+(\w+)/gm)].map((m) => `${pkg}.${m[1]}`);
      });
    const routed = route.spec.rules.flatMap((r: Obj) => r.matches.map((m: Obj) => m.method));
    expect(routed.every((m: Obj) => m.type === 'Exact' && m.method === undefined)).toBe(true);
    expect(routed.map((m: Obj) => m.service).sort()).toEqual(published.sort());
    const [backend] = route.spec.rules[0].backendRefs;
    const service = byId(objects, `Service/${backend.name}`);
    const port = service.spec.ports.find((p: Obj) => p.port === backend.port);
    expect(port.appProtocol).toBe('kubernetes.io/h2c');
    // The Gateway's Envoy pods may reach that port (the api-from-gateway NetworkPolicy).
    const allowed = byId(objects, 'NetworkPolicy/api-from-gateway').spec.ingress.flatMap((r: Obj) => r.ports.map((p: Obj) => p.port));
    expect(allowed).toContain(
      byId(objects, 'Deployment/goticket-api').spec.template.spec.containers[0].ports.find((p: Obj) => p.name === port.targetPort)
        .containerPort,
    );
  });

  test('namespace enforces Pod Security "restricted" and Argo CD never deletes it (Pulumi owns it)', () => {
    const ns = byId(objects, 'Namespace/goticket');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const options = String(ns.metadata.annotations['argocd.argoproj.io/sync-options'])
      .split(',')
      .map((o) => o.trim());
    expect(options.sort()).toEqual(['Delete=false', 'Prune=false']);
  });

  test('backends egress follows environments.ts', () => {
    const egress = byId(objects, 'NetworkPolicy/app-to-backends').spec.egress as Obj[];
    const ports = egress.flatMap((rule) => rule.ports.map((p: Obj) => p.port)).sort();
    expect(ports).toEqual(Object.values(env.backends.ports).sort());
    if (env.backends.kind === 'vpc') expect(egress[0]!.to).toEqual(env.backends.cidrs.map((cidr) => ({ ipBlock: { cidr } })));
    else expect(egress.every((rule) => rule.to[0].podSelector && !rule.to[0].ipBlock)).toBe(true);
    expect(ofKind(objects, 'StatefulSet').length).toBe(env.backends.kind === 'in-cluster' ? 3 : 0);
  });
});

test('dev runs the dependencies before the migration, which runs before the app', () => {
  const objects = synth(dev);
  const wave = (o: Obj) => Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
  const deps = ofKind(objects, 'StatefulSet');
  expect(deps.map((d) => d.metadata.name).sort()).toEqual(['postgres', 'rabbitmq', 'redis']);
  for (const d of deps) {
    expect(wave(d)).toBeLessThan(wave(byId(objects, 'ServiceAccount/goticket-migrate')));
    expect(d.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('2Gi');
    expect(JSON.stringify(podSpecOf(d).containers[0])).toContain('goticket-runtime');
    expect(byId(objects, `Service/${d.metadata.name}`).spec.clusterIP).toBe('None');
  }
  expect(wave(byId(objects, 'Job/goticket-migrate'))).toBeLessThan(wave(byId(objects, 'Deployment/goticket-api')));
});

test('prod and dev differ only where environments.ts says', () => {
  // 1. The name is not a switch: prod's values under dev's name synthesize exactly prod.
  expect(synth({ ...prod, name: 'dev' })).toEqual(synth(prod));
  // 2. The differences are the ones environments.ts declares, nothing else.
  const expected = [
    /^(StatefulSet|Service|ServiceAccount)\/(postgres|redis|rabbitmq)$/, // in-cluster backends
    /^(Deployment|Job)\/goticket-(api|worker|payments|migrate):spec\.template\.spec\.containers\[0\]\.(image|imagePullPolicy)$/, // image (dev: the local build)
    /^NetworkPolicy\/(postgres|redis|rabbitmq)-from-app$/,
    /^NetworkPolicy\/(app|payments)-to-backends:spec\.egress/, // backends
    /^NetworkPolicy\/payments-to-provider$/, // payments.provider stripe (prod only): egress to Stripe
    /^Deployment\/goticket-payments:spec\.template\.spec\.containers\[0\]\.env\[6\]\.(name|value)$/, // payments.provider local (dev only): NODE_ENV development
    /^ConfigMap\/goticket-config:data\.(LOG_LEVEL|BCRYPT_COST|DB_POOL_MAX|CORS_ORIGINS|SENTRY_ENVIRONMENT|OAUTH_REDIRECT_BASE_URL)$/, // config, host
    /^ConfigMap\/goticket-config:data\.OAUTH_(GOOGLE|GITHUB)_CLIENT_ID$/, // oauth (prod only)
    /^Job\/goticket-migrate:spec\.template\.spec\.containers\[0\]\.env\[\d+\]\.name$/, // oauth client ids, inline (prod only)
    /^NetworkPolicy\/api-to-identity-providers$/, // oauth (prod only): egress to the providers
    /^Job\/goticket-migrate:spec\.template\.spec\.containers\[0\]\.env\[\d+\]\.value$/, // config, inline
    /^Deployment\/goticket-(api|worker|payments):spec\.template\.metadata\.annotations\.goticket\.io\/config-checksum$/,
    /^(Deployment|Job)\/goticket-(api|worker|payments|migrate):spec\.template\.spec\.containers\[0\]\.resources\./, // resources
    /^Deployment\/goticket-(api|worker|payments):spec\.template\.spec\.containers\[0\]\.env\[0\]\.value$/, // NODE_OPTIONS from the memory limit
    /^Deployment\/goticket-(api|worker|payments):spec\.template\.spec\.containers\[0\]\.env\[1\]\.value$/, // SENTRY_RELEASE from the image
    /^Deployment\/goticket-(worker|payments):spec\.replicas$/, // worker.replicas, payments.replicas
    /^Deployment\/goticket-(api|worker|payments):spec\.template\.spec\.topologySpreadConstraints\[0\]\.whenUnsatisfiable$/, // zoneSpread
    /^HorizontalPodAutoscaler\/goticket-api:spec\.(minReplicas|maxReplicas|metrics\[0\]\.resource\.target\.averageUtilization)$/, // api
    /^HorizontalPodAutoscaler\/goticket-api:spec\.metrics\[1\]\./, // api.requestsPerSecond (prod only)
    /^(HTTPRoute|GRPCRoute)\/goticket:spec\.hostnames\[0\]$/, // host
    /^HTTPRoute\/goticket-payments:spec\.hostnames\[0\]$/, // host
    /^(Job|ServiceAccount)\/goticket-migrate:metadata\.annotations\.argocd\.argoproj\.io\/hook$/, // migrationHook
  ];
  const diff = differences(synth(dev), synth(prod));
  expect(diff.filter((d) => !expected.some((re) => re.test(d)))).toEqual([]);
  // ...and each declared difference really shows up (no dead pattern hiding a regression).
  expect(expected.filter((re) => !diff.some((d) => re.test(d)))).toEqual([]);
});

test('every field that differs between dev and prod changes the output (no dead knobs)', () => {
  const base = synth(dev);
  for (const key of Object.keys(prod) as (keyof Environment)[]) {
    if (key === 'name' || JSON.stringify(dev[key]) === JSON.stringify(prod[key])) continue;
    const changed: Environment = { ...dev, [key]: prod[key] };
    if (key === 'backends') changed.migrationHook = 'PreSync'; // PreSync is invalid with in-cluster backends
    expect([key, differences(base, synth(changed)).length > 0]).toEqual([key, true]);
  }
});

test('requests per second joins the HPA only when environments.ts sets it', () => {
  const hpa = (env: Environment) => byId(synth(env), 'HorizontalPodAutoscaler/goticket-api');
  expect(hpa({ ...prod, api: { ...prod.api, requestsPerSecond: undefined } }).spec.metrics).toHaveLength(1);
  const withRps = hpa({ ...prod, api: { ...prod.api, requestsPerSecond: 50 } });
  expect(withRps.spec.metrics[1]).toEqual({
    type: 'Pods',
    pods: { metric: { name: 'http_requests_per_second' }, target: { type: 'AverageValue', averageValue: '50' } },
  });
  // dev (Kind) scales on CPU alone; prod also on traffic, through prometheus-adapter (infra/test checks it serves the metric)
  expect(dev.api.requestsPerSecond).toBeUndefined();
  expect(hpa(prod).spec.metrics.map((m: Obj) => m.type)).toEqual(['Resource', 'Pods']);
});

test('sealed secrets join the api and worker environment, not the migrate hook', () => {
  const sealed = [
    {
      ...emptySealedSecret('smtp', 'goticket'),
      spec: { ...emptySealedSecret('smtp', 'goticket').spec, encryptedData: { SMTP_URL: 'AAAA' } },
    },
  ];
  const objects = synth(prod, sealed);
  for (const role of ['api', 'worker'])
    expect(podSpecOf(byId(objects, `Deployment/goticket-${role}`)).containers[0].envFrom[2]).toEqual({ secretRef: { name: 'smtp' } });
  expect(JSON.stringify(byId(objects, 'Job/goticket-migrate'))).not.toContain('smtp');
});

describe('environment validation names the bad field', () => {
  const cases: [string, Partial<Environment>, RegExp][] = [
    ['latest tag', { image: 'ghcr.io/goticket-platform/goticket:latest' }, /image .*never :latest/],
    ['no tag', { image: 'ghcr.io/goticket-platform/goticket' }, /image/],
    [
      'other registry',
      { image: 'docker.io/library/nginx:1.27' },
      /image repository docker\.io\/library\/nginx is not in IMAGE_REPOSITORIES/,
    ],
    [
      'ECR not configured',
      { image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/goticket@sha256:${'a'.repeat(64)}` },
      /image repository .*ecr.* is not in IMAGE_REPOSITORIES/,
    ],
    [
      'the local build in prod',
      { image: 'ghcr.io/goticket-platform/goticket:local' },
      /image :local is the build make kind-load loads .*npm run promote -- --env prod/,
    ],
    ['bad host', { host: 'Not_A_Host' }, /host/],
    ['min > max', { api: { ...prod.api, minReplicas: 5, maxReplicas: 2 } }, /api.maxReplicas/],
    ['request > limit', { api: { ...prod.api, resources: { ...prod.api.resources, cpuRequest: '3' } } }, /api.resources.cpuRequest/],
    ['bad quantity', { worker: { ...prod.worker, resources: { ...prod.worker.resources, memoryLimit: 'lots' } } }, /worker.resources/],
    [
      'bad cidr',
      { backends: { kind: 'vpc', cidrs: ['10.0.128.0/24', '10.0.0.300/16'], ports: prod.backends.ports } },
      /backends.cidrs\[1\]/,
    ],
    ['no cidr', { backends: { kind: 'vpc', cidrs: [], ports: prod.backends.ports } }, /backends.cidrs/],
    [
      'the internet',
      { backends: { kind: 'vpc', cidrs: ['0.0.0.0/0'], ports: prod.backends.ports } },
      /backends.cidrs\[0\] must not be the whole internet/,
    ],
    ['PreSync with in-cluster backends', { migrationHook: 'PreSync', backends: dev.backends }, /migrationHook/],
  ];
  test.each(cases)('%s', (_label, patch, message) => {
    expect(() => validateEnvironment({ ...prod, ...patch })).toThrow(message);
  });

  test('digest pins (with or without a tag) are accepted', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const image of [`ghcr.io/goticket-platform/goticket@${digest}`, `ghcr.io/goticket-platform/goticket:0.2.0@${digest}`]) {
      expect(validateEnvironment({ ...prod, image }).image).toBe(image);
    }
  });

  test('ECR is accepted through IMAGE_REPOSITORIES, never by a looser check', () => {
    const ecr = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/goticket';
    const image = `${ecr}:0.2.0-abcdef012345@sha256:${'b'.repeat(64)}`;
    expect(validateEnvironment({ ...prod, image }, [...IMAGE_REPOSITORIES, ecr]).image).toBe(image);
    // a configured repository must still be where release.yml pushes: GHCR or the stack's ECR repository
    for (const wrong of ['docker.io/goticket/goticket', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/other', 'ghcr.io/a_b/goticket']) {
      expect(() => validateEnvironment({ ...prod, image: `${wrong}:1.0.0` }, [...IMAGE_REPOSITORIES, wrong])).toThrow(
        /IMAGE_REPOSITORIES entry .* is neither/,
      );
    }
  });

  test('the local build runs only where backends are in-cluster, and is never pulled', () => {
    expect(validateEnvironment({ ...dev, image: 'ghcr.io/goticket-platform/goticket:local' }).image).toBe(
      'ghcr.io/goticket-platform/goticket:local',
    );
    expect(imagePullPolicyOf('ghcr.io/goticket-platform/goticket:local')).toBe('Never');
    expect(imagePullPolicyOf(`ghcr.io/goticket-platform/goticket:local@sha256:${'a'.repeat(64)}`)).toBe('IfNotPresent');
    expect(imagePullPolicyOf('ghcr.io/goticket-platform/goticket:sha-' + 'a'.repeat(40))).toBe('IfNotPresent');
  });
});

test('random valid environments keep every platform rule (fast-check)', () => {
  const cpu = fc.integer({ min: 10, max: 4000 });
  const memory = fc.integer({ min: 64, max: 8192 });
  const resources = fc.tuple(cpu, cpu, memory, memory).map(([c1, c2, m1, m2]) => ({
    cpuRequest: `${Math.min(c1, c2)}m`,
    cpuLimit: `${Math.max(c1, c2)}m`,
    memoryRequest: `${Math.min(m1, m2)}Mi`,
    memoryLimit: `${Math.max(m1, m2)}Mi`,
  }));
  const label = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
  const env = fc.record({
    base: fc.constantFrom(dev, prod),
    tag: fc.stringMatching(/^[0-9]\.[0-9]{1,2}\.[0-9]{1,2}(-rc\.[0-9])?$/),
    host: fc.tuple(label, label).map(([a, b]) => `${a}.${b}.example.com`),
    min: fc.integer({ min: 1, max: 6 }),
    extra: fc.integer({ min: 0, max: 10 }),
    shutdown: fc.integer({ min: 1, max: 120 }),
    worker: fc.integer({ min: 1, max: 5 }),
    apiResources: resources,
    workerResources: resources,
    zone: fc.constantFrom('DoNotSchedule' as const, 'ScheduleAnyway' as const),
  });
  fc.assert(
    fc.property(env, (e) => {
      const candidate: Environment = validateEnvironment({
        ...e.base,
        image: `ghcr.io/goticket-platform/goticket:${e.tag}`,
        host: e.host,
        api: { ...e.base.api, minReplicas: e.min, maxReplicas: e.min + e.extra, resources: e.apiResources },
        worker: { replicas: e.worker, resources: e.workerResources },
        config: { ...e.base.config, SHUTDOWN_TIMEOUT_SECONDS: e.shutdown },
        zoneSpread: e.zone,
      });
      const objects = synth(candidate);
      expect(violations(objects, candidate)).toEqual([]);
      const api = podSpecOf(byId(objects, 'Deployment/goticket-api'));
      expect(api.terminationGracePeriodSeconds).toBeGreaterThan(PRE_STOP_SECONDS + e.shutdown);
    }),
    { numRuns: 40 },
  );
});

test('the rule checker itself catches a weakened workload', () => {
  const objects = synth(prod);
  const api = byId(objects, 'Deployment/goticket-api');
  const c = podSpecOf(api).containers[0];
  c.securityContext.readOnlyRootFilesystem = false;
  c.image = 'ghcr.io/goticket-platform/goticket:latest';
  delete c.readinessProbe;
  api.spec.replicas = 3;
  const problems = violations(objects, prod).join('\n');
  for (const expected of ['writable root filesystem', 'is not pinned', 'missing a startup, liveness or readiness probe', 'sets replicas'])
    expect(problems).toContain(expected);
  expect(
    violations(
      objects.filter((o) => o.kind !== 'PodDisruptionBudget'),
      prod,
    ).join('\n'),
  ).toContain('no PodDisruptionBudget');
});
