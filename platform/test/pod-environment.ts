/**
 * What the cluster hands the service: the environment of every goticket container in dist/<env>,
 * resolved the way the kubelet does (envFrom ConfigMaps and Secrets first, then `env` entries,
 * which win), from the ConfigMaps of dist/ and the Secrets the platform creates. A reference to
 * a ConfigMap, Secret or key that nobody creates is what leaves a pod in CreateContainerConfigError:
 * it throws here.
 */
import { CONFIG_VARIABLES, ConfigError, loadConfig, type ConfigRole } from '../../app/src/config';
import { APP, DEPENDENCY_KEYS, LABELS, OAUTH_SECRET_KEYS, RUNTIME_KEYS } from '../contract';

type Obj = Record<string, unknown>;
interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef } }[];
  envFrom?: { configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string; optional?: boolean } }[];
}
interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

export interface PodEnvironment {
  /** `Kind/name container`. */
  workload: string;
  /** Whether it runs the service (app.kubernetes.io/name = goticket) rather than a dependency. */
  service: boolean;
  /** The process role its args start (`build/app/main.js <role>`; none: `all`, as main.ts defaults). */
  role: ConfigRole;
  env: Record<string, string>;
}

const roleOf = (args: readonly string[] = []): ConfigRole => {
  const main = args.findIndex((arg) => arg.endsWith('main.js'));
  return (main >= 0 ? (args[main + 1] ?? 'all') : 'all') as ConfigRole;
};

/** Variables a container gets that are not the service's: Node's own, and the dev dependencies' passwords in the shared runtime Secret. */
export const NOT_FOR_THE_SERVICE: readonly string[] = ['NODE_OPTIONS', ...DEPENDENCY_KEYS];

const metadataOf = (o: Obj) => o.metadata as { name: string; labels?: Record<string, string> };

/**
 * The environment of each container of every workload in `objects`. `secrets` holds the Secrets created outside dist/ (Pulumi's runtime Secret), by name.
 */
export function podEnvironments(objects: readonly Obj[], secrets: Record<string, Record<string, string>>): PodEnvironment[] {
  const configMaps = new Map(
    objects.filter((o) => o.kind === 'ConfigMap').map((o) => [metadataOf(o).name, (o.data ?? {}) as Record<string, string>]),
  );
  const allSecrets = new Map(Object.entries(secrets));
  // A SealedSecret becomes a Secret of the same name with the sealed keys (values unknown here).
  for (const sealed of objects.filter((o) => o.kind === 'SealedSecret')) {
    const keys = Object.keys((sealed.spec as Obj).encryptedData ?? {});
    allSecrets.set(metadataOf(sealed).name, Object.fromEntries(keys.map((key) => [key, `sealed:${key}`])));
  }
  const source = (kind: 'ConfigMap' | 'Secret', name: string, optional: boolean | undefined, workload: string) => {
    const found = kind === 'ConfigMap' ? configMaps.get(name) : allSecrets.get(name);
    if (!found && !optional) throw new Error(`${workload} reads ${kind} ${name}, which nothing creates`);
    return found ?? {};
  };

  const out: PodEnvironment[] = [];
  for (const o of objects) {
    const template = (o.spec as { template?: { spec?: { containers?: Container[] } } } | undefined)?.template;
    for (const container of template?.spec?.containers ?? []) {
      const workload = `${String(o.kind)}/${metadataOf(o).name} ${container.name}`;
      const env: Record<string, string> = {};
      for (const from of container.envFrom ?? []) {
        if (from.configMapRef) Object.assign(env, source('ConfigMap', from.configMapRef.name, from.configMapRef.optional, workload));
        if (from.secretRef) Object.assign(env, source('Secret', from.secretRef.name, from.secretRef.optional, workload));
      }
      for (const entry of container.env ?? []) {
        const ref = entry.valueFrom?.secretKeyRef ?? entry.valueFrom?.configMapKeyRef;
        if (!ref) {
          env[entry.name] = entry.value ?? '';
          continue;
        }
        const values = source(entry.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name, ref.optional, workload);
        if (!(ref.key in values) && !ref.optional)
          throw new Error(`${workload} reads key ${ref.key} of ${ref.name}, which it does not hold`);
        if (ref.key in values) env[entry.name] = values[ref.key]!;
      }
      out.push({ workload, service: metadataOf(o).labels?.[LABELS.name] === APP, role: roleOf(container.args), env });
    }
  }
  return out;
}

/** The ConfigError loadConfig throws for `env` in process role `role`, or undefined when the service would start. */
export function startupError(env: Record<string, string>, role: ConfigRole): string | undefined {
  try {
    loadConfig(env, role);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

/** Variables given to the service that it does not read (a typo, or a key the platform invented). */
export function unreadVariables(env: Record<string, string>): string[] {
  return Object.keys(env).filter((key) => !CONFIG_VARIABLES.includes(key) && !NOT_FOR_THE_SERVICE.includes(key));
}

/**
 * For each runtime key: the startup error without it (undefined = the service would start anyway).
 * A social sign-in secret counts only where its provider is on (the pod has its client id).
 */
export function withoutEachRuntimeKey(env: Record<string, string>, role: ConfigRole): Record<string, string | undefined> {
  const needed = RUNTIME_KEYS.filter(
    (key) => !(key in OAUTH_SECRET_KEYS) || Boolean(env[OAUTH_SECRET_KEYS[key as keyof typeof OAUTH_SECRET_KEYS]]),
  );
  return Object.fromEntries(
    needed.map((key) => {
      const { [key]: _dropped, ...rest } = env;
      return [key, startupError(rest, role)];
    }),
  );
}
