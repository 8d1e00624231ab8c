/**
 * What the NetworkPolicies let each pod do, computed from the synthesized objects with Kubernetes
 * semantics (a pod selected by a policy of a type is isolated for it; the allowed flows are the
 * union of the rules of the policies selecting it), against the allow-list the platform section of
 * DESIGN.md asks for: default deny, DNS, api <- the shared Gateway's Envoy pods and Prometheus, app -> the backends
 * (pod selectors in dev, the data subnets' CIDRs in prod), payments <- the Gateway (the provider's
 * webhook) and Prometheus, payments -> PostgreSQL and RabbitMQ only (never Redis) and, where it
 * calls Stripe, public 443 (the identity providers' shape),
 * nothing else.
 */
import { type Environment, ENVIRONMENTS, dev, prod } from '../environments';
import { IDENTITY_PROVIDER_EGRESS, PAYMENT_PROVIDER_EGRESS } from '../../platform/contract';
import { type Obj, matches, ofKind, synth, workloads } from './helpers';

type Direction = 'Ingress' | 'Egress';

const selector = (sel: Obj | undefined): string => {
  const labels = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  const expressions = ((sel?.matchExpressions ?? []) as Obj[]).map((e) => `${e.key} ${e.operator} (${(e.values ?? []).join(',')})`);
  return [...labels, ...expressions].sort().join(',') || '*';
};

const peer = (p: Obj): string => {
  if (p.ipBlock) return `cidr ${p.ipBlock.cidr}${p.ipBlock.except ? ` except ${p.ipBlock.except.join(',')}` : ''}`;
  const nsName = p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
  const ns = !p.namespaceSelector
    ? 'goticket'
    : nsName && Object.keys(p.namespaceSelector).length === 1 && Object.keys(p.namespaceSelector.matchLabels).length === 1
      ? nsName
      : `ns(${selector(p.namespaceSelector)})`;
  return `${ns} pods ${p.podSelector ? selector(p.podSelector) : '*'}`;
};

