/**
 * Kubernetes rules: the compliant set passes every rule; each case breaks exactly one condition
 * of one rule and must get exactly that rule's message, and nothing else.
 */
import { checkManifests } from '../engine';
import type { Manifest } from '../lib/manifest';
import { DEFAULT_SETTINGS, type Env, type PolicySettings } from '../lib/types';
import { manifestRules, manifestSetRules } from '../rules';
import { imageTag } from '../rules/kubernetes/containers';
import { selects } from '../rules/kubernetes/cross-object';
import { compliantSet } from './fixtures/compliant';
import { IDENTITY_PROVIDER_EGRESS } from '../../platform/contract';

// Fixtures are mutated freely below; a loose type keeps the cases short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

const find = (set: Manifest[], kind: string, name: string): Loose => {
  const m = set.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`fixture has no ${kind}/${name}`);
  return m;
};
const remove = (set: Manifest[], kind: string, name: string): void => {
  set.splice(set.indexOf(find(set, kind, name)), 1);
};
const apiPod = (set: Manifest[]): Loose => find(set, 'Deployment', 'api').spec.template.spec;
const apiContainer = (set: Manifest[]): Loose => apiPod(set).containers[0];
const apiSc = (set: Manifest[]): Loose => apiContainer(set).securityContext;

function run(set: Manifest[], env: Env = 'prod', settings: PolicySettings = DEFAULT_SETTINGS, gitOps = true) {
  return checkManifests(set, { env, settings }, { gitOps }).map((v) => ({ rule: v.rule, subject: v.subject, message: v.message }));
}

const API = 'Deployment/goticket/api';
const C = 'container "api"';

interface Case {
  title: string;
  breaks: (set: Manifest[]) => void;
  rule: string;
  subject?: string;
  message: string;
  env?: Env;
}

/** The identity-provider egress (public addresses, 443) as the charts write it, onto the api-ingress policy. */
function withIdentityProviderEgress(set: Manifest[]): Loose {
  const policy = find(set, 'NetworkPolicy', 'api-ingress');
  policy.metadata.annotations = { [IDENTITY_PROVIDER_EGRESS.reasonAnnotation]: IDENTITY_PROVIDER_EGRESS.reason };
  const rule: Loose = {
    to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [...IDENTITY_PROVIDER_EGRESS.exceptV4] } }],
    ports: [{ protocol: 'TCP', port: 443 }],
  };
  policy.spec.egress.push(rule);
  return rule;
}

function publicEgressCases(): Case[] {
  const rule = 'k8s-network-policy-allow-list';
  const subject = 'NetworkPolicy/goticket/api-ingress';
  const n = 2; // pushed after the fixture's one egress rule
  return [
    {
      title: 'public egress without the stated reason',
      breaks: (s) => {
        withIdentityProviderEgress(s);
        delete find(s, 'NetworkPolicy', 'api-ingress').metadata.annotations;
      },
      rule,
      subject,
      message: `egress rule ${n} allows the whole internet (ipBlock 0.0.0.0/0)`,
    },
    {
      title: 'public egress on port 80 too',
      breaks: (s) => withIdentityProviderEgress(s).ports.push({ protocol: 'TCP', port: 80 }),
      rule,
      subject,
      message: `egress rule ${n} allows the whole internet (ipBlock 0.0.0.0/0)`,
    },
    {
      title: 'public egress without a port',
      breaks: (s) => delete withIdentityProviderEgress(s).ports,
      rule,
      subject,
      message: `egress rule ${n} allows the whole internet (ipBlock 0.0.0.0/0)`,
    },
    {
      title: 'public egress reaching instance metadata',
      breaks: (s) =>
        (withIdentityProviderEgress(s).to[0].ipBlock.except = IDENTITY_PROVIDER_EGRESS.exceptV4.filter((c) => c !== '169.254.0.0/16')),
      rule,
      subject,
      message: `egress rule ${n} allows the whole internet (ipBlock 0.0.0.0/0)`,
    },
  ];
}

