/**
 * Names, labels and the hardened pod/container defaults every chart shares. Charts use the
 * L1 `k8s` classes of cdk8s-plus-28: every field of the restricted posture is written
 * explicitly (the L2 constructs neither drop capabilities nor set seccomp, and have no
 * topology spread or PDB).
 */
import { createHash } from 'node:crypto';
import { type ChartProps } from 'cdk8s';
import { type Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { APP, LABELS, NAMESPACE } from '../platform/contract';
import { type Resources, type SpreadPolicy } from './environments';

/** Stable names for GitOps: no hashes appended to resource names. */
export const CHART_PROPS: ChartProps = { disableResourceNameHashes: true };

export type Labels = Record<string, string>;

const COMMON_LABELS: Labels = { [LABELS.partOf]: APP, [LABELS.managedBy]: 'cdk8s' };

/** Selector labels: immutable on Deployments/StatefulSets, so never include a version. */
export function selectorLabels(name: string, component: string): Labels {
  return { [LABELS.name]: name, [LABELS.component]: component };
}

export function meta(name: string, labels: Labels = {}, annotations?: Record<string, string>): k8s.ObjectMeta {
  return { name, namespace: NAMESPACE, labels: { ...COMMON_LABELS, ...labels }, ...(annotations ? { annotations } : {}) };
}

/** Argo CD sync wave: lower waves are applied and healthy before higher ones start. */
export function syncWave(wave: number): Record<string, string> {
  return { 'argocd.argoproj.io/sync-wave': String(wave) };
}

export function podSecurityContext(uid: number): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Pod Security Standards "restricted", set on every container. */
export function containerSecurityContext(uid: number): k8s.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function resources(r: Resources): k8s.ResourceRequirements {
  return {
    requests: { cpu: k8s.Quantity.fromString(r.cpuRequest), memory: k8s.Quantity.fromString(r.memoryRequest) },
    limits: { cpu: k8s.Quantity.fromString(r.cpuLimit), memory: k8s.Quantity.fromString(r.memoryLimit) },
  };
}

/** The only writable paths: emptyDirs (sizeLimit keeps a runaway writer from filling the node). */
export function emptyDirVolume(name: string, sizeLimit = '64Mi'): k8s.Volume {
  return { name, emptyDir: { sizeLimit: k8s.Quantity.fromString(sizeLimit) } };
}

export interface HardenedPod {
  uid: number;
  serviceAccountName: string;
  containers: k8s.Container[];
  volumes?: k8s.Volume[];
  terminationGracePeriodSeconds?: number;
  restartPolicy?: 'Always' | 'Never' | 'OnFailure';
  topologySpreadConstraints?: k8s.TopologySpreadConstraint[];
}

/** A pod spec with the restricted posture and no service-account token (nothing here calls the API server). */
export function hardenedPodSpec(pod: HardenedPod): k8s.PodSpec {
  return {
    serviceAccountName: pod.serviceAccountName,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: podSecurityContext(pod.uid),
    containers: pod.containers.map((container) => ({ ...container, securityContext: containerSecurityContext(pod.uid) })),
    ...(pod.volumes ? { volumes: pod.volumes } : {}),
    ...(pod.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds } : {}),
    ...(pod.restartPolicy ? { restartPolicy: pod.restartPolicy } : {}),
    ...(pod.topologySpreadConstraints ? { topologySpreadConstraints: pod.topologySpreadConstraints } : {}),
  };
}

/** Spread replicas across zones and nodes; pod-template-hash keeps a rollout's old pods out of the count. */
export function topologySpread(labels: Labels, zone: SpreadPolicy, node: SpreadPolicy): k8s.TopologySpreadConstraint[] {
  return [
    { topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: zone },
    { topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: node },
  ].map((c) => ({ ...c, maxSkew: 1, labelSelector: { matchLabels: labels }, matchLabelKeys: ['pod-template-hash'] }));
}

export function serviceAccount(
  scope: Construct,
  name: string,
  labels: Labels,
  annotations?: Record<string, string>,
): k8s.KubeServiceAccount {
  return new k8s.KubeServiceAccount(scope, `sa-${name}`, {
    metadata: meta(name, labels, annotations),
    automountServiceAccountToken: false,
  });
}

/**
 * A Deployment whose containers stop with a preStop `sleep` (Kubernetes >= 1.30): they keep
 * serving while endpoints and the gateway's Envoy drop the pod, with no shell run in the
 * container (the runtime image is bookworm-slim; a `sleep` action needs no binary at all). cdk8s-plus-28's k8s types predate the field and their
 * serializer strips unknown fields (JSON patches included), so it is added after it.
 */
export class KubeDeploymentWithPreStop extends k8s.KubeDeployment {
  constructor(
    scope: Construct,
    id: string,
    props: k8s.KubeDeploymentProps,
    private readonly preStopSeconds: number,
  ) {
    super(scope, id, props);
  }

  override toJson(): Record<string, unknown> {
    const json = super.toJson() as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    for (const container of json.spec.template.spec.containers) {
      container.lifecycle = { ...(container.lifecycle as object), preStop: { sleep: { seconds: this.preStopSeconds } } };
    }
    return json;
  }
}

/** Stable content hash for pod-template annotations: a config change rolls the pods. */
export function checksum(data: unknown): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex');
}
