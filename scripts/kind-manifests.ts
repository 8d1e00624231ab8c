/**
 * Prepares a copy of dist/<env> for the Kind end-to-end job (.github/workflows/e2e-kind.yml):
 * points every goticket container at the image loaded into Kind, leaves out objects whose
 * API the cluster does not serve (e.g. ServiceMonitor without prometheus-operator), and
 * splits the result into ordered files so `kubectl apply` finds namespaces first.
 *
 *   npx tsx scripts/kind-manifests.ts --in dist/dev --out "$RUNNER_TEMP/manifests" \
 *     --image goticket:e2e-<sha> [--api-resources <file of `kubectl api-resources --no-headers`>]
 *
 * Writes <out>/00-namespaces.yaml and <out>/10-resources.yaml, explains on stderr what it
 * changed, and prints `key=value` lines for $GITHUB_OUTPUT on stdout: namespace, host, app_pods
 * (the label selector of the api and worker pods).
 *
 * The e2e cluster has no Pulumi stack, so this script also stands in for its Runtime component:
 *
 *   npx tsx scripts/kind-manifests.ts --runtime-secret <file> [--github-env "$GITHUB_ENV"]
 *
 * writes the runtime Secret the Pulumi dev stack would create (the contract's keys, fresh random
 * credentials, URLs built by infra/urls.ts) plus a bootstrap admin, and the payments Secret beside
 * it (the same in-cluster database, no provider keys: the payments pods run the local
 * Stripe-compatible server), prints `::add-mask::` for every value, and appends SMOKE_ADMIN_EMAIL /
 * SMOKE_ADMIN_PASSWORD to the --github-env file.
 *
 * And for its Platform component's edge:
 *
 *   npx tsx scripts/kind-manifests.ts --edge <file> --host <api host>
 *
 * writes the EnvoyProxy, GatewayClass, shared Gateway and redirect HTTPRoute the dev platform
 * creates (infra/components/edge.ts, the same function), and prints `edge_namespace=`, `gateway=`
 * and `api_tls_secret=` (the Secret the api listener serves; cert-manager fills it in a real stack).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { edgeObjects, listenerSecret } from '../infra/components/edge';
import { amqpUrl, postgresUrl, redisUrl } from '../infra/urls';
import {
  APP,
  CLUSTER_ISSUER_OF,
  EDGE,
  HTTP_COMPONENTS,
  IN_CLUSTER_BACKENDS,
  LABELS,
  NAMESPACE,
  OAUTH_SECRET_KEYS,
  PAYMENTS,
  RUNTIME_KEYS,
  RUNTIME_SECRET,
  type DependencyKey,
  type PaymentsSecretKey,
  type RuntimeKey,
} from '../platform/contract';

type Obj = Record<string, unknown>;

export interface PrepareResult {
  namespaces: Obj[];
  resources: Obj[];
  replacedImages: number;
  skipped: string[];
  hosts: string[];
}

const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const at = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((node, key) => (isObj(node) ? node[key] : undefined), value);

/** `kubectl api-resources --no-headers` → the set of "apiVersion/Kind" the cluster serves. */
export function servedKinds(apiResources: string): Set<string> {
  const served = new Set<string>();
  for (const line of apiResources.split('\n')) {
    const columns = line.trim().split(/\s+/);
    if (columns.length < 4) continue;
    const [apiVersion, , kind] = columns.slice(-3);
    served.add(`${apiVersion}/${kind}`);
  }
  return served;
}

/** True for the service's own image (any registry, tag or digest), not for postgres/redis/rabbitmq. */
export function isServiceImage(image: string): boolean {
  const repository = image.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/:[^:/]+$/, '');
  return repository.split('/').at(-1) === APP;
}

function podSpecOf(doc: Obj): Obj | undefined {
  const kind = doc.kind;
  const spec =
    kind === 'Pod'
      ? doc.spec
      : kind === 'CronJob'
        ? at(doc, 'spec', 'jobTemplate', 'spec', 'template', 'spec')
        : at(doc, 'spec', 'template', 'spec');
  return isObj(spec) ? spec : undefined;
}

