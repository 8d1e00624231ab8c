/**
 * Default deny in and out for the namespace, then one allow-list rule per flow:
 * DNS, the shared Gateway's Envoy pods → api (HTTP and gRPC) and → payments (the provider's
 * webhook), Prometheus → api/worker/payments metrics, the booking side → PostgreSQL/Redis/RabbitMQ,
 * payments → PostgreSQL/RabbitMQ only, (where social sign-in is on) api → the identity providers
 * over 443, and (where the payments service calls Stripe) payments → the provider over 443.
 * (cert-manager's ACME HTTP-01 solvers run beside the Gateway's certificates, in the
 * Gateway's namespace, not here.)
 */
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { type Construct } from 'constructs';
import { IN_CLUSTER_DEPENDENCIES } from './dependencies';
import { type BackendPorts, type Environment } from './environments';
import {
  APP,
  APP_PORT,
  EDGE,
  GRPC_CLIENT_LABELS,
  GRPC_PORT,
  HTTP_COMPONENTS,
  IDENTITY_PROVIDER_EGRESS,
  LABELS,
  MONITORING,
  PAYMENTS,
  PAYMENT_PROVIDER_EGRESS,
} from '../platform/contract';
import { CHART_PROPS, type Labels, meta } from './lib';

const APP_PODS: k8s.LabelSelector = { matchLabels: { [LABELS.name]: APP } };
/** The booking side: every goticket pod but the payments service's (api, worker, the migrate Job). */
const BOOKING_PODS: k8s.LabelSelector = {
  matchLabels: { [LABELS.name]: APP },
  matchExpressions: [{ key: LABELS.component, operator: 'NotIn', values: [PAYMENTS.component] }],
};
const PAYMENTS_PODS: k8s.LabelSelector = { matchLabels: { [LABELS.name]: APP, [LABELS.component]: PAYMENTS.component } };
/** What the payments service reaches: its database and the broker (no Redis: it uses none). */
const PAYMENTS_BACKENDS: ReadonlyArray<keyof BackendPorts> = ['postgres', 'amqp'];
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

    // The provider's webhook: the Gateway routes only PAYMENTS.webhookPath here (charts/goticket.ts).
    policy('payments-from-gateway', {
      podSelector: PAYMENTS_PODS,
      policyTypes: ['Ingress'],
      ingress: [{ from: [podsIn(EDGE.namespace, EDGE.podLabels)], ports: [tcp(APP_PORT)] }],
    });

    policy('metrics-from-prometheus', {
      podSelector: {
        matchLabels: { [LABELS.name]: APP },
        matchExpressions: [{ key: LABELS.component, operator: 'In', values: [...HTTP_COMPONENTS] }],
      },
      policyTypes: ['Ingress'],
      ingress: [{ from: [podsIn(MONITORING.namespace, MONITORING.prometheusPodLabels)], ports: [tcp(APP_PORT)] }],
    });

    // api, worker and the migrate Job reach the backends, the payments service only its database and
    // the broker: by pod label in-cluster, by the data subnets' CIDRs in the VPC.
    const egressTo = (which: ReadonlyArray<keyof BackendPorts>): k8s.NetworkPolicyEgressRule[] =>
      backends.kind === 'vpc'
        ? [{ to: backends.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: which.map((port) => tcp(backends.ports[port])) }]
        : IN_CLUSTER_DEPENDENCIES.filter((dep) => which.includes(dep.port)).map((dep) => ({
            to: [{ podSelector: { matchLabels: dep.labels } }],
            ports: [tcp(backends.ports[dep.port])],
          }));
    policy('app-to-backends', { podSelector: BOOKING_PODS, policyTypes: ['Egress'], egress: egressTo(['postgres', 'redis', 'amqp']) });
    policy('payments-to-backends', { podSelector: PAYMENTS_PODS, policyTypes: ['Egress'], egress: egressTo(PAYMENTS_BACKENDS) });

    // Social sign-in: the api calls Google (discovery, token, JWKS) and GitHub (token, REST API).
    // Neither publishes a stable address list to allow (Google's goog.json and GitHub's /meta change
    // without notice, behind anycast and CDNs; a stale list is an outage), and a NetworkPolicy cannot
    // name hosts (that needs a DNS-aware CNI such as Cilium's toFQDNs, which this platform does not
    // run). So: api pods only, TCP 443 only, public addresses only (every private, link-local and
    // metadata range excepted: nothing inside the VPC or the node is reachable this way), and the
    // policy says why in its annotation; TLS verification pins the peer to the provider's name.
    if (props.env.oauth?.googleClientId || props.env.oauth?.githubClientId) {
      new k8s.KubeNetworkPolicy(this, IDENTITY_PROVIDER_EGRESS.policy, {
        metadata: {
          ...meta(IDENTITY_PROVIDER_EGRESS.policy, { [LABELS.name]: APP }),
          annotations: { [IDENTITY_PROVIDER_EGRESS.reasonAnnotation]: IDENTITY_PROVIDER_EGRESS.reason },
        },
        spec: {
          podSelector: { matchLabels: { [LABELS.name]: APP, [LABELS.component]: 'api' } },
          policyTypes: ['Egress'],
          egress: [
            {
              to: [
                { ipBlock: { cidr: '0.0.0.0/0', except: [...IDENTITY_PROVIDER_EGRESS.exceptV4] } },
                { ipBlock: { cidr: '::/0', except: [...IDENTITY_PROVIDER_EGRESS.exceptV6] } },
              ],
              ports: [tcp(IDENTITY_PROVIDER_EGRESS.port)],
            },
          ],
        },
      });
    }

    // Payments → Stripe: the same shape and reasoning as the identity providers' egress above
    // (Stripe's published API addresses change without notice); payments pods only, TCP 443 only.
    if (props.env.payments.provider === 'stripe') {
      new k8s.KubeNetworkPolicy(this, PAYMENT_PROVIDER_EGRESS.policy, {
        metadata: {
          ...meta(PAYMENT_PROVIDER_EGRESS.policy, { [LABELS.name]: APP }),
          annotations: { [PAYMENT_PROVIDER_EGRESS.reasonAnnotation]: PAYMENT_PROVIDER_EGRESS.reason },
        },
        spec: {
          podSelector: PAYMENTS_PODS,
          policyTypes: ['Egress'],
          egress: [
            {
              to: [
                { ipBlock: { cidr: '0.0.0.0/0', except: [...PAYMENT_PROVIDER_EGRESS.exceptV4] } },
                { ipBlock: { cidr: '::/0', except: [...PAYMENT_PROVIDER_EGRESS.exceptV6] } },
              ],
              ports: [tcp(PAYMENT_PROVIDER_EGRESS.port)],
            },
          ],
        },
      });
    }

    if (backends.kind === 'in-cluster') {
      for (const dep of IN_CLUSTER_DEPENDENCIES) {
        // PostgreSQL and RabbitMQ from every goticket pod; Redis from the booking side only.
        const from = [{ podSelector: PAYMENTS_BACKENDS.includes(dep.port) ? APP_PODS : BOOKING_PODS }];
        policy(`${dep.name}-from-app`, {
          podSelector: { matchLabels: dep.labels },
          policyTypes: ['Ingress'],
          ingress: [{ from, ports: [tcp(backends.ports[dep.port])] }],
        });
      }
    }
  }
}