const cases: Case[] = [
  // k8s-image-pinned
  { title: 'no image', breaks: (s) => delete apiContainer(s).image, rule: 'k8s-image-pinned', message: `${C} has no image` },
  {
    title: 'untagged image',
    breaks: (s) => (apiContainer(s).image = 'ghcr.io/goticket/goticket'),
    rule: 'k8s-image-pinned',
    message: `${C} image ghcr.io/goticket/goticket has no tag (pin a version or a digest)`,
  },
  {
    title: 'untagged image on a registry with a port',
    breaks: (s) => (apiContainer(s).image = 'localhost:5000/goticket'),
    rule: 'k8s-image-pinned',
    message: `${C} image localhost:5000/goticket has no tag (pin a version or a digest)`,
  },
  {
    title: ':latest',
    breaks: (s) => (apiContainer(s).image = 'goticket:latest'),
    rule: 'k8s-image-pinned',
    message: `${C} image goticket:latest uses :latest (pin a version or a digest)`,
  },
  // k8s-resources-required
  ...(['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'] as const).map((field): Case => ({
    title: `no resources.${field}`,
    breaks: (s) => {
      const [group, res] = field.split('.') as [string, string];
      delete apiContainer(s).resources[group][res];
    },
    rule: 'k8s-resources-required',
    message: `${C} sets no resources.${field}`,
  })),
  {
    title: 'init container without resources',
    breaks: (s) =>
      (apiPod(s).initContainers = [
        { ...structuredClone(apiContainer(s)), name: 'wait', resources: undefined, livenessProbe: undefined, readinessProbe: undefined },
      ]),
    rule: 'k8s-resources-required',
    message:
      'init container "wait" sets no resources.requests.cpu, resources.requests.memory, resources.limits.cpu, resources.limits.memory',
  },
  // k8s-probes-required
  {
    title: 'no liveness probe',
    breaks: (s) => delete apiContainer(s).livenessProbe,
    rule: 'k8s-probes-required',
    message: `${C} has no livenessProbe`,
  },
  {
    title: 'no readiness probe',
    breaks: (s) => delete apiContainer(s).readinessProbe,
    rule: 'k8s-probes-required',
    message: `${C} has no readinessProbe`,
  },
  // k8s-run-as-non-root
  {
    title: 'runAsUser 0',
    breaks: (s) => (apiSc(s).runAsUser = 0),
    rule: 'k8s-run-as-non-root',
    message: `${C} runs as UID 0 (runAsUser: 0)`,
  },
  {
    title: 'pod runAsUser 0 inherited',
    breaks: (s) => {
      delete apiSc(s).runAsUser;
      apiPod(s).securityContext.runAsUser = 0;
    },
    rule: 'k8s-run-as-non-root',
    message: `${C} runs as UID 0 (runAsUser: 0)`,
  },
  {
    title: 'runAsNonRoot nowhere',
    breaks: (s) => {
      delete apiSc(s).runAsNonRoot;
      delete apiPod(s).securityContext.runAsNonRoot;
    },
    rule: 'k8s-run-as-non-root',
    message: `${C} does not set runAsNonRoot: true`,
  },
  {
    title: 'container overrides runAsNonRoot with false',
    breaks: (s) => (apiSc(s).runAsNonRoot = false),
    rule: 'k8s-run-as-non-root',
    message: `${C} does not set runAsNonRoot: true`,
  },
  // k8s-read-only-root-filesystem
  {
    title: 'writable root filesystem',
    breaks: (s) => delete apiSc(s).readOnlyRootFilesystem,
    rule: 'k8s-read-only-root-filesystem',
    message: `${C} does not set readOnlyRootFilesystem: true`,
  },
  // k8s-no-privilege-escalation
  {
    title: 'allowPrivilegeEscalation unset',
    breaks: (s) => delete apiSc(s).allowPrivilegeEscalation,
    rule: 'k8s-no-privilege-escalation',
    message: `${C} does not set allowPrivilegeEscalation: false`,
  },
  {
    title: 'allowPrivilegeEscalation true',
    breaks: (s) => (apiSc(s).allowPrivilegeEscalation = true),
    rule: 'k8s-no-privilege-escalation',
    message: `${C} does not set allowPrivilegeEscalation: false`,
  },
  // k8s-drop-all-capabilities
  {
    title: 'ALL not dropped',
    breaks: (s) => (apiSc(s).capabilities = { drop: ['NET_RAW'] }),
    rule: 'k8s-drop-all-capabilities',
    message: `${C} does not drop ALL capabilities`,
  },
  {
    title: 'capability added',
    breaks: (s) => (apiSc(s).capabilities.add = ['NET_BIND_SERVICE', 'SYS_ADMIN']),
    rule: 'k8s-drop-all-capabilities',
    message: `${C} adds capabilities SYS_ADMIN (only NET_BIND_SERVICE is allowed)`,
  },
  // k8s-seccomp-runtime-default
  {
    title: 'no seccomp profile',
    breaks: (s) => delete apiPod(s).securityContext.seccompProfile,
    rule: 'k8s-seccomp-runtime-default',
    message: `${C} has no seccompProfile (set RuntimeDefault)`,
  },
  {
    title: 'container seccomp Unconfined',
    breaks: (s) => (apiSc(s).seccompProfile = { type: 'Unconfined' }),
    rule: 'k8s-seccomp-runtime-default',
    message: `${C} uses seccompProfile Unconfined (RuntimeDefault or Localhost required)`,
  },
  // k8s-no-privileged
  { title: 'privileged', breaks: (s) => (apiSc(s).privileged = true), rule: 'k8s-no-privileged', message: `${C} runs privileged` },
  // k8s-no-host-namespaces
  ...(['hostNetwork', 'hostPID', 'hostIPC'] as const).map((f): Case => ({
    title: f,
    breaks: (s) => (apiPod(s)[f] = true),
    rule: 'k8s-no-host-namespaces',
    message: `pod sets ${f}: true`,
  })),
  {
    title: 'hostPort',
    breaks: (s) => (apiContainer(s).ports = [{ containerPort: 8080, hostPort: 8080 }]),
    rule: 'k8s-no-host-namespaces',
    message: `${C} binds hostPort 8080`,
  },
  // k8s-no-host-path
  {
    title: 'hostPath volume',
    breaks: (s) => apiPod(s).volumes.push({ name: 'docker', hostPath: { path: '/var/run/docker.sock' } }),
    rule: 'k8s-no-host-path',
    message: 'volume "docker" mounts hostPath /var/run/docker.sock',
  },
  // k8s-service-type-restricted
  ...(['LoadBalancer', 'NodePort'] as const).map((type): Case => ({
    title: `Service of type ${type} in goticket`,
    breaks: (s) => (find(s, 'Service', 'api').spec.type = type),
    rule: 'k8s-service-type-restricted',
    subject: 'Service/goticket/api',
    message: `Service of type ${type} outside envoy-gateway-system`,
  })),
  // k8s-route-shared-gateway
  {
    title: 'HTTPRoute on a Gateway of its own',
    breaks: (s) => (find(s, 'HTTPRoute', 'api').spec.parentRefs[0].name = 'my-gateway'),
    rule: 'k8s-route-shared-gateway',
    subject: 'HTTPRoute/goticket/api',
    message: 'HTTPRoute attaches to Gateway envoy-gateway-system/my-gateway, not the shared Gateway envoy-gateway-system/goticket-edge',
  },
  {
    title: 'HTTPRoute naming the shared Gateway’s name in its own namespace (namespace defaults to the route’s)',
    breaks: (s) => delete find(s, 'HTTPRoute', 'api').spec.parentRefs[0].namespace,
    rule: 'k8s-route-shared-gateway',
    subject: 'HTTPRoute/goticket/api',
    message: 'HTTPRoute attaches to Gateway goticket/goticket-edge, not the shared Gateway envoy-gateway-system/goticket-edge',
  },
  {
    title: 'HTTPRoute with no parentRefs',
    breaks: (s) => (find(s, 'HTTPRoute', 'api').spec.parentRefs = []),
    rule: 'k8s-route-shared-gateway',
    subject: 'HTTPRoute/goticket/api',
    message: 'HTTPRoute has no parentRefs (it attaches to no Gateway; name envoy-gateway-system/goticket-edge)',
  },
  {
    title: 'GRPCRoute on another Gateway',
    breaks: (s) =>
      s.push({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GRPCRoute',
        metadata: { name: 'grpc', namespace: 'goticket' },
        spec: { parentRefs: [{ name: 'grpc-gw', namespace: 'goticket', sectionName: 'https-api' }] },
      }),
    rule: 'k8s-route-shared-gateway',
    subject: 'GRPCRoute/goticket/grpc',
    message: 'GRPCRoute attaches to Gateway goticket/grpc-gw, not the shared Gateway envoy-gateway-system/goticket-edge',
  },
  // k8s-route-tls-only
  {
    title: 'HTTPRoute without sectionName (every listener, port 80 included)',
    breaks: (s) => delete find(s, 'HTTPRoute', 'api').spec.parentRefs[0].sectionName,
    rule: 'k8s-route-tls-only',
    subject: 'HTTPRoute/goticket/api',
    message: 'HTTPRoute names no sectionName: it attaches to every listener of envoy-gateway-system/goticket-edge, plain HTTP included',
  },
  {
    title: 'HTTPRoute serving a backend on the plain-HTTP listener',
    breaks: (s) => (find(s, 'HTTPRoute', 'api').spec.parentRefs[0].sectionName = 'http'),
    rule: 'k8s-route-tls-only',
    subject: 'HTTPRoute/goticket/api',
    message: 'HTTPRoute attaches to listener http, which is not an HTTPS listener (https-api, https-grafana, https-argocd)',
  },
  {
    title: 'redirect route that redirects to http',
    breaks: (s) => (find(s, 'HTTPRoute', 'https-redirect').spec.rules[0].filters[0].requestRedirect.scheme = 'http'),
    rule: 'k8s-route-tls-only',
    subject: 'HTTPRoute/envoy-gateway-system/https-redirect',
    message: 'HTTPRoute attaches to listener http, which is not an HTTPS listener (https-api, https-grafana, https-argocd)',
  },
  {
    title: 'Gateway HTTPS listener without a certificate',
    breaks: (s) => delete find(s, 'Gateway', 'goticket-edge').spec.listeners[1].tls,
    rule: 'k8s-route-tls-only',
    subject: 'Gateway/envoy-gateway-system/goticket-edge',
    message: 'listener https-api (HTTPS) does not terminate TLS with a certificate (tls.mode Terminate, certificateRefs)',
  },
  {
    title: 'Gateway HTTP listener open to every namespace',
    breaks: (s) => (find(s, 'Gateway', 'goticket-edge').spec.listeners[0].allowedRoutes.namespaces.from = 'All'),
    rule: 'k8s-route-tls-only',
    subject: 'Gateway/envoy-gateway-system/goticket-edge',
    message:
      "listener http (plain HTTP) takes routes from All namespaces (only the Gateway's own redirect may use it: allowedRoutes.namespaces.from Same)",
  },
  // k8s-namespace-pod-security
  {
    title: 'namespace without PSS label',
    breaks: (s) => (find(s, 'Namespace', 'goticket').metadata.labels = {}),
    rule: 'k8s-namespace-pod-security',
    subject: 'Namespace/-/goticket',
    message: 'Namespace has no pod-security.kubernetes.io/enforce label',
  },
  {
    title: 'namespace with an invalid PSS level',
    breaks: (s) => (find(s, 'Namespace', 'goticket').metadata.labels['pod-security.kubernetes.io/enforce'] = 'strict'),
    rule: 'k8s-namespace-pod-security',
    subject: 'Namespace/-/goticket',
    message: 'Namespace label pod-security.kubernetes.io/enforce: strict is not a Pod Security Standards level',
  },
  {
    title: 'namespace weaker than restricted',
    breaks: (s) => (find(s, 'Namespace', 'goticket').metadata.labels['pod-security.kubernetes.io/enforce'] = 'baseline'),
    rule: 'k8s-namespace-pod-security',
    subject: 'Namespace/-/goticket',
    message: 'Namespace enforces baseline instead of restricted and is not a listed exception',
  },
  // k8s-network-policy-allow-list
  {
    title: 'egress rule without `to`',
    breaks: (s) => delete find(s, 'NetworkPolicy', 'allow-dns').spec.egress[0].to,
    rule: 'k8s-network-policy-allow-list',
    subject: 'NetworkPolicy/goticket/allow-dns',
    message: 'egress rule 1 allows every destination (no `to`)',
  },
  {
    title: 'egress to the internet',
    breaks: (s) =>
      find(s, 'NetworkPolicy', 'api-ingress').spec.egress[0].to.push({ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }),
    rule: 'k8s-network-policy-allow-list',
    subject: 'NetworkPolicy/goticket/api-ingress',
    message: 'egress rule 1 allows the whole internet (ipBlock 0.0.0.0/0)',
  },
  ...publicEgressCases(),
  {
    title: 'ingress rule with an empty `from`',
    breaks: (s) => (find(s, 'NetworkPolicy', 'api-ingress').spec.ingress[0].from = []),
    rule: 'k8s-network-policy-allow-list',
    subject: 'NetworkPolicy/goticket/api-ingress',
    message: 'ingress rule 1 admits every source (no `from`)',
  },
  {
    title: 'ingress from the internet',
    breaks: (s) =>
      find(s, 'NetworkPolicy', 'api-ingress').spec.ingress.push({ from: [{ ipBlock: { cidr: '::/0' } }], ports: [{ port: 8080 }] }),
    rule: 'k8s-network-policy-allow-list',
    subject: 'NetworkPolicy/goticket/api-ingress',
    message: 'ingress rule 2 admits the whole internet (ipBlock ::/0)',
  },
  // k8s-no-plain-secrets
  {
    title: 'plain Secret',
    breaks: (s) =>
      s.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'smtp', namespace: 'goticket' }, data: { SMTP_URL: 'c210cDovLw==' } }),
    rule: 'k8s-no-plain-secrets',
    subject: 'Secret/goticket/smtp',
    message: 'plain Secret in GitOps output (commit a SealedSecret instead)',
  },
  // k8s-namespace-default-deny
  {
    title: 'no NetworkPolicy',
    breaks: (s) => remove(s, 'NetworkPolicy', 'default-deny'),
    rule: 'k8s-namespace-default-deny',
    subject: 'Namespace/-/goticket',
    message: 'namespace goticket runs workloads without a default-deny Ingress and Egress NetworkPolicy',
  },
  {
    title: 'deny for ingress only',
    breaks: (s) => (find(s, 'NetworkPolicy', 'default-deny').spec.policyTypes = ['Ingress']),
    rule: 'k8s-namespace-default-deny',
    subject: 'Namespace/-/goticket',
    message: 'namespace goticket runs workloads without a default-deny Egress NetworkPolicy',
  },
  {
    title: 'deny policy with allow rules',
    breaks: (s) => (find(s, 'NetworkPolicy', 'default-deny').spec.egress = [{ to: [{ podSelector: {} }] }]),
    rule: 'k8s-namespace-default-deny',
    subject: 'Namespace/-/goticket',
    message: 'namespace goticket runs workloads without a default-deny Egress NetworkPolicy',
  },
  {
    title: 'deny policy selecting some pods only',
    breaks: (s) => (find(s, 'NetworkPolicy', 'default-deny').spec.podSelector = { matchLabels: { app: 'api' } }),
    rule: 'k8s-namespace-default-deny',
    subject: 'Namespace/-/goticket',
    message: 'namespace goticket runs workloads without a default-deny Ingress and Egress NetworkPolicy',
  },
  {
    title: 'no NetworkPolicy and no Namespace object (names the first workload)',
    breaks: (s) => {
      remove(s, 'NetworkPolicy', 'default-deny');
      remove(s, 'Namespace', 'goticket');
    },
    rule: 'k8s-namespace-default-deny',
    subject: API,
    message: 'namespace goticket runs workloads without a default-deny Ingress and Egress NetworkPolicy',
  },
  // k8s-prod-replicas
  {
    title: 'prod Deployment with 1 replica',
    breaks: (s) => (find(s, 'Deployment', 'worker').spec.replicas = 1),
    rule: 'k8s-prod-replicas',
    subject: 'Deployment/goticket/worker',
    message: 'Deployment runs 1 replica(s) and no HorizontalPodAutoscaler targets it (prod needs >= 2)',
  },
  {
    title: 'prod Deployment with default replicas',
    breaks: (s) => delete find(s, 'Deployment', 'worker').spec.replicas,
    rule: 'k8s-prod-replicas',
    subject: 'Deployment/goticket/worker',
    message: 'Deployment sets no replicas (default 1) and no HorizontalPodAutoscaler targets it',
  },
  {
    title: 'prod HPA with minReplicas 1',
    breaks: (s) => (find(s, 'HorizontalPodAutoscaler', 'api').spec.minReplicas = 1),
    rule: 'k8s-prod-replicas',
    subject: API,
    message: 'HorizontalPodAutoscaler api allows 1 replica (minReplicas must be >= 2 in prod)',
  },
  {
    title: 'prod HPA removed',
    breaks: (s) => remove(s, 'HorizontalPodAutoscaler', 'api'),
    rule: 'k8s-prod-replicas',
    subject: API,
    message: 'Deployment sets no replicas (default 1) and no HorizontalPodAutoscaler targets it',
  },
  // k8s-prod-pod-disruption-budget
  {
    title: 'prod Deployment without PDB',
    breaks: (s) => remove(s, 'PodDisruptionBudget', 'worker'),
    rule: 'k8s-prod-pod-disruption-budget',
    subject: 'Deployment/goticket/worker',
    message: "no PodDisruptionBudget selects this Deployment's pods",
  },
  {
    title: 'prod PDB selecting other pods',
    breaks: (s) => (find(s, 'PodDisruptionBudget', 'worker').spec.selector = { matchLabels: { app: 'wrker' } }),
    rule: 'k8s-prod-pod-disruption-budget',
    subject: 'Deployment/goticket/worker',
    message: "no PodDisruptionBudget selects this Deployment's pods",
  },
];

