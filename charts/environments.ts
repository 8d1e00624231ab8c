/**
 * Per-environment props: the ONLY place dev and prod differ. Charts read nothing else
 * (no process.env, no branching on the environment's name), which charts/test checks.
 */
import { APP, EDGE, type EnvName, IN_CLUSTER_BACKENDS, MANAGED_BACKEND_PORTS, PROD_NETWORK } from '../platform/contract';
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
  /** Error tracking's environment name (the DSN is SENTRY_DSN in the runtime Secret; the release is the image's tag). */
  SENTRY_ENVIRONMENT: string;
}

/**
 * Social sign-in (issue 19): the OAuth apps' client ids (public: they travel in every authorization
 * URL). A provider without one is off. Its client secret comes from the runtime Secret (Pulumi).
 */
export interface OAuthClients {
  googleClientId?: string;
  githubClientId?: string;
}

export interface Environment {
  name: EnvName;
  oauth?: OAuthClients;
  /**
   * A release reference (`<repository>:<tag>@sha256:<digest>`, a digest, or a tag release.yml pushes)
   * from one of IMAGE_REPOSITORIES, or, where backends are in-cluster, the `:local` build `make kind-load`
   * loads. Never :latest. Kept on one line: `npm run promote` (scripts/promote.ts) rewrites it.
   */
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
  /**
   * The payments service (issue 20). `provider`: `stripe` calls Stripe's API (STRIPE_API_KEY and
   * STRIPE_WEBHOOK_SECRET from the payments Secret, egress to public 443); `local` runs the
   * service's local Stripe-compatible server inside each payments process (the app's own behaviour
   * without STRIPE_API_KEY outside production: no money moves, no egress), which keeps its intents
   * in memory, so it needs exactly one replica and in-cluster backends (never prod).
   */
  payments: { replicas: number; resources: Resources; provider: 'stripe' | 'local' };
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

// ---- the image chain (README "Environments and deployment", scripts/lib/image-chain.ts checks it) ----

/**
 * The repositories an environment may pull the service from: where release.yml pushes it. GHCR is
 * `ghcr.io/<repository owner>/goticket` (a fork puts its owner here); the ECR repository the prod
 * stack creates (`pulumi stack output registryUrl -s prod`) is added here once release.yml pushes to
 * it (vars.AWS_ECR_ROLE_ARN). validateEnvironment refuses every other repository.
 */
export const IMAGE_REPOSITORIES: readonly string[] = ['ghcr.io/goticket-platform/goticket'];

/** The tag `make kind-load` builds and loads into Kind; release.yml never pushes it. */
export const LOCAL_TAG = 'local';

export interface ImageReference {
  repository: string;
  tag?: string;
  digest?: string;
}

/** `repo[:tag][@sha256:<64 hex>]` → its parts; undefined for anything else. */
export function parseImage(reference: string): ImageReference | undefined {
  const match = /^([a-z0-9][a-z0-9.-]*(?::\d+)?(?:\/[a-z0-9][a-z0-9._-]*)+)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(
    reference,
  );
  if (!match || (!match[2] && !match[3])) return undefined;
  return { repository: match[1]!, ...(match[2] ? { tag: match[2] } : {}), ...(match[3] ? { digest: match[3] } : {}) };
}

/** A locally built image (`:local`, no digest): the kubelet must never try to pull it. */
export function isLocalBuild(reference: string): boolean {
  const ref = parseImage(reference);
  return ref?.tag === LOCAL_TAG && !ref.digest;
}

/** Never for the image `make kind-load` loaded (a missing load says so at once: ErrImageNeverPull), IfNotPresent for a release. */
export function imagePullPolicyOf(reference: string): 'Never' | 'IfNotPresent' {
  return isLocalBuild(reference) ? 'Never' : 'IfNotPresent';
}

const GHCR_REPOSITORY = new RegExp(`^ghcr\\.io/[a-z0-9](?:[a-z0-9-]*[a-z0-9])?/${APP}$`);
/** The repository infra/components/registry.ts creates (named APP) in some account and region. */
const ECR_REPOSITORY = new RegExp(`^\\d{12}\\.dkr\\.ecr\\.[a-z]{2}(?:-[a-z]+)+-\\d\\.amazonaws\\.com(?:\\.cn)?/${APP}$`);

/** Why `repository` cannot be pulled from, or undefined. */
export function repositoryProblem(repository: string, repositories: readonly string[] = IMAGE_REPOSITORIES): string | undefined {
  for (const allowed of repositories) {
    if (!GHCR_REPOSITORY.test(allowed) && !ECR_REPOSITORY.test(allowed)) {
      return `IMAGE_REPOSITORIES entry ${allowed} is neither ghcr.io/<owner>/${APP} nor <account>.dkr.ecr.<region>.amazonaws.com/${APP} (where release.yml pushes)`;
    }
  }
  if (!repositories.includes(repository)) return `repository ${repository} is not in IMAGE_REPOSITORIES (${repositories.join(', ')})`;
  return undefined;
}

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
  image: 'ghcr.io/goticket-platform/goticket:local',
  host: 'goticket.localtest.me',
  api: {
    minReplicas: 1,
    maxReplicas: 3,
    cpuUtilization: 70,
    resources: { cpuRequest: '100m', memoryRequest: '192Mi', cpuLimit: '1', memoryLimit: '384Mi' },
  },
  worker: { replicas: 1, resources: { cpuRequest: '50m', memoryRequest: '160Mi', cpuLimit: '500m', memoryLimit: '320Mi' } },
  payments: {
    replicas: 1,
    provider: 'local',
    resources: { cpuRequest: '50m', memoryRequest: '160Mi', cpuLimit: '500m', memoryLimit: '320Mi' },
  },
  migrate: { resources: { cpuRequest: '50m', memoryRequest: '128Mi', cpuLimit: '500m', memoryLimit: '256Mi' } },
  config: { ...SHARED_CONFIG, LOG_LEVEL: 'debug', BCRYPT_COST: '10', DB_POOL_MAX: '10', SENTRY_ENVIRONMENT: 'dev' },
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
  image: 'ghcr.io/goticket-platform/goticket:sha-4c3c6cab705dedfa01e4bc7408ac097c63e4450a',
  host: 'tickets.goticket.example.com',
  // The OAuth apps registered for https://<host> (README, "Social sign-in"); replace with yours.
  oauth: { googleClientId: '000000000000-goticketprod.apps.googleusercontent.com', githubClientId: 'Ov23ligoticketprod00' },
  api: {
    minReplicas: 3,
    maxReplicas: 12,
    cpuUtilization: 65,
    // per pod, through prometheus-adapter (infra): scales on traffic before CPU catches up
    requestsPerSecond: 200,
    resources: { cpuRequest: '250m', memoryRequest: '384Mi', cpuLimit: '2', memoryLimit: '768Mi' },
  },
  worker: { replicas: 2, resources: { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' } },
  // Two for availability (the webhook, the consumer); the provider, not CPU, bounds its throughput: no HPA.
  payments: {
    replicas: 2,
    provider: 'stripe',
    resources: { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' },
  },
  migrate: { resources: { cpuRequest: '100m', memoryRequest: '128Mi', cpuLimit: '1', memoryLimit: '256Mi' } },
  config: { ...SHARED_CONFIG, LOG_LEVEL: 'info', BCRYPT_COST: '12', DB_POOL_MAX: '20', SENTRY_ENVIRONMENT: 'prod' },
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

/** Kubernetes quantity → number (cores or bytes), enough for requests <= limits checks. */
export function quantity(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a Kubernetes quantity`);
  const unit = match[2] ?? '';
  const scale: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
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
  for (const [request, limit] of [
    ['cpuRequest', 'cpuLimit'],
    ['memoryRequest', 'memoryLimit'],
  ] as const) {
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
export function validateEnvironment(env: Environment, repositories: readonly string[] = IMAGE_REPOSITORIES): Environment {
  const where = `environments.ts ${env.name}`;
  const fail = (field: string, problem: string): never => {
    throw new Error(`${where}: ${field} ${problem}`);
  };
  const image = parseImage(env.image) ?? fail('image', `${env.image} is not <repository>:<tag>, <repository>@sha256:<digest> or both`);
  const repository = repositoryProblem(image.repository, repositories);
  if (repository) fail('image', repository);
  if (!image.digest && image.tag === 'latest') fail('image', 'must pin an immutable tag or a sha256 digest, never :latest');
  if (isLocalBuild(env.image) && env.backends.kind !== 'in-cluster') {
    fail(
      'image',
      `:${LOCAL_TAG} is the build make kind-load loads into Kind; ${env.name} pulls from a registry: npm run promote -- --env ${env.name} --image <release reference>`,
    );
  }
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
  if (!Number.isInteger(env.payments.replicas) || env.payments.replicas < 1) fail('payments.replicas', 'must be an integer >= 1');
  if (env.payments.provider === 'local') {
    if (env.backends.kind !== 'in-cluster')
      fail(
        'payments.provider',
        'local is the in-process Stripe-compatible server for a local cluster; an environment on managed backends calls Stripe (stripe)',
      );
    if (env.payments.replicas !== 1)
      fail('payments.replicas', 'must be 1 with the local provider (each process holds its own intents in memory)');
  }
  checkResources('payments.resources', env.payments.resources, fail);
  checkResources('migrate.resources', env.migrate.resources, fail);
  const shutdown = env.config.SHUTDOWN_TIMEOUT_SECONDS;
  if (!Number.isInteger(shutdown) || shutdown < 1 || shutdown > 300)
    fail('config.SHUTDOWN_TIMEOUT_SECONDS', 'must be an integer in 1..300');
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
