/** What every container must declare: a pinned image, requests and limits, probes. */
import { LONG_RUNNING_KINDS } from '../../lib/manifest';
import type { ManifestRule } from '../../lib/types';
import { get, present, str } from '../../lib/values';
import { eachContainer } from './helpers';

/** The tag of an image reference, `undefined` when untagged; digests count as pinned. */
export function imageTag(image: string): { digest: boolean; tag?: string } {
  if (image.includes('@')) return { digest: true };
  const lastSlash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return { digest: false, tag: colon > lastSlash ? image.slice(colon + 1) : undefined };
}

export const imagePinned: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-image-pinned',
  level: 'mandatory',
  description: 'Every container image is pinned by digest or an explicit tag other than latest.',
  remediation:
    'Reference images as registry/name:<version> or registry/name@sha256:<digest> (set per environment in charts/environments.ts).',
  rationale: 'A moving tag makes a rollout unreproducible and lets a registry push change what runs without a review.',
  benchmark: 'NSA/CISA Kubernetes Hardening Guide (image provenance); AWS FSBP ECR.2 (tag immutability)',
  check: (m) =>
    eachContainer(m, (c) => {
      const image = str(c.spec.image);
      if (image === undefined || image === '') return `${c.label} has no image`;
      const { digest, tag } = imageTag(image);
      if (digest) return undefined;
      if (tag === undefined) return `${c.label} image ${image} has no tag (pin a version or a digest)`;
      if (tag === 'latest') return `${c.label} image ${image} uses :latest (pin a version or a digest)`;
      return undefined;
    }),
};

const RESOURCE_FIELDS = ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'] as const;

export const resourcesSet: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-resources-required',
  level: 'mandatory',
  description: 'Every container sets CPU and memory requests and limits.',
  remediation: 'Set resources.requests.{cpu,memory} and resources.limits.{cpu,memory} on every container and init container.',
  rationale: 'Without limits one pod can starve its neighbours (a denial of service); without requests the scheduler overcommits nodes.',
  benchmark: 'NSA/CISA Kubernetes Hardening Guide (resource policies); EKS Best Practices (reliability)',
  check: (m) =>
    eachContainer(
      m,
      (c) => {
        const missing = RESOURCE_FIELDS.filter((f) => !present(get(c.spec.resources, f)));
        return missing.length > 0 ? `${c.label} sets no resources.${missing.join(', resources.')}` : undefined;
      },
      (c) => !c.ephemeral,
    ),
};

export const probesSet: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-probes-required',
  level: 'advisory',
  description: 'Every container of a long-running workload has a liveness and a readiness probe.',
  remediation: 'Add livenessProbe and readinessProbe (the service exposes /healthz/live and /healthz/ready).',
  rationale: 'Without readiness a rollout sends traffic to pods that cannot serve; without liveness a hung process is never restarted.',
  benchmark: 'Kubernetes production best practices; EKS Best Practices (reliability)',
  check: (m) => {
    if (!LONG_RUNNING_KINDS.has(m.kind)) return [];
    return eachContainer(
      m,
      (c) => {
        const missing = (['livenessProbe', 'readinessProbe'] as const).filter((p) => !present(c.spec[p]));
        return missing.length > 0 ? `${c.label} has no ${missing.join(' and no ')}` : undefined;
      },
      (c) => !c.init && !c.ephemeral,
    );
  },
};

export const containerRules: ManifestRule[] = [imagePinned, resourcesSet, probesSet];
