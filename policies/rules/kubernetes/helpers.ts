import { containersOf, podSpecOf, type ContainerRef, type Manifest } from '../../lib/manifest';
import type { Props } from '../../lib/types';
import { record } from '../../lib/values';

/**
 * Runs `check` over every container of a workload (init, regular, ephemeral) and collects its
 * messages; objects without pods yield none.
 */
export function eachContainer(
  m: Manifest,
  check: (c: ContainerRef, pod: Props) => string | string[] | undefined,
  filter: (c: ContainerRef) => boolean = () => true,
): string[] {
  const pod = podSpecOf(m);
  if (!pod) return [];
  return containersOf(pod)
    .filter(filter)
    .flatMap((c) => check(c, pod) ?? []);
}

export function securityContextOf(c: ContainerRef): Props {
  return record(c.spec.securityContext);
}

export function podSecurityContextOf(pod: Props): Props {
  return record(pod.securityContext);
}
