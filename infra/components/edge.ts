/**
 * The cluster's edge as plain Kubernetes objects: Envoy Gateway's GatewayClass and EnvoyProxy
 * (how the data plane is exposed), the ONE shared Gateway every route attaches to, and the
 * HTTP->HTTPS redirect. No Pulumi here: the Platform component wraps each object in a
 * CustomResource, and `scripts/kind-manifests.ts --edge` prints the same objects for the Kind e2e
 * workflow, so the cluster under test has the Gateway dev has.
 */
import { ARGOCD, EDGE, MONITORING, NAMESPACE, type EnvName } from '../../platform/contract';

export const GATEWAY_API = 'gateway.networking.k8s.io/v1';
export const ENVOY_GATEWAY_API = 'gateway.envoyproxy.io/v1alpha1';
/** Envoy Gateway's controller name (a GatewayClass names the controller that implements it). */
export const ENVOY_GATEWAY_CONTROLLER = 'gateway.envoyproxy.io/gatewayclass-controller';

export interface EdgeHosts {
  /** The api's public host (HTTPRoute in the goticket namespace). */
  app: string;
  grafana: string;
  argocd: string;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** The Secret cert-manager writes a listener's certificate to (in the Gateway's namespace). */
export const listenerSecret = (listener: string): string => `${EDGE.gateway.name}-${listener}-tls`;

/**
 * AWS: an internet-facing Network Load Balancer in the public subnets, cross-zone on, passing TCP
 * through (Envoy terminates TLS). `externalTrafficPolicy: Local` keeps the client's address (the
 * NLB targets only nodes running Envoy), so the X-Forwarded-For entry Envoy appends is the client.
 * The annotations are those of the AWS cloud provider's Service controller (and of the AWS Load
 * Balancer Controller, which reads the same keys), as Envoy Gateway's "customize EnvoyProxy" task
 * documents: the proxy Service takes them verbatim.
 */
export const NLB_ANNOTATIONS = {
  'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
  'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
  'service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled': 'true',
  'service.beta.kubernetes.io/aws-load-balancer-backend-protocol': 'tcp',
} as const;

function envoyService(env: EnvName): Record<string, unknown> {
  if (env === 'prod') {
    return { name: EDGE.service, type: 'LoadBalancer', externalTrafficPolicy: 'Local', annotations: { ...NLB_ANNOTATIONS } };
  }
  // Kind has no load balancer: fixed NodePorts, which infra/kind-config.yaml maps to the host's 80/443.
  // Service ports merge by `port` in a strategic-merge patch, whatever Envoy Gateway names them.
  return {
    name: EDGE.service,
    type: 'NodePort',
    externalTrafficPolicy: 'Cluster',
    patch: {
      type: 'StrategicMerge',
      value: {
        spec: {
          ports: [
            { port: 80, nodePort: EDGE.kindNodePorts.http },
            { port: 443, nodePort: EDGE.kindNodePorts.https },
          ],
        },
      },
    },
  };
}

function envoyDeployment(env: EnvName): Record<string, unknown> {
  const container = {
    resources: {
      requests: { cpu: env === 'prod' ? '250m' : '50m', memory: '128Mi' },
      limits: { memory: env === 'prod' ? '1Gi' : '256Mi' },
    },
  };
  if (env === 'dev') return { replicas: 1, container };
  return {
    replicas: 3,
    container,
    pod: {
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: { ...EDGE.podLabels } },
        },
      ],
    },
  };
}

/** Which namespace may attach routes to a listener: exactly the one that owns the host. */
const onlyNamespace = (namespace: string) => ({
  namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } },
});

export function edgeObjects(env: EnvName, hosts: EdgeHosts, clusterIssuer: string): KubeObject[] {
  const https = (listener: string, hostname: string, namespace: string, kinds: string[]) => ({
    name: listener,
    protocol: 'HTTPS',
    port: 443,
    hostname,
    tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', group: '', name: listenerSecret(listener) }] },
    allowedRoutes: { ...onlyNamespace(namespace), kinds: kinds.map((kind) => ({ group: 'gateway.networking.k8s.io', kind })) },
  });
  return [
    {
      apiVersion: ENVOY_GATEWAY_API,
      kind: 'EnvoyProxy',
      metadata: { name: EDGE.envoyProxy, namespace: EDGE.namespace },
      spec: {
        provider: {
          type: 'Kubernetes',
          kubernetes: {
            envoyService: envoyService(env),
            envoyDeployment: envoyDeployment(env),
            ...(env === 'prod' ? { envoyPDB: { minAvailable: 2 } } : {}),
          },
        },
      },
    },
    {
      apiVersion: GATEWAY_API,
      kind: 'GatewayClass',
      metadata: { name: EDGE.gatewayClass },
      spec: {
        controllerName: ENVOY_GATEWAY_CONTROLLER,
        parametersRef: { group: 'gateway.envoyproxy.io', kind: 'EnvoyProxy', name: EDGE.envoyProxy, namespace: EDGE.namespace },
      },
    },
    {
      apiVersion: GATEWAY_API,
      kind: 'Gateway',
      metadata: {
        name: EDGE.gateway.name,
        namespace: EDGE.gateway.namespace,
        // cert-manager's gateway-shim issues one Certificate per HTTPS listener from this issuer.
        annotations: { 'cert-manager.io/cluster-issuer': clusterIssuer },
      },
      spec: {
        gatewayClassName: EDGE.gatewayClass,
        listeners: [
          // Port 80 takes routes from the Gateway's own namespace only: the redirect below and the
          // HTTP-01 solver routes cert-manager creates beside the listener certificates.
          { name: EDGE.listeners.http, protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'Same' } } },
          https(EDGE.listeners.api, hosts.app, NAMESPACE, ['HTTPRoute', 'GRPCRoute']),
          https(EDGE.listeners.grafana, hosts.grafana, MONITORING.namespace, ['HTTPRoute']),
          https(EDGE.listeners.argocd, hosts.argocd, ARGOCD.namespace, ['HTTPRoute']),
        ],
      },
    },
    {
      apiVersion: GATEWAY_API,
      kind: 'HTTPRoute',
      metadata: { name: `${EDGE.gateway.name}-https-redirect`, namespace: EDGE.gateway.namespace },
      spec: {
        parentRefs: [{ name: EDGE.gateway.name, namespace: EDGE.gateway.namespace, sectionName: EDGE.listeners.http }],
        // A catch-all prefix: the ACME solvers' Exact /.well-known/acme-challenge/<token> matches win over it.
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }],
          },
        ],
      },
    },
  ];
}

/** An HTTPRoute an add-on's host gets (Grafana, Argo CD): its listener, all paths to one Service port. */
export function addonRoute(args: {
  name: string;
  namespace: string;
  listener: string;
  host: string;
  service: string;
  port: number;
}): KubeObject {
  return {
    apiVersion: GATEWAY_API,
    kind: 'HTTPRoute',
    metadata: { name: args.name, namespace: args.namespace },
    spec: {
      parentRefs: [{ name: EDGE.gateway.name, namespace: EDGE.gateway.namespace, sectionName: args.listener }],
      hostnames: [args.host],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: args.service, port: args.port }] }],
    },
  };
}
