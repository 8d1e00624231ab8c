/**
 * Snapshots: a reviewable record of every object per environment (`npx jest charts -u` after an intended change).
 * The service image (and the release named after it) is recorded as a marker, not its value: a promotion (scripts/promote.ts) changes only
 * charts/environments.ts and dist/, and the snapshot stays true without being rewritten. The image and
 * its pull policy are asserted against environments.ts here instead.
 */
import { ENVIRONMENTS, type Environment, imagePullPolicyOf } from '../environments';
import { releaseEnv } from '../goticket';
import { contextFor, synthObjects } from '../main';

const IMAGE_MARKER = '<image of charts/environments.ts>';
const POLICY_MARKER = '<imagePullPolicyOf(image)>';
const RELEASE_MARKER = '<release of that image>';

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every container (init or not) anywhere in the objects. */
function containers(value: unknown): Obj[] {
  if (Array.isArray(value)) return value.flatMap(containers);
  if (!isObj(value)) return [];
  const own = ['containers', 'initContainers'].flatMap((key) => (Array.isArray(value[key]) ? (value[key] as unknown[]).filter(isObj) : []));
  return [
    ...own,
    ...Object.entries(value).flatMap(([key, child]) => (key === 'containers' || key === 'initContainers' ? [] : containers(child))),
  ];
}

/** The objects with the service image and its pull policy replaced by markers (the rest verbatim). */
function imageIndependent(objects: Obj[], env: Environment): { objects: Obj[]; serviceContainers: Obj[] } {
  const copy = JSON.parse(JSON.stringify(objects)) as Obj[];
  const serviceContainers = containers(copy).filter((container) => container.image === env.image);
  for (const container of serviceContainers) {
    container.image = IMAGE_MARKER;
    if (container.imagePullPolicy === imagePullPolicyOf(env.image)) container.imagePullPolicy = POLICY_MARKER;
    for (const variable of Array.isArray(container.env) ? (container.env as Obj[]) : [])
      if (variable.name === 'SENTRY_RELEASE' && variable.value === releaseEnv(env).value) variable.value = RELEASE_MARKER;
  }
  return { objects: copy, serviceContainers };
}

describe.each(ENVIRONMENTS.map((env) => [env.name, env] as const))('%s', (_name, env) => {
  const synthesized = synthObjects(contextFor(env));
  const { objects, serviceContainers } = imageIndependent(synthesized, env);

  test('synthesizes the recorded objects', () => {
    expect(objects).toMatchSnapshot();
  });

  test('api, worker and migrate run the image of environments.ts with the pull policy that image needs', () => {
    expect(serviceContainers.length).toBeGreaterThanOrEqual(3);
    expect(serviceContainers.map((container) => container.imagePullPolicy)).toEqual(serviceContainers.map(() => POLICY_MARKER));
    expect(JSON.stringify(objects)).not.toContain(env.image);
    // the release named after the image travels with it: each service container carries it
    expect(
      serviceContainers.map((container) => (container.env as Obj[]).find((variable) => variable.name === 'SENTRY_RELEASE')?.value),
    ).toEqual(serviceContainers.map(() => RELEASE_MARKER));
  });
});
