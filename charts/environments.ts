/**
 * Per-environment props: the ONLY place dev and prod differ. Charts read nothing else
 * (no process.env, no branching on the environment's name), which charts/test checks.
 */
import { EDGE, type EnvName, IN_CLUSTER_BACKENDS, MANAGED_BACKEND_PORTS, PROD_NETWORK } from '../platform/contract';
import { dnsName, ipv4Cidr, problemOf } from '../platform/validators';

export type { EnvName };
export type SpreadPolicy = 'DoNotSchedule' | 'ScheduleAnyway';

export interface Resources {
  cpuRequest: string;
  memoryRequest: string;
  cpuLimit: string;
  memoryLimit: string;
}

/** Where PostgreSQL, Redis and RabbitMQ live, which decides the NetworkPolicy egress rules. */
export type Backends =
  /** In-cluster StatefulSets from charts/dependencies.ts (pod selectors). */
  | { kind: 'in-cluster'; storage: string; ports: BackendPorts }
  /** AWS managed services in the VPC's data subnets (CIDRs, since they have no pod labels). */
  | { kind: 'vpc'; cidrs: readonly string[]; ports: BackendPorts };

export interface BackendPorts {
  postgres: number;
  redis: number;
  amqp: number;
}

/** Non-secret service configuration, written verbatim into the `goticket-config` ConfigMap. */
export interface AppConfig {
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  ACCESS_TOKEN_TTL: string;
  REFRESH_TOKEN_TTL: string;
  BOOKING_HOLD_TTL: string;
  BCRYPT_COST: string;
  DB_POOL_MAX: string;
  /** Seconds; the pod's grace period is derived from it (see goticket.ts). */
  SHUTDOWN_TIMEOUT_SECONDS: number;
  /**
   * Hops of trusted proxies in front of the service: EDGE.trustedProxyHops (Envoy appends the
   * address it received the request from to X-Forwarded-For; the NLB adds nothing).
   */
  TRUST_PROXY: string;
}

export interface Environment {
  name: EnvName;
  /** Immutable tag or digest, never :latest. Kept on one line: the release workflow rewrites it. */
  image: string;
  host: string;
  api: {
    minReplicas: number;
    maxReplicas: number;
    cpuUtilization: number;
    /**
     * Average requests per second per pod for the HPA. Needs a custom-metrics adapter
     * (prometheus-adapter serving `http_requests_per_second`); leave unset where none runs,
     * or the HPA reports the metric as missing.
     */
    requestsPerSecond?: number;
    resources: Resources;
  };
  worker: { replicas: number; resources: Resources };
  migrate: { resources: Resources };
  config: AppConfig;
  backends: Backends;
  /**
   * PreSync runs before anything else syncs, so it suits backends that already exist (prod).
   * With in-cluster backends the database is created by the same sync, so the migration
   * runs as a Sync hook in a wave after the dependencies instead.
   */
  migrationHook: 'PreSync' | 'Sync';
  /** Kind nodes have no zone label: DoNotSchedule on zones would leave pods pending there. */
  zoneSpread: SpreadPolicy;
  nodeSpread: SpreadPolicy;
}

const IMAGE = 'ghcr.io/goticket-platform/goticket';

const SHARED_CONFIG = {
  JWT_ISSUER: 'goticket',
  JWT_AUDIENCE: 'goticket-api',
  ACCESS_TOKEN_TTL: '15m',
  REFRESH_TOKEN_TTL: '7d',
  BOOKING_HOLD_TTL: '10m',
  SHUTDOWN_TIMEOUT_SECONDS: 20,
  TRUST_PROXY: String(EDGE.trustedProxyHops),
} as const;

export const dev: Environment = {
  name: 'dev',
  image: 'ghcr.io/goticket-platform/goticket:0.1.0',
  host: 'goticket.localtest.me',
  api: {
    minReplicas: 1,
    maxReplicas: 3,
    cpuUtilization: 70,
    resources: { cpuRequest: '100m', memoryRequest: '192Mi', cpuLimit: '1', memoryLimit: '384Mi' },
  },
  worker: { replicas: 1, resources: { cpuRequest: '50m', memoryRequest: '160Mi', cpuLimit: '500m', memoryLimit: '320Mi' } },
  migrate: { resources: { cpuRequest: '50m', memoryRequest: '128Mi', cpuLimit: '500m', memoryLimit: '256Mi' } },
  config: { ...SHARED_CONFIG, LOG_LEVEL: 'debug', BCRYPT_COST: '10', DB_POOL_MAX: '10' },
  backends: {
    kind: 'in-cluster',
    storage: '2Gi',
    ports: { postgres: IN_CLUSTER_BACKENDS.postgres.port, redis: IN_CLUSTER_BACKENDS.redis.port, amqp: IN_CLUSTER_BACKENDS.rabbitmq.port },
  },
  migrationHook: 'Sync',
  zoneSpread: 'ScheduleAnyway',
  nodeSpread: 'ScheduleAnyway',
};