export function prepare(documents: Obj[], image: string, served?: Set<string>): PrepareResult {
  const result: PrepareResult = { namespaces: [], resources: [], replacedImages: 0, skipped: [], hosts: [] };
  for (const doc of documents) {
    const id = `${String(doc.kind)}/${String(at(doc, 'metadata', 'name'))}`;
    if (served && !served.has(`${String(doc.apiVersion)}/${String(doc.kind)}`)) {
      result.skipped.push(`${id} (${String(doc.apiVersion)} not served)`);
      continue;
    }
    const spec = podSpecOf(doc);
    for (const list of ['initContainers', 'containers'] as const) {
      const containers = spec?.[list];
      if (!Array.isArray(containers)) continue;
      for (const container of containers.filter(isObj)) {
        if (typeof container.image === 'string' && isServiceImage(container.image)) {
          container.image = image;
          container.imagePullPolicy = 'IfNotPresent';
          result.replacedImages++;
        }
      }
    }
    if (doc.kind === 'HTTPRoute') {
      const hostnames = at(doc, 'spec', 'hostnames');
      if (Array.isArray(hostnames)) for (const host of hostnames) if (typeof host === 'string') result.hosts.push(host);
    }
    (doc.kind === 'Namespace' ? result.namespaces : result.resources).push(doc);
  }
  return result;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.ya?ml$/.test(name) ? [path] : [];
    });
}

export function readManifests(dir: string): Obj[] {
  return yamlFiles(dir).flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const value: unknown = doc.toJS();
      return isObj(value) && typeof value.kind === 'string' ? [value] : [];
    }),
  );
}

/** The admin the smoke test signs in as (created by the service at startup from ADMIN_EMAIL/ADMIN_PASSWORD). */
export const E2E_ADMIN_EMAIL = 'admin@e2e.goticket.test';

/** The runtime Secret of the in-cluster dev backends, as the Pulumi Runtime component builds it, with fresh credentials. */
export function runtimeSecret(random: (bytes: number) => string = (bytes) => randomBytes(bytes).toString('hex')): Obj {
  const { postgres: p, redis: r, rabbitmq: q } = IN_CLUSTER_BACKENDS;
  const pg = random(24);
  const redis = random(24);
  const mq = random(24);
  const data: Record<RuntimeKey | DependencyKey, string> = {
    [p.passwordKey]: pg,
    [r.passwordKey]: redis,
    [q.passwordKey]: mq,
    DATABASE_URL: postgresUrl({ user: p.user, password: pg, host: p.service, port: p.port, database: p.database, tls: false }),
    REDIS_URL: redisUrl({ password: redis, host: r.service, port: r.port, tls: false }),
    AMQP_URL: amqpUrl({ user: q.user, password: mq, host: q.service, port: q.port, tls: false }),
    JWT_SECRET: random(32),
    // Social sign-in is off in the local cluster (no client ids in charts/environments.ts dev).
    OAUTH_GOOGLE_CLIENT_SECRET: '',
    OAUTH_GITHUB_CLIENT_SECRET: '',
  };
  if (RUNTIME_KEYS.some((key) => !(key in OAUTH_SECRET_KEYS) && !data[key])) throw new Error('runtime Secret: a contract key has no value');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: RUNTIME_SECRET, namespace: NAMESPACE, labels: { [LABELS.partOf]: APP } },
    type: 'Opaque',
    stringData: { ...data, ADMIN_EMAIL: E2E_ADMIN_EMAIL, ADMIN_PASSWORD: `Adm1n-${random(16)}` },
  };
}

/** The payments Secret of the dev stack (infra/components/runtime.ts): the runtime Secret's database, no Stripe keys. */
export function paymentsSecret(runtime: Obj): Obj {
  const data: Record<PaymentsSecretKey, string> = {
    DATABASE_URL: (runtime.stringData as Record<string, string>).DATABASE_URL!,
    STRIPE_API_KEY: '',
    STRIPE_WEBHOOK_SECRET: '',
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: PAYMENTS.secret, namespace: NAMESPACE, labels: { [LABELS.partOf]: APP, [LABELS.component]: PAYMENTS.component } },
    type: 'Opaque',
    stringData: data,
  };
}

/** `app.kubernetes.io/name=goticket,app.kubernetes.io/component in (api,worker,payments)`: the pods that serve HTTP. */
export const APP_PODS_SELECTOR = `${LABELS.name}=${APP},${LABELS.component} in (${HTTP_COMPONENTS.join(',')})`;

