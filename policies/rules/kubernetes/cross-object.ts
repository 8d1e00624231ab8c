/**
 * Rules over a set of objects deployed together (one environment's dist/ folder, one Helm chart,
 * or every Kubernetes resource of a Pulumi stack).
 */
import { nameOf, namespaceOf, podLabelsOf, WORKLOAD_KINDS, type Manifest } from '../../lib/manifest';
import type { Finding, ManifestSetRule } from '../../lib/types';
import { num, record, records, str, strings } from '../../lib/values';

/** Namespace key: objects with no namespace share one ("" = left to the deployer). */
const nsKey = (m: Manifest): string => namespaceOf(m) ?? '';

function isEmptySelector(sel: unknown): boolean {
  const s = record(sel);
  return records(s.matchExpressions).length === 0 && Object.keys(record(s.matchLabels)).length === 0;
}

/** Does a NetworkPolicy deny all traffic of `type` for every pod in its namespace? */
function deniesAll(np: Manifest, type: 'Ingress' | 'Egress'): boolean {
  const spec = record(np.spec);
  if (!isEmptySelector(spec.podSelector)) return false;
  const field = type === 'Ingress' ? 'ingress' : 'egress';
  const types = strings(spec.policyTypes);
  // Without policyTypes, Ingress is implied, Egress only when egress rules are present.
  const declared = types.length > 0 ? types.includes(type) : type === 'Ingress';
  return declared && records(spec[field]).length === 0;
}

export const namespaceDefaultDeny: ManifestSetRule = {
  kind: 'manifest-set',
  name: 'k8s-namespace-default-deny',
  level: 'mandatory',
  description: 'Every namespace that runs workloads has a default-deny NetworkPolicy for ingress and egress.',
  remediation: 'Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no rules, then allow each flow explicitly.',
  rationale:
    'Without a default deny every pod can reach every other pod and the internet; allow-lists only mean something on top of a deny.',
  benchmark: 'CIS EKS 4.3.2 (all namespaces have NetworkPolicies); NSA/CISA hardening (network separation)',
  check: (manifests) => {
    const findings: Finding[] = [];
    const namespaces = [...new Set(manifests.filter((m) => WORKLOAD_KINDS.has(m.kind)).map(nsKey))].sort();
    for (const ns of namespaces) {
      const policies = manifests.filter((m) => m.kind === 'NetworkPolicy' && nsKey(m) === ns);
      const missing = (['Ingress', 'Egress'] as const).filter((t) => !policies.some((np) => deniesAll(np, t)));
      if (missing.length === 0) continue;
      const subject =
        manifests.find((m) => m.kind === 'Namespace' && nameOf(m) === ns) ??
        manifests.find((m) => WORKLOAD_KINDS.has(m.kind) && nsKey(m) === ns);
      if (subject)
        findings.push({
          manifest: subject,
          message: `namespace ${ns || '(unset)'} runs workloads without a default-deny ${missing.join(' and ')} NetworkPolicy`,
        });
    }
    return findings;
  },
};

/** Does a label selector (matchLabels + matchExpressions) select pods with `labels`? */
export function selects(selector: unknown, labels: Record<string, string>): boolean {
  const sel = record(selector);
  if (isEmptySelector(sel)) return false; // an empty PDB/HPA selector is a mistake, not "all pods"
  for (const [k, v] of Object.entries(record(sel.matchLabels))) if (labels[k] !== str(v)) return false;
  for (const expr of records(sel.matchExpressions)) {
    const key = str(expr.key) ?? '';
    const values = strings(expr.values);
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const value = labels[key];
    const ok =
      expr.operator === 'In'
        ? has && values.includes(value ?? '')
        : expr.operator === 'NotIn'
          ? !has || !values.includes(value ?? '')
          : expr.operator === 'Exists'
            ? has
            : expr.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

const deploymentsOf = (ms: readonly Manifest[]): Manifest[] => ms.filter((m) => m.kind === 'Deployment' && m.apiVersion === 'apps/v1');

export const prodReplicas: ManifestSetRule = {
  kind: 'manifest-set',
  name: 'k8s-prod-replicas',
  level: 'mandatory',
  description: 'In prod every Deployment runs at least 2 replicas, fixed or through an HPA with minReplicas >= 2.',
  remediation:
    'Set spec.replicas >= 2, or add a HorizontalPodAutoscaler with minReplicas >= 2 targeting the Deployment (and leave replicas unset).',
  rationale: 'One replica means every node drain, rollout or crash is an outage.',
  benchmark: 'EKS Best Practices (reliability: run multiple replicas)',
  check: (manifests, ctx) => {
    if (ctx.env !== 'prod') return [];
    const hpas = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler');
    return deploymentsOf(manifests).flatMap((d): Finding[] => {
      const hpa = hpas.find((h) => {
        const ref = record(record(h.spec).scaleTargetRef);
        return nsKey(h) === nsKey(d) && ref.kind === 'Deployment' && ref.name === nameOf(d);
      });
      if (hpa) {
        const min = num(record(hpa.spec).minReplicas) ?? 1;
        return min >= 2
          ? []
          : [{ manifest: d, message: `HorizontalPodAutoscaler ${nameOf(hpa)} allows ${min} replica (minReplicas must be >= 2 in prod)` }];
      }
      const replicas = num(record(d.spec).replicas);
      if (replicas === undefined)
        return [{ manifest: d, message: 'Deployment sets no replicas (default 1) and no HorizontalPodAutoscaler targets it' }];
      return replicas >= 2
        ? []
        : [{ manifest: d, message: `Deployment runs ${replicas} replica(s) and no HorizontalPodAutoscaler targets it (prod needs >= 2)` }];
    });
  },
};

export const prodDisruptionBudget: ManifestSetRule = {
  kind: 'manifest-set',
  name: 'k8s-prod-pod-disruption-budget',
  level: 'mandatory',
  description: "In prod every Deployment's pods are covered by a PodDisruptionBudget.",
  remediation: "Add a PodDisruptionBudget (maxUnavailable: 1 or minAvailable: 1) whose selector matches the Deployment's pod labels.",
  rationale: 'Without a PDB a node upgrade may evict every replica at once.',
  benchmark: 'EKS Best Practices (reliability: PodDisruptionBudgets)',
  check: (manifests, ctx) => {
    if (ctx.env !== 'prod') return [];
    const pdbs = manifests.filter((m) => m.kind === 'PodDisruptionBudget');
    return deploymentsOf(manifests)
      .filter((d) => !pdbs.some((p) => nsKey(p) === nsKey(d) && selects(record(p.spec).selector, podLabelsOf(d))))
      .map((d) => ({ manifest: d, message: "no PodDisruptionBudget selects this Deployment's pods" }));
  },
};

export const crossObjectRules: ManifestSetRule[] = [namespaceDefaultDeny, prodReplicas, prodDisruptionBudget];
