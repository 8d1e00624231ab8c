/**
 * The payments service's platform (issue 20): its Deployment, ServiceAccount, Service, PDB,
 * ServiceMonitor, webhook route and NetworkPolicies, in every environment. The generic platform
 * rules (restricted posture, probes, heap flags, PDB, spread, own NetworkPolicies) hold for it in
 * properties.test.ts; these are the payments-specific ones.
 */
import { WEBHOOK_PATH } from '../../app/src/payments/webhook';
import { type Environment, ENVIRONMENTS, dev, prod, validateEnvironment } from '../environments';
import { IDENTITY_PROVIDER_EGRESS, PAYMENTS, PAYMENT_PROVIDER_EGRESS, RUNTIME_SECRET, SERVICES } from '../../platform/contract';
import { type Obj, byId, matches, ofKind, podSpecOf, synth } from './helpers';

const PAYMENTS_LABELS = { 'app.kubernetes.io/name': 'goticket', 'app.kubernetes.io/component': 'payments' };

describe.each(ENVIRONMENTS.map((env) => [env.name, env] as const))('%s payments service', (_name, env) => {
  const objects = synth(env);
  const deployment = () => byId(objects, `Deployment/${SERVICES.payments.name}`);
  const container = () => podSpecOf(deployment()).containers[0] as Obj;

  test('runs the one image as the payments role, with its own ServiceAccount and no API token', () => {
    expect(container().image).toBe(env.image);
    expect(container().args).toEqual(['build/app/main.js', 'payments']);
    expect(deployment().spec.replicas).toBe(env.payments.replicas);
    expect(deployment().spec.template.metadata.labels).toMatchObject(PAYMENTS_LABELS);
    const pod = podSpecOf(deployment());
    expect(pod.serviceAccountName).toBe(SERVICES.payments.name);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(byId(objects, `ServiceAccount/${SERVICES.payments.name}`).automountServiceAccountToken).toBe(false);
  });

  test('has the Online Boutique pod and container security contexts of the api and worker', () => {
    const api = podSpecOf(byId(objects, 'Deployment/goticket-api'));
    const pod = podSpecOf(deployment());
    expect(pod.securityContext).toEqual(api.securityContext);
    expect(container().securityContext).toEqual(api.containers[0].securityContext);
    expect(container().securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) expect(container()[probe].httpGet.port).toBe('http');
    expect(container().readinessProbe.httpGet.path).toBe('/healthz/ready');
    expect(container().livenessProbe.httpGet.path).toBe('/healthz/live');
  });

  test('loads the ConfigMap and its own Secret whole, and of the shared runtime Secret only the keys it needs', () => {
    expect(container().envFrom).toEqual([{ configMapRef: { name: 'goticket-config' } }, { secretRef: { name: PAYMENTS.secret } }]);
    const fromRuntime = (container().env as Obj[]).filter((e) => e.valueFrom?.secretKeyRef?.name === RUNTIME_SECRET);
    expect(fromRuntime.filter((e) => !e.valueFrom.secretKeyRef.optional).map((e) => [e.name, e.valueFrom.secretKeyRef.key])).toEqual(
      PAYMENTS.runtimeKeys.map((key) => [key, key]),
    );
    // never the booking side's DATABASE_URL (the owner's login in prod)
    expect(fromRuntime.map((e) => e.name)).not.toContain('DATABASE_URL');
    // and the booking side never loads the payments Secret
    for (const role of ['api', 'worker'])
      expect(JSON.stringify(byId(objects, `Deployment/goticket-${role}`))).not.toContain(PAYMENTS.secret);
  });

  test('a Service for the webhook and metrics, a PDB and a ServiceMonitor that selects that Service', () => {
    const service = byId(objects, `Service/${SERVICES.payments.name}`);
    expect(service.spec.selector).toEqual(PAYMENTS_LABELS);
    expect(service.spec.ports).toEqual([{ name: 'http', port: SERVICES.payments.port, targetPort: 'http', protocol: 'TCP' }]);
    expect(matches({ matchLabels: service.spec.selector }, deployment().spec.template.metadata.labels)).toBe(true);

    const pdbs = ofKind(objects, 'PodDisruptionBudget').filter((pdb) =>
      matches(pdb.spec.selector, deployment().spec.template.metadata.labels),
    );
    expect(pdbs.map((pdb) => [pdb.metadata.name, pdb.spec.maxUnavailable])).toEqual([[SERVICES.payments.name, 1]]);

    const monitors = ofKind(objects, 'ServiceMonitor').filter((sm) => matches(sm.spec.selector, service.metadata.labels));
    expect(monitors.map((sm) => sm.metadata.name)).toEqual([SERVICES.payments.name]);
    const [monitor] = monitors;
    expect(monitor!.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(monitor!.spec.namespaceSelector).toEqual({ matchNames: ['goticket'] });
    expect(monitor!.spec.endpoints.map((e: Obj) => [e.port, e.path])).toEqual([['http', '/metrics']]);
    expect(service.spec.ports.map((p: Obj) => p.name)).toContain(monitor!.spec.endpoints[0].port);
  });

  test('the webhook, and only the webhook, is routed from the shared Gateway to the payments Service', () => {
    expect(PAYMENTS.webhookPath).toBe(WEBHOOK_PATH);
    const route = byId(objects, `HTTPRoute/${SERVICES.payments.name}`);
    expect(route.spec.parentRefs).toEqual(byId(objects, 'HTTPRoute/goticket').spec.parentRefs);
    expect(route.spec.hostnames).toEqual([env.host]);
    expect(route.spec.rules).toEqual([
      {
        matches: [{ path: { type: 'Exact', value: WEBHOOK_PATH } }],
        backendRefs: [{ group: '', kind: 'Service', name: SERVICES.payments.name, port: SERVICES.payments.port }],
      },
    ]);
  });

  test('no NetworkPolicy opens the whole internet but the two sanctioned 443 rules, each for its own pods', () => {
    const open = ofKind(objects, 'NetworkPolicy').filter((np) =>
      JSON.stringify(np.spec.egress ?? []).match(/"cidr":"(0\.0\.0\.0\/0|::\/0)"/),
    );
    const sanctioned: Record<string, string> = { [IDENTITY_PROVIDER_EGRESS.policy]: 'api', [PAYMENT_PROVIDER_EGRESS.policy]: 'payments' };
    for (const np of open) {
      expect(Object.keys(sanctioned)).toContain(np.metadata.name);
      expect(np.spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe(sanctioned[np.metadata.name]);
      expect(np.metadata.annotations[PAYMENT_PROVIDER_EGRESS.reasonAnnotation]).toBeTruthy();
      for (const rule of np.spec.egress as Obj[]) {
        expect(rule.ports).toEqual([{ protocol: 'TCP', port: 443 }]);
        for (const peer of rule.to as Obj[])
          expect(peer.ipBlock.except).toEqual(
            peer.ipBlock.cidr === '::/0' ? [...PAYMENT_PROVIDER_EGRESS.exceptV6] : [...PAYMENT_PROVIDER_EGRESS.exceptV4],
          );
      }
    }
    expect(open.some((np) => np.metadata.name === PAYMENT_PROVIDER_EGRESS.policy)).toBe(env.payments.provider === 'stripe');
  });

  test('the provider follows environments.ts: Stripe in production mode, or the in-process local server (NODE_ENV development)', () => {
    const nodeEnv = (container().env as Obj[]).find((e) => e.name === 'NODE_ENV');
    if (env.payments.provider === 'local') expect(nodeEnv).toEqual({ name: 'NODE_ENV', value: 'development' });
    else expect(nodeEnv).toBeUndefined();
  });
});

test('prod calls Stripe with two replicas; dev runs the local server in its one replica', () => {
  expect([prod.payments.provider, prod.payments.replicas]).toEqual(['stripe', 2]);
  expect([dev.payments.provider, dev.payments.replicas]).toEqual(['local', 1]);
});

describe('payments validation names the bad field', () => {
  const cases: [string, Environment, RegExp][] = [
    [
      'the local provider on managed backends',
      { ...prod, payments: { ...prod.payments, provider: 'local', replicas: 1 } },
      /payments.provider local is the in-process/,
    ],
    [
      'the local provider with two replicas',
      { ...dev, payments: { ...dev.payments, replicas: 2 } },
      /payments.replicas must be 1 with the local provider/,
    ],
    ['no replica', { ...prod, payments: { ...prod.payments, replicas: 0 } }, /payments.replicas must be an integer >= 1/],
    [
      'request above limit',
      { ...prod, payments: { ...prod.payments, resources: { ...prod.payments.resources, memoryRequest: '1Gi' } } },
      /payments.resources.memoryRequest/,
    ],
  ];
  test.each(cases)('%s', (_label, env, message) => {
    expect(() => validateEnvironment(env)).toThrow(message);
  });
});
