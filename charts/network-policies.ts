/**
 * Default deny in and out for the namespace, then one allow-list rule per flow:
 * DNS, ingress-nginx → api, ingress-nginx → cert-manager's ACME HTTP-01 solver,
 * Prometheus → api/worker metrics, app → PostgreSQL/Redis/RabbitMQ.
 */
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { type Construct } from 'constructs';
import { IN_CLUSTER_DEPENDENCIES } from './dependencies';
import { type Environment } from './environments';
import { APP, APP_PORT, EDGE, GRPC_CLIENT_LABELS, GRPC_PORT, HTTP_COMPONENTS, LABELS, MONITORING } from '../platform/contract';
import { CHART_PROPS, type Labels, meta } from './lib';

const APP_PODS: k8s.LabelSelector = { matchLabels: { [LABELS.name]: APP } };
/** cert-manager's HTTP-01 solver pods: their label and the port acmesolver listens on. */
export const ACME_SOLVER_LABELS = { 'acme.cert-manager.io/http01-solver': 'true' };
export const ACME_SOLVER_PORT = 8089;
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

    policy('api-from-ingress-nginx', {
      podSelector: { matchLabels: { [LABELS.name]: APP, [LABELS.component]: 'api' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [podsIn(EDGE.namespace, EDGE.podLabels)], ports: [tcp(APP_PORT), tcp(GRPC_PORT)] }],
    });

    // The gRPC port from the cluster's own clients: pods (any namespace) labelled as gRPC clients.
    policy('api-grpc-from-clients', {
      podSelector: { matchLabels: { [LABELS.name]: APP, [LABELS.component]: 'api' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { ...GRPC_CLIENT_LABELS } } }], ports: [tcp(GRPC_PORT)] }],
    });

    // cert-manager answers ACME HTTP-01 challenges (letsencrypt-prod) with a short-lived solver pod
    // in the namespace of the Ingress, reached through ingress-nginx: without this the default deny
    // blocks it and the certificate is never issued. Selects nothing while no challenge runs.
    policy('acme-solver-from-ingress-nginx', {
      podSelector: { matchLabels: ACME_SOLVER_LABELS },
      policyTypes: ['Ingress'],
      ingress: [{ from: [podsIn(EDGE.namespace, EDGE.podLabels)], ports: [tcp(ACME_SOLVER_PORT)] }],
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
