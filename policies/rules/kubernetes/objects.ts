/** Rules over single non-workload objects: Services, Namespaces, NetworkPolicies, Secrets. */
import { IDENTITY_PROVIDER_EGRESS } from '../../../platform/contract';
import { labelsOf, nameOf, namespaceOf } from '../../lib/manifest';
import type { ManifestRule, PssLevel } from '../../lib/types';
import { present, record, records, str } from '../../lib/values';

const EXPOSED_TYPES = new Set(['LoadBalancer', 'NodePort']);

export const serviceExposure: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-service-type-restricted',
  level: 'mandatory',
  description:
    "Services of type LoadBalancer or NodePort exist only in the gateway's namespace (Envoy Gateway's data plane, envoy-gateway-system).",
  remediation: "Use a ClusterIP Service behind an HTTPRoute on the shared Gateway; only the Gateway's Envoy Service gets a load balancer.",
  rationale:
    'Every extra load balancer or node port is an internet-facing entry point that bypasses TLS, WAF and rate limits at the Gateway.',
  benchmark: 'CIS EKS 5.4.5 (TLS at load balancers); EKS Best Practices (network security)',
  check: (m, ctx) => {
    if (m.kind !== 'Service') return [];
    const type = str(record(m.spec).type) ?? 'ClusterIP';
    if (!EXPOSED_TYPES.has(type)) return [];
    const ns = namespaceOf(m);
    if (ns !== undefined && ctx.settings.publicServiceNamespaces.includes(ns)) return [];
    return [`Service of type ${type} outside ${ctx.settings.publicServiceNamespaces.join(', ') || 'any allowed namespace'}`];
  },
};

const PSS_LEVELS: readonly PssLevel[] = ['privileged', 'baseline', 'restricted'];
export const PSS_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

export const namespacePodSecurity: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-namespace-pod-security',
  level: 'mandatory',
  description: 'Every Namespace enforces a Pod Security Standards level: restricted unless listed as an exception.',
  remediation: `Label the Namespace ${PSS_ENFORCE_LABEL}: restricted (plus warn/audit); a weaker level needs an entry in the policy config podSecurityExceptions.`,
  rationale: 'Pod Security Admission rejects non-compliant pods at the API server, also those no pipeline checked.',
  benchmark: 'Pod Security Standards (Pod Security Admission labels); CIS EKS 4.2',
  check: (m, ctx) => {
    if (m.kind !== 'Namespace') return [];
    const level = labelsOf(m)[PSS_ENFORCE_LABEL];
    if (level === undefined) return [`Namespace has no ${PSS_ENFORCE_LABEL} label`];
    if (!(PSS_LEVELS as readonly string[]).includes(level))
      return [`Namespace label ${PSS_ENFORCE_LABEL}: ${level} is not a Pod Security Standards level`];
    if (level === 'restricted') return [];
    const exception = ctx.settings.podSecurityExceptions[nameOf(m)];
    const allowed = PSS_LEVELS.indexOf((typeof exception === 'object' ? exception[ctx.env] : exception) ?? 'restricted');
    // An unknown level in the config (-1) allows nothing weaker than restricted.
    if (allowed >= 0 && PSS_LEVELS.indexOf(level as PssLevel) >= allowed) return [];
    return [`Namespace enforces ${level} instead of restricted and is not a listed exception`];
  },
};

export const noPlainSecrets: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-no-plain-secrets',
  level: 'mandatory',
  gitOpsOnly: true,
  description: 'GitOps output contains no plain Secret objects; human-managed secrets are SealedSecrets.',
  remediation:
    'Seal the value (npm run seal -- --env <env> --name <secret> --key <KEY>) and commit the SealedSecret; runtime credentials come from Pulumi.',
  rationale: 'Anything in git is readable by everyone with clone access, forever (history keeps it).',
  benchmark: 'CIS EKS 4.4.2 (external secret storage); AWS FSBP principle: no secrets in source',
  check: (m) => {
    if (m.kind !== 'Secret' || m.apiVersion !== 'v1') return [];
    // The one narrow exception: a service-account token Secret carries no data; the controller fills it in.
    if (str(m.type) === 'kubernetes.io/service-account-token' && !present(m.data) && !present(m.stringData)) return [];
    return ['plain Secret in GitOps output (commit a SealedSecret instead)'];
  },
};