describe('Kubernetes rules', () => {
  test.each(['prod', 'dev'] as const)('the compliant set passes every rule in %s', (env) => {
    expect(run(compliantSet(), env)).toEqual([]);
  });

  test.each(cases)('$rule: $title', ({ breaks, rule, subject, message, env }) => {
    const set = structuredClone(compliantSet());
    breaks(set);
    expect(run(set, env ?? 'prod')).toEqual([{ rule, subject: subject ?? API, message }]);
  });

  test('every Kubernetes rule has at least one violating case', () => {
    const covered = new Set(cases.map((c) => c.rule));
    for (const r of [...manifestRules, ...manifestSetRules]) expect(covered).toContain(r.name);
  });

  test('prod-only rules stay quiet in dev', () => {
    const set = structuredClone(compliantSet());
    find(set, 'Deployment', 'worker').spec.replicas = 1;
    remove(set, 'PodDisruptionBudget', 'worker');
    remove(set, 'HorizontalPodAutoscaler', 'api');
    expect(run(set, 'dev')).toEqual([]);
    expect(
      run(set, 'prod')
        .map((v) => v.rule)
        .sort(),
    ).toEqual(['k8s-prod-pod-disruption-budget', 'k8s-prod-replicas', 'k8s-prod-replicas']);
  });

  test('allowed variants: digest-pinned image, NET_BIND_SERVICE, Localhost seccomp, Jobs without probes', () => {
    const set = structuredClone(compliantSet());
    apiContainer(set).image = 'ghcr.io/goticket/goticket@sha256:' + 'a'.repeat(64);
    apiSc(set).capabilities.add = ['NET_BIND_SERVICE'];
    apiSc(set).seccompProfile = { type: 'Localhost', localhostProfile: 'profiles/api.json' };
    expect(find(set, 'Job', 'migrate').spec.template.spec.containers[0].livenessProbe).toBeUndefined();
    expect(run(set)).toEqual([]);
  });

  test('the identity-provider egress (public addresses on 443, private ranges excepted, reason stated) is the one sanctioned public egress', () => {
    const set = structuredClone(compliantSet());
    withIdentityProviderEgress(set).to.push({ ipBlock: { cidr: '::/0', except: [...IDENTITY_PROVIDER_EGRESS.exceptV6] } });
    expect(run(set)).toEqual([]);
  });

  test('CronJob pods are checked through jobTemplate', () => {
    const set = structuredClone(compliantSet());
    const job = find(set, 'Job', 'migrate');
    job.spec.template.spec.containers[0].securityContext.privileged = true;
    set.push({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace: 'goticket' },
      spec: { schedule: '@daily', jobTemplate: { spec: job.spec } },
    });
    expect(run(set).map((v) => v.subject)).toEqual(['Job/goticket/migrate', 'CronJob/goticket/nightly']);
  });

  test('namespace exceptions are explicit and narrow', () => {
    const set = structuredClone(compliantSet());
    find(set, 'Namespace', 'goticket').metadata.labels['pod-security.kubernetes.io/enforce'] = 'baseline';
    const settings = { ...DEFAULT_SETTINGS, podSecurityExceptions: { goticket: 'baseline' as const } };
    expect(run(set, 'prod', settings)).toEqual([]);
    find(set, 'Namespace', 'goticket').metadata.labels['pod-security.kubernetes.io/enforce'] = 'privileged';
    expect(run(set, 'prod', settings).map((v) => v.rule)).toEqual(['k8s-namespace-pod-security']);
  });

  test('the built-in exceptions: the platform add-on namespaces, per environment', () => {
    const ns = (name: string, level: string): Manifest => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': level } },
    });
    const platform = [
      ns('envoy-gateway-system', 'baseline'),
      ns('argocd', 'baseline'),
      ns('monitoring', 'privileged'),
      ns('cert-manager', 'restricted'),
    ];
    expect(run(platform, 'dev')).toEqual([]);
    expect(run(platform, 'prod')).toEqual([]);
    expect(run([ns('envoy-gateway-system', 'privileged')], 'dev')).toEqual([
      {
        rule: 'k8s-namespace-pod-security',
        subject: 'Namespace/-/envoy-gateway-system',
        message: 'Namespace enforces privileged instead of restricted and is not a listed exception',
      },
    ]);
    expect(run([ns('argocd', 'privileged'), ns('cert-manager', 'baseline')], 'dev').map((v) => v.subject)).toEqual([
      'Namespace/-/argocd',
      'Namespace/-/cert-manager',
    ]);
    const bogus = { ...DEFAULT_SETTINGS, podSecurityExceptions: { goticket: 'lenient' as never } };
    expect(run([ns('goticket', 'privileged')], 'dev', bogus).map((v) => v.rule)).toEqual(['k8s-namespace-pod-security']);
  });

  test('the only Secret allowed in GitOps output is an empty service-account token; Pulumi-managed Secrets are not checked', () => {
    const token = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: { name: 'ci-token', namespace: 'goticket', annotations: { 'kubernetes.io/service-account.name': 'ci' } },
    };
    expect(run([...compliantSet(), token])).toEqual([]);
    const runtime = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'goticket-runtime', namespace: 'goticket' },
      stringData: { DATABASE_URL: 'postgres://' },
    };
    expect(run([...compliantSet(), runtime], 'prod', DEFAULT_SETTINGS, false)).toEqual([]);
    expect(run([...compliantSet(), runtime]).map((v) => v.rule)).toEqual(['k8s-no-plain-secrets']);
  });

  test('imageTag and selects handle the edge cases', () => {
    expect(imageTag('registry:5000/a/b:1.2')).toEqual({ digest: false, tag: '1.2' });
    expect(imageTag('a@sha256:00')).toEqual({ digest: true });
    const labels = { app: 'api', tier: 'web' };
    expect(selects({ matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }, labels)).toBe(
      true,
    );
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels)).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels)).toBe(true);
    expect(selects({}, labels)).toBe(false);
  });
});