function writeRuntimeSecret(file: string, githubEnv: string | undefined): number {
  const secret = runtimeSecret();
  const payments = paymentsSecret(secret);
  const values = new Set([secret, payments].flatMap((s) => Object.values(s.stringData as Record<string, string>)));
  // Masked before anything could print them; the e-mail is no secret.
  for (const value of values) if (value !== E2E_ADMIN_EMAIL) console.log(`::add-mask::${value}`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, [secret, payments].map((doc) => stringify(doc)).join('---\n'), { mode: 0o600 });
  const { ADMIN_EMAIL, ADMIN_PASSWORD } = secret.stringData as Record<string, string>;
  if (githubEnv) appendFileSync(githubEnv, `SMOKE_ADMIN_EMAIL=${ADMIN_EMAIL}\nSMOKE_ADMIN_PASSWORD=${ADMIN_PASSWORD}\n`);
  console.error(
    `kind-manifests: wrote Secret ${NAMESPACE}/${RUNTIME_SECRET} (${Object.keys(secret.stringData as object).join(', ')}) and ${NAMESPACE}/${PAYMENTS.secret} (${Object.keys(payments.stringData as object).join(', ')}) to ${file}`,
  );
  return 0;
}

function argument(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

/** The dev platform's edge objects for one api host (Grafana and Argo CD get hosts beside it). */
export function edgeManifests(host: string): Obj[] {
  const domain = host.split('.').slice(1).join('.');
  return edgeObjects(
    'dev',
    { app: host, grafana: `grafana.${domain}`, argocd: `argocd.${domain}` },
    CLUSTER_ISSUER_OF.dev,
  ) as unknown as Obj[];
}

function writeEdge(file: string, host: string | undefined): number {
  if (!host) {
    console.error('kind-manifests: --edge needs --host <api host>');
    return 2;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    edgeManifests(host)
      .map((doc) => stringify(doc))
      .join('---\n'),
  );
  console.error(`kind-manifests: wrote the shared Gateway ${EDGE.gateway.namespace}/${EDGE.gateway.name} for ${host} to ${file}`);
  console.log(`edge_namespace=${EDGE.gateway.namespace}`);
  console.log(`gateway=${EDGE.gateway.name}`);
  console.log(`api_tls_secret=${listenerSecret(EDGE.listeners.api)}`);
  return 0;
}

export function main(args: string[]): number {
  const edgeFile = argument(args, '--edge');
  if (edgeFile) return writeEdge(edgeFile, argument(args, '--host'));
  const secretFile = argument(args, '--runtime-secret');
  if (secretFile) return writeRuntimeSecret(secretFile, argument(args, '--github-env'));
  const input = argument(args, '--in');
  const out = argument(args, '--out');
  const image = argument(args, '--image');
  const apiResources = argument(args, '--api-resources');
  if (!input || !out || !image) {
    console.error(
      'usage: kind-manifests --in dist/dev --out <dir> --image <ref> [--api-resources <file>]\n       kind-manifests --runtime-secret <file> [--github-env <file>]\n       kind-manifests --edge <file> --host <api host>',
    );
    return 2;
  }
  const result = prepare(readManifests(input), image, apiResources ? servedKinds(readFileSync(apiResources, 'utf8')) : undefined);
  if (result.replacedImages === 0) {
    console.error(`kind-manifests: no goticket container found in ${input}: nothing to test`);
    return 1;
  }
  mkdirSync(out, { recursive: true });
  const write = (file: string, docs: Obj[]) => writeFileSync(join(out, file), docs.map((doc) => stringify(doc)).join('---\n'));
  write('00-namespaces.yaml', result.namespaces);
  write('10-resources.yaml', result.resources);
  console.error(
    `kind-manifests: ${result.resources.length + result.namespaces.length} objects, ${result.replacedImages} containers now run ${image}`,
  );
  for (const skipped of result.skipped) console.error(`kind-manifests: left out ${skipped}`);
  const namespace = at(result.namespaces[0], 'metadata', 'name');
  console.log(`namespace=${typeof namespace === 'string' ? namespace : NAMESPACE}`);
  console.log(`host=${result.hosts[0] ?? ''}`);
  console.log(`app_pods=${APP_PODS_SELECTOR}`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