export const prod: Environment = {
  name: 'prod',
  image: 'ghcr.io/goticket-platform/goticket:0.1.0',
  host: 'tickets.goticket.example.com',
  api: {
    minReplicas: 3,
    maxReplicas: 12,
    cpuUtilization: 65,
    // per pod, through prometheus-adapter (infra): scales on traffic before CPU catches up
    requestsPerSecond: 200,
    resources: { cpuRequest: '250m', memoryRequest: '384Mi', cpuLimit: '2', memoryLimit: '768Mi' },
  },
  worker: { replicas: 2, resources: { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' } },
  migrate: { resources: { cpuRequest: '100m', memoryRequest: '128Mi', cpuLimit: '1', memoryLimit: '256Mi' } },
  config: { ...SHARED_CONFIG, LOG_LEVEL: 'info', BCRYPT_COST: '12', DB_POOL_MAX: '20' },
  // RDS, ElastiCache (TLS) and Amazon MQ (AMQPS), all in the data subnets of the prod VPC, not the whole VPC.
  backends: { kind: 'vpc', cidrs: PROD_NETWORK.subnets.data, ports: MANAGED_BACKEND_PORTS },
  migrationHook: 'PreSync',
  zoneSpread: 'DoNotSchedule',
  nodeSpread: 'ScheduleAnyway',
};

export const ENVIRONMENTS: readonly Environment[] = [dev, prod];

export function environment(name: string): Environment {
  const env = ENVIRONMENTS.find((candidate) => candidate.name === name);
  if (!env) throw new Error(`unknown environment "${name}" (known: ${ENVIRONMENTS.map((e) => e.name).join(', ')})`);
  return env;
}

// ---- validation: a bad environment stops the synth with one line naming the field ----

const DIGEST = /@sha256:[a-f0-9]{64}$/;
const TAG = /:([\w][\w.-]{0,127})$/;

/** Kubernetes quantity → number (cores or bytes), enough for requests <= limits checks. */
export function quantity(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a Kubernetes quantity`);
  const unit = match[2] ?? '';
  const scale: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(match[1]) * scale[unit]!;
}

/**
 * V8 heap flags for a Node container, sized from its memory limit: old space at half the limit
 * (the other half is for the young generation, code, Node's native memory and socket buffers),
 * semi-spaces of 8 MB. Without them V8 sizes its heap from the node's memory, not the container's
 * limit, and lets old space grow to ~4x the live data between full collections: under the bench
 * stampede the api peaked at 198 MB RSS without the flags and 111 MB with them (bench/README.md),
 * throughput unchanged.
 */
export function nodeHeapOptions(memoryLimit: string): string {
  const limitMiB = Math.floor(quantity(memoryLimit) / 2 ** 20);
  return `--max-old-space-size=${Math.floor(limitMiB / 2)} --max-semi-space-size=8`;
}

function checkResources(field: string, r: Resources, fail: (field: string, problem: string) => never): void {
  for (const [request, limit] of [['cpuRequest', 'cpuLimit'], ['memoryRequest', 'memoryLimit']] as const) {
    let ok = false;
    try {
      ok = quantity(r[request]) <= quantity(r[limit]);
    } catch (error) {
      fail(field, (error as Error).message);
    }
    if (!ok) fail(`${field}.${request}`, `${r[request]} exceeds ${limit} ${r[limit]}`);
  }
}

/** Throws on the first invalid field, naming it. */
export function validateEnvironment(env: Environment): Environment {
  const where = `environments.ts ${env.name}`;
  const fail = (field: string, problem: string): never => {
    throw new Error(`${where}: ${field} ${problem}`);
  };
  if (!env.image.startsWith(`${IMAGE}:`) && !env.image.startsWith(`${IMAGE}@`)) fail('image', `must be ${IMAGE} with a tag or digest`);
  const tag = TAG.exec(env.image)?.[1];
  if (!DIGEST.test(env.image) && (!tag || tag === 'latest')) fail('image', 'must pin an immutable tag or a sha256 digest, never :latest');
  const hostProblem = problemOf(dnsName(), env.host);
  if (hostProblem) fail('host', hostProblem);
  const { api } = env;
  if (!Number.isInteger(api.minReplicas) || api.minReplicas < 1) fail('api.minReplicas', 'must be an integer >= 1');
  if (!Number.isInteger(api.maxReplicas) || api.maxReplicas < api.minReplicas) fail('api.maxReplicas', 'must be an integer >= minReplicas');
  if (!(api.cpuUtilization > 0 && api.cpuUtilization <= 100)) fail('api.cpuUtilization', 'must be a percentage in 1..100');
  if (api.requestsPerSecond !== undefined && !(api.requestsPerSecond > 0)) fail('api.requestsPerSecond', 'must be positive');
  if (!Number.isInteger(env.worker.replicas) || env.worker.replicas < 1) fail('worker.replicas', 'must be an integer >= 1');
  checkResources('api.resources', api.resources, fail);
  checkResources('worker.resources', env.worker.resources, fail);
  checkResources('migrate.resources', env.migrate.resources, fail);
  const shutdown = env.config.SHUTDOWN_TIMEOUT_SECONDS;
  if (!Number.isInteger(shutdown) || shutdown < 1 || shutdown > 300) fail('config.SHUTDOWN_TIMEOUT_SECONDS', 'must be an integer in 1..300');
  if (env.backends.kind === 'vpc') {
    if (env.backends.cidrs.length === 0) fail('backends.cidrs', 'must name at least one CIDR');
    for (const [i, cidr] of env.backends.cidrs.entries()) {
      const problem = problemOf(ipv4Cidr(), cidr);
      if (problem) fail(`backends.cidrs[${i}]`, problem);
    }
  }
  for (const [name, port] of Object.entries(env.backends.ports)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`backends.ports.${name}`, 'must be a TCP port');
  }
  if (env.backends.kind === 'in-cluster' && env.migrationHook === 'PreSync') {
    fail('migrationHook', 'cannot be PreSync with in-cluster backends: the database would not exist yet on the first sync');
  }
  return env;
}