const WORLD = new Set(['0.0.0.0/0', '::/0']);

/**
 * The one sanctioned shape of egress to public addresses (platform/contract.ts
 * IDENTITY_PROVIDER_EGRESS, and PAYMENT_PROVIDER_EGRESS, which shares its annotation, port and
 * excepted ranges):
 * the policy states its reason in the annotation, the rule opens TCP 443 only, and the block
 * excepts every private, link-local and metadata range (so nothing inside the VPC or the node).
 */
function sanctionedPublicEgress(m: Record<string, unknown>, rule: Record<string, unknown>, block: Record<string, unknown>): boolean {
  const annotations = record(record(m.metadata).annotations);
  if (!str(annotations[IDENTITY_PROVIDER_EGRESS.reasonAnnotation])) return false;
  const ports = records(rule.ports);
  if (
    ports.length !== 1 ||
    (str(ports[0]!.protocol) ?? 'TCP') !== 'TCP' ||
    ports[0]!.port !== IDENTITY_PROVIDER_EGRESS.port ||
    ports[0]!.endPort !== undefined
  )
    return false;
  const except = new Set((Array.isArray(block.except) ? block.except : []).map(String));
  const required = str(block.cidr) === '::/0' ? IDENTITY_PROVIDER_EGRESS.exceptV6 : IDENTITY_PROVIDER_EGRESS.exceptV4;
  return required.every((cidr) => except.has(cidr));
}

export const networkPolicyAllowList: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-network-policy-allow-list',
  level: 'mandatory',
  description:
    'NetworkPolicy rules name their peers: none allows every source or destination, or the whole internet (one sanctioned shape: public addresses on TCP 443 with every private range excepted and a stated reason, for providers that publish no stable ranges).',
  remediation:
    'Give each ingress rule a `from` and each egress rule a `to` (pod/namespace selectors, or the CIDR of the service reached, e.g. the VPC); never 0.0.0.0/0 or ::/0 (the identity-provider and payment-provider egress excepted: platform/contract.ts IDENTITY_PROVIDER_EGRESS, PAYMENT_PROVIDER_EGRESS).',
  rationale:
    'A default deny means nothing next to a rule that allows everything: one open egress rule lets a compromised pod reach any host (the gap the public reference manifests leave).',
  benchmark:
    'CIS EKS 4.3.2 (NetworkPolicies in every namespace); NSA/CISA Kubernetes Hardening Guide (network separation: deny by default, allow specific flows)',
  check: (m) => {
    if (m.kind !== 'NetworkPolicy') return [];
    const spec = record(m.spec);
    const out: string[] = [];
    for (const [direction, field, peersField] of [
      ['ingress', 'ingress', 'from'],
      ['egress', 'egress', 'to'],
    ] as const) {
      records(spec[field]).forEach((rule, i) => {
        const peers = records(rule[peersField]);
        const what = direction === 'ingress' ? 'admits every source' : 'allows every destination';
        if (peers.length === 0) out.push(`${direction} rule ${i + 1} ${what} (no \`${peersField}\`)`);
        for (const block of peers.map((p) => record(p.ipBlock))) {
          const cidr = str(block.cidr);
          if (cidr === undefined || !WORLD.has(cidr)) continue;
          if (direction === 'egress' && sanctionedPublicEgress(m, rule, block)) continue;
          out.push(`${direction} rule ${i + 1} ${direction === 'ingress' ? 'admits' : 'allows'} the whole internet (ipBlock ${cidr})`);
        }
      });
    }
    return out;
  },
};

export const objectRules: ManifestRule[] = [serviceExposure, namespacePodSecurity, networkPolicyAllowList, noPlainSecrets];
