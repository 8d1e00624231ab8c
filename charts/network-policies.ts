/**
 * Default deny in and out for the namespace, then one allow-list rule per flow:
 * DNS, the shared Gateway's Envoy pods → api (HTTP and gRPC), Prometheus → api/worker metrics,
 * app → PostgreSQL/Redis/RabbitMQ, and (where social sign-in is on) api → the identity providers
 * over 443. (cert-manager's ACME HTTP-01 solvers run beside the Gateway's certificates, in the
 * Gateway's namespace, not here.)
 */
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { type Construct } from 'constructs';
import { IN_CLUSTER_DEPENDENCIES } from './dependencies';
import { type Environment } from './environments';
import { APP, APP_PORT, EDGE, GRPC_CLIENT_LABELS, GRPC_PORT, HTTP_COMPONENTS, IDENTITY_PROVIDER_EGRESS, LABELS, MONITORING } from '../platform/contract';
import { CHART_PROPS, type Labels, meta } from './lib';

const APP_PODS: k8s.LabelSelector = { matchLabels: { [LABELS.name]: APP } };
const ALL_PODS: k8s.LabelSelector = {};

const tcp = (port: number): k8s.NetworkPolicyPort => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) });

/** Pods of another namespace, by the label every namespace carries since Kubernetes 1.22. */
function podsIn(namespace: string, labels: Labels): k8s.NetworkPolicyPeer {
  return { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } }, podSelector: { matchLabels: labels } };
}

export class NetworkPoliciesChart extends Chart {
  constructor(scope: Construct, id: string, props: { env: Environment }) {
    super(scope, id, CHART_PROPS);
    const { backends } = props.env;
    const policy = (name: string, spec: k8s.NetworkPolicySpec) =>
      new k8s.KubeNetworkPolicy(this, name, { metadata: meta(name, { [LABELS.name]: APP }), spec });

    policy('default-deny-all', { podSelector: ALL_PODS, policyTypes: ['Ingress', 'Egress'] });

    policy('allow-dns', {
      podSelector: ALL_PODS,
      policyTypes: ['Egress'],
      egress: [
        {
          to: [podsIn('kube-system', { 'k8s-app': 'kube-dns' })],
          ports: [
            { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
            { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
          ],
        },
      ],
    });

    // Only the Envoy pods of the shared Gateway (Envoy Gateway labels them with the Gateway they serve).
    policy('api-from-gateway', {
      podSelector: { matchLabels: { [LABELS.name]: APP, [LABELS.component]: 'api' } },
      policyTypes: ['Ingress'],
      // HTTP (the HTTPRoute) and gRPC (the GRPCRoute).
      ingress: [{ from: [podsIn(EDGE.namespace, EDGE.podLabels)], ports: [tcp(APP_PORT), tcp(GRPC_PORT)] }],
    });

    // The gRPC port from the cluster's own clients: pods (any namespace) labelled as gRPC clients.
    policy('api-grpc-from-clients', {
      podSelector: { matchLabels: { [LABELS.name]: APP, [LABELS.component]: 'api' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { ...GRPC_CLIENT_LABELS } } }], ports: [tcp(GRPC_PORT)] }],
    });

    policy('metrics-from-prometheus', {
      podSelector: {
        matchLabels: { [LABELS.name]: APP },
        matchExpressions: [{ key: LABELS.component, operator: 'In', values: [...HTTP_COMPONENTS] }],
      },
      policyTypes: ['Ingress'],
      ingress: [{ from: [podsIn(MONITORING.namespace, MONITORING.prometheusPodLabels)], ports: [tcp(APP_PORT)] }],
    });

    // api, worker and the migrate Job reach the backends: by pod label in-cluster, by the data subnets' CIDRs in the VPC.
    const egress: k8s.NetworkPolicyEgressRule[] =
      backends.kind === 'vpc'
        ? [{ to: backends.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: Object.values(backends.ports).map(tcp) }]
        : IN_CLUSTER_DEPENDENCIES.map((dep) => ({ to: [{ podSelector: { matchLabels: dep.labels } }], ports: [tcp(backends.ports[dep.port])] }));
    policy('app-to-backends', { podSelector: APP_PODS, policyTypes: ['Egress'], egress });

    // Social sign-in: the api calls Google (discovery, token, JWKS) and GitHub (token, REST API).
    // Neither publishes a stable address list to allow (Google's goog.json and GitHub's /meta change
    // without notice, behind anycast and CDNs; a stale list is an outage), and a NetworkPolicy cannot
    // name hosts (that needs a DNS-aware CNI such as Cilium's toFQDNs, which this platform does not
    // run). So: api pods only, TCP 443 only, public addresses only (every private, link-local and
    // metadata range excepted: nothing inside the VPC or the node is reachable this way), and the
    // policy says why in its annotation; TLS verification pins the peer to the provider's name.
    if (props.env.oauth?.googleClientId || props.env.oauth?.githubClientId) {
      new k8s.KubeNetworkPolicy(this, IDENTITY_PROVIDER_EGRESS.policy, {
        metadata: { ...meta(IDENTITY_PROVIDER_EGRESS.policy, { [LABELS.name]: APP }), annotations: { [IDENTITY_PROVIDER_EGRESS.reasonAnnotation]: IDENTITY_PROVIDER_EGRESS.reason } },
        spec: {
          podSelector: { matchLabels: { [LABELS.name]: APP, [LABELS.component]: 'api' } },
          policyTypes: ['Egress'],
          egress: [
            {
              to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [...IDENTITY_PROVIDER_EGRESS.exceptV4] } }, { ipBlock: { cidr: '::/0', except: [...IDENTITY_PROVIDER_EGRESS.exceptV6] } }],
              ports: [tcp(IDENTITY_PROVIDER_EGRESS.port)],
            },
          ],
        },
      });
    }

    if (backends.kind === 'in-cluster') {
      for (const dep of IN_CLUSTER_DEPENDENCIES) {
        policy(`${dep.name}-from-app`, {
          podSelector: { matchLabels: dep.labels },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: APP_PODS }], ports: [tcp(backends.ports[dep.port])] }],
        });
      }
    }
  }
}