/** Every flow the policies allow a pod with `labels` in namespace goticket, and whether it is isolated at all. */
function reach(objects: Obj[], labels: Record<string, string>, direction: Direction): { isolated: boolean; flows: string[] } {
  const selecting = ofKind(objects, 'NetworkPolicy').filter((np) => {
    const types: string[] = np.spec.policyTypes ?? (np.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
    const all = Object.keys(np.spec.podSelector ?? {}).length === 0;
    return types.includes(direction) && (all || matches(np.spec.podSelector, labels));
  });
  const flows = new Set<string>();
  for (const np of selecting) {
    for (const rule of (direction === 'Ingress' ? np.spec.ingress : np.spec.egress) ?? []) {
      const peers: string[] = ((direction === 'Ingress' ? rule.from : rule.to) ?? []).map(peer);
      const ports: string[] = (rule.ports ?? []).map((p: Obj) => `${p.protocol ?? 'TCP'}/${p.port ?? '*'}`);
      for (const pe of peers.length ? peers : ['anywhere']) for (const po of ports.length ? ports : ['any port']) flows.add(`${pe} ${po}`);
    }
  }
  return { isolated: selecting.length > 0, flows: [...flows].sort() };
}

const DNS = ['kube-system pods k8s-app=kube-dns TCP/53', 'kube-system pods k8s-app=kube-dns UDP/53'];
const FROM_INGRESS =
  'envoy-gateway-system pods gateway.envoyproxy.io/owning-gateway-name=goticket-edge,gateway.envoyproxy.io/owning-gateway-namespace=envoy-gateway-system TCP/8080';
const GRPC_FROM_INGRESS = FROM_INGRESS.replace('TCP/8080', 'TCP/9090');
const FROM_PROMETHEUS = 'monitoring pods app.kubernetes.io/name=prometheus TCP/8080';
/** gRPC (9090): from the cluster's own clients (pods labelled goticket.io/grpc-client=true, any namespace). */
const GRPC_FROM_CLIENTS = 'ns(*) pods goticket.io/grpc-client=true TCP/9090';

/** The dev dependencies, by the labels DESIGN.md's in-cluster services carry. */
const DEPENDENCIES = [
  { name: 'postgres', component: 'database', port: 'postgres' },
  { name: 'redis', component: 'cache', port: 'redis' },
  { name: 'rabbitmq', component: 'broker', port: 'amqp' },
] as const;
const depLabels = (d: (typeof DEPENDENCIES)[number]) => ({ 'app.kubernetes.io/name': d.name, 'app.kubernetes.io/component': d.component });

function backends(env: Environment, which: ReadonlyArray<'postgres' | 'redis' | 'amqp'> = ['postgres', 'redis', 'amqp']): string[] {
  const b = env.backends;
  if (b.kind === 'vpc') return b.cidrs.flatMap((cidr) => which.map((port) => `cidr ${cidr} TCP/${b.ports[port]}`));
  return DEPENDENCIES.filter((d) => which.includes(d.port)).map(
    (d) => `goticket pods ${selector({ matchLabels: depLabels(d) })} TCP/${b.ports[d.port]}`,
  );
}

/** The payments service calling Stripe: public addresses on 443 only, every private range excepted. */
function paymentProvider(env: Environment): string[] {
  if (env.payments.provider !== 'stripe') return [];
  return [
    `cidr 0.0.0.0/0 except ${PAYMENT_PROVIDER_EGRESS.exceptV4.join(',')} TCP/443`,
    `cidr ::/0 except ${PAYMENT_PROVIDER_EGRESS.exceptV6.join(',')} TCP/443`,
  ];
}

/** What every pod of one environment may do, by its role. */
/** Social sign-in (where a provider is on): the api alone reaches public addresses, on 443 only. */
function identityProviders(env: Environment): string[] {
  if (!env.oauth?.googleClientId && !env.oauth?.githubClientId) return [];
  return [
    `cidr 0.0.0.0/0 except ${IDENTITY_PROVIDER_EGRESS.exceptV4.join(',')} TCP/443`,
    `cidr ::/0 except ${IDENTITY_PROVIDER_EGRESS.exceptV6.join(',')} TCP/443`,
  ];
}

function expected(env: Environment): Record<string, { Ingress: string[]; Egress: string[] }> {
  const app = { Egress: [...DNS, ...backends(env)].sort() };
  const out: Record<string, { Ingress: string[]; Egress: string[] }> = {
    'goticket-api': {
      Ingress: [FROM_INGRESS, GRPC_FROM_INGRESS, FROM_PROMETHEUS, GRPC_FROM_CLIENTS].sort(),
      Egress: [...app.Egress, ...identityProviders(env)].sort(),
    },
    'goticket-worker': { Ingress: [FROM_PROMETHEUS], ...app },
    'goticket-migrate': { Ingress: [], ...app },
    'goticket-payments': {
      Ingress: [FROM_INGRESS, FROM_PROMETHEUS].sort(),
      Egress: [...DNS, ...backends(env, ['postgres', 'amqp']), ...paymentProvider(env)].sort(),
    },
  };
  if (env.backends.kind === 'in-cluster') {
    for (const d of DEPENDENCIES) {
      // Redis serves the booking side only: the payments pods neither need nor reach it
      const from =
        d.port === 'redis'
          ? 'app.kubernetes.io/component NotIn (payments),app.kubernetes.io/name=goticket'
          : 'app.kubernetes.io/name=goticket';
      out[d.name] = { Ingress: [`goticket pods ${from} TCP/${env.backends.ports[d.port]}`], Egress: [...DNS] };
    }
  }
  return out;
}

describe.each(ENVIRONMENTS.map((env) => [env.name, env] as const))('%s NetworkPolicies', (_name, env) => {
  const objects = synth(env);

  test('every pod is isolated both ways and may do exactly what the allow-list says', () => {
    const actual = Object.fromEntries(
      workloads(objects).map((w) => {
        const labels = w.spec.template.metadata.labels as Record<string, string>;
        const [ingress, egress] = [reach(objects, labels, 'Ingress'), reach(objects, labels, 'Egress')];
        expect([w.metadata.name, ingress.isolated, egress.isolated]).toEqual([w.metadata.name, true, true]);
        return [w.metadata.name, { Ingress: ingress.flows, Egress: egress.flows }];
      }),
    );
    expect(actual).toEqual(expected(env));
  });

  test('the api admits only the Envoy pods of the shared Gateway, not any pod of the gateway namespace (the controller included)', () => {
    const api = { 'app.kubernetes.io/name': 'goticket', 'app.kubernetes.io/component': 'api' };
    const flows = reach(objects, api, 'Ingress').flows.filter((f) => f.startsWith('envoy-gateway-system '));
    expect(flows).toEqual([FROM_INGRESS, GRPC_FROM_INGRESS]);
    expect(objects.some((o) => o.kind === 'NetworkPolicy' && /acme|nginx/.test(o.metadata.name))).toBe(false);
  });

  test('a pod nobody planned for (a debug pod, a new workload) gets nothing but DNS', () => {
    expect(reach(objects, { run: 'debug' }, 'Ingress')).toEqual({ isolated: true, flows: [] });
    expect(reach(objects, { run: 'debug' }, 'Egress')).toEqual({ isolated: true, flows: DNS });
  });
});

test('the reachability check sees a widened policy', () => {
  const objects = synth(prod);
  const api = { 'app.kubernetes.io/name': 'goticket', 'app.kubernetes.io/component': 'api' };
  ofKind(objects, 'NetworkPolicy')
    .find((np) => np.metadata.name === 'app-to-backends')!
    .spec.egress.push({});
  expect(reach(objects, api, 'Egress').flows).toContain('anywhere any port');
  const open = synth(dev).filter((o) => !(o.kind === 'NetworkPolicy' && o.metadata.name === 'default-deny-all'));
  expect(reach(open, { run: 'debug' }, 'Ingress').isolated).toBe(false);
});
