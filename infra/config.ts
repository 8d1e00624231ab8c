/**
 * Typed, validated stack configuration. This is the only module that reads Pulumi config:
 * everything else receives a `StackConfig`. A missing or malformed value fails the program
 * with one line naming the key (e.g. `goticket:database.backupRetentionDays`).
 */
import * as pulumi from '@pulumi/pulumi';
import { z } from 'zod';
import { APP, type EnvName, PROD_NETWORK, VERSIONS } from '../platform/contract';
import { deliverableEmail, dnsName, placeholderArn, publicDnsName, routableCidr } from '../platform/validators';

export const PROJECT = APP;

export type Environment = EnvName;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------- value shapes

const host = dnsName;

const roleArn = () =>
  z
    .string()
    .regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, 'expected an IAM role ARN')
    .pipe(
      z.string().superRefine((arn, ctx) => {
        const problem = placeholderArn(arn);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    );

const quantity = () => z.string().regex(/^[1-9]\d*(Mi|Gi|Ti)$/, 'expected a storage size such as 50Gi');
const retention = () => z.string().regex(/^[1-9]\d*(h|d|w|y)$/, 'expected a Prometheus duration such as 15d');
const int = (min: number, max: number) => z.number().int().min(min).max(max);

const monitoring = z
  .object({
    retention: retention(),
    storageSize: quantity(),
    grafanaStorageSize: quantity().default('5Gi'),
  })
  .strict();

const common = {
  deployMode: z.enum(['gitops', 'direct']).default('gitops'),
  gitRepoUrl: z
    .string()
    .regex(/^(https:\/\/|ssh:\/\/|git@)\S+$/, 'expected a git URL (https://…, ssh://… or git@…)')
    .optional(),
  gitRevision: z
    .string()
    .regex(/^[\w./-]+$/, 'expected a branch, tag or commit')
    .default('main'),
  /**
   * Argo CD's credential for a private gitRepoUrl, set with `pulumi config set --secret`: a token
   * (GitHub fine-grained PAT with Contents: read, or a deploy token) for https URLs, an SSH private
   * key (a read-only deploy key) for ssh URLs. Unset: the repository is public.
   */
  gitRepoCredential: z.string().min(1).optional(),
  /**
   * Sentry's DSN for the service's error tracking, set with `pulumi config set --secret`; it
   * becomes SENTRY_DSN in the runtime Secret. Unset: no error tracking.
   */
  sentryDsn: z.url({ protocol: /^https?$/, error: 'expected a Sentry DSN (https://<key>@<host>/<project>)' }).optional(),
  /** The user name that goes with an https token (GitHub accepts any; GitLab deploy tokens need theirs). */
  gitRepoUsername: z
    .string()
    .regex(/^[\w.@-]+$/, 'expected a user name')
    .default('git'),
  /**
   * Social sign-in client secrets (`pulumi config set --secret`), written to the runtime Secret.
   * Required where the charts enable the provider (prod); unset elsewhere: the key stays empty.
   */
  oauthGoogleClientSecret: z.string().min(1).optional(),
  oauthGithubClientSecret: z.string().min(1).optional(),
  host: host(),
  grafanaHost: host(),
  argocdHost: host(),
  monitoring,
};

const dev = z
  .object({
    environment: z.literal('dev'),
    ...common,
    kind: z
      .object({
        clusterName: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'expected a lower-case cluster name')
          .default('goticket'),
        configFile: z.string().min(1).default('infra/kind-config.yaml'),
      })
      .strict()
      .default({ clusterName: 'goticket', configFile: 'infra/kind-config.yaml' }),
  })
  .strict();

const eks = z
  .object({
    clusterName: z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,99}$/, 'expected an EKS cluster name'),
    version: z
      .string()
      .regex(/^1\.\d{2}$/, { message: 'expected a pinned Kubernetes minor version such as 1.35', abort: true })
      .refine((v) => (VERSIONS.eksStandardSupport as readonly string[]).includes(v), {
        message: `expected a Kubernetes minor in EKS standard support (${VERSIONS.eksStandardSupport.join(', ')}): older minors run on extended support, billed extra (infra/README.md "Upgrading EKS")`,
      }),
    instanceTypes: z.array(z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'expected an EC2 instance type')).min(1),
    minSize: int(1, 100),
    desiredSize: int(1, 100),
    maxSize: int(1, 100),
    diskSizeGb: int(20, 1000).default(50),
    // never the whole internet (/0) nor a documentation range
    publicAccessCidrs: z.array(routableCidr()).min(1),
    /** The role `pulumi up` runs as in CI (pulumi.yml, environment production): cluster admin. */
    deployRoleArn: roleArn(),
    /** The role `pulumi preview` runs as on pull requests: read, plus the dry-run writes server-side apply previews need. */
    previewRoleArn: roleArn(),
    /** People (SSO roles) who administer the cluster by hand: break-glass. */
    adminRoleArns: z.array(roleArn()).default([]),
  })
  .strict()
  .refine((e) => e.minSize <= e.desiredSize && e.desiredSize <= e.maxSize, {
    message: 'expected minSize <= desiredSize <= maxSize',
    path: ['desiredSize'],
  });

const prod = z
  .object({
    environment: z.literal('prod'),
    ...common,
    awsRegion: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region such as eu-west-1'),
    acmeEmail: deliverableEmail('expected an e-mail address for Let’s Encrypt'),
    // prod's charts enable Google and GitHub sign-in (charts/environments.ts): their secrets must exist.
    oauthGoogleClientSecret: z.string().min(1),
    oauthGithubClientSecret: z.string().min(1),
    /**
     * The payments service's Stripe credentials (`pulumi config set --secret`), written to the
     * payments Secret (platform/contract.ts PAYMENTS.secret): a live secret or restricted key, and
     * the webhook endpoint's signing secret (Stripe Dashboard, Developers, Webhooks: the endpoint
     * https://<host>/api/v1/payments/webhook). dev has neither: its payments pods run the local
     * Stripe-compatible server (charts/environments.ts payments.provider `local`).
     */
    stripeApiKey: z
      .string()
      .regex(/^(sk|rk)_live_[A-Za-z0-9]{6,}$/, 'expected a live Stripe secret or restricted key (sk_live_… or rk_live_…)'),
    stripeWebhookSecret: z.string().regex(/^whsec_[A-Za-z0-9]{16,}$/, 'expected a Stripe webhook signing secret (whsec_…)'),
    // A public environment needs names the world resolves to it and Let's Encrypt certifies.
    host: publicDnsName(),
    grafanaHost: publicDnsName(),
    argocdHost: publicDnsName(),
    network: z
      .object({
        vpcCidr: z
          .literal(PROD_NETWORK.vpcCidr, `must be ${PROD_NETWORK.vpcCidr} (the subnet layout and the NetworkPolicies are cut from it)`)
          .default(PROD_NETWORK.vpcCidr),
        availabilityZones: z.literal(3, 'expected 3 (the VPC spans three availability zones)').default(3),
        natGateways: z.enum(['single', 'perAz']),
        flowLogRetentionDays: z.union([z.literal(30), z.literal(90), z.literal(180), z.literal(365)]).default(90),
      })
      .strict(),
    eks,
    database: z
      .object({
        instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'expected an RDS instance class such as db.t4g.medium'),
        engineVersion: z
          .string()
          .regex(
            new RegExp(`^${VERSIONS.postgresMajor}(\\.\\d+)?$`),
            `expected PostgreSQL ${VERSIONS.postgresMajor} (${VERSIONS.postgresMajor} or ${VERSIONS.postgresMajor}.x, the major CI, docker-compose and Kind run)`,
          )
          .default(VERSIONS.postgresMajor),
        allocatedStorageGb: int(20, 65536),
        maxAllocatedStorageGb: int(20, 65536),
        backupRetentionDays: int(7, 35),
        multiAz: z.boolean(),
        deletionProtection: z.boolean(),
      })
      .strict()
      .refine((d) => d.maxAllocatedStorageGb >= d.allocatedStorageGb, {
        message: 'expected maxAllocatedStorageGb >= allocatedStorageGb',
        path: ['maxAllocatedStorageGb'],
      }),
    cache: z
      .object({
        nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, 'expected a node type such as cache.t4g.small'),
        engineVersion: z
          .string()
          .regex(/^7\.\d$/, 'expected Redis 7.x such as 7.1')
          .default('7.1'),
        replicas: int(0, 5),
        multiAz: z.boolean(),
        snapshotRetentionDays: int(0, 35).default(7),
      })
      .strict()
      .refine((c) => !c.multiAz || c.replicas >= 1, {
        message: 'multi-AZ needs at least one replica',
        path: ['replicas'],
      }),
    broker: z
      .object({
        instanceType: z.string().regex(/^mq\.[a-z0-9]+\.[a-z0-9]+$/, 'expected a broker instance type such as mq.m7g.large'),
        engineVersion: z
          .enum(Object.keys(VERSIONS.amazonMqInstanceFamilies) as [keyof typeof VERSIONS.amazonMqInstanceFamilies], {
            error: `expected a RabbitMQ line Amazon MQ offers (${Object.keys(VERSIONS.amazonMqInstanceFamilies).join(' or ')})`,
          })
          .default(VERSIONS.rabbitmqMinor),
        deploymentMode: z.enum(['SINGLE_INSTANCE', 'CLUSTER_MULTI_AZ']),
      })
      .strict()
      .superRefine((b, ctx) => {
        if (!/^mq\.[a-z0-9]+\.[a-z0-9]+$/.test(b.instanceType)) return; // reported by the field itself
        const family = b.instanceType.split('.')[1] ?? '';
        const families: readonly string[] = VERSIONS.amazonMqInstanceFamilies[b.engineVersion];
        if (!families.includes(family)) {
          ctx.addIssue({
            code: 'custom',
            path: ['instanceType'],
            message: `RabbitMQ ${b.engineVersion} on Amazon MQ runs only on ${families.map((f) => `mq.${f}.*`).join(', ')}, not ${b.instanceType}`,
          });
        } else if (family === 't3' && b.deploymentMode !== 'SINGLE_INSTANCE') {
          ctx.addIssue({
            code: 'custom',
            path: ['instanceType'],
            message: `${b.instanceType} takes single-instance brokers only (CLUSTER_MULTI_AZ needs mq.m5 or mq.m7g)`,
          });
        }
      }),
  })
  .strict();

const schema = z.discriminatedUnion('environment', [dev, prod], {
  error: 'expected "dev" or "prod"',
});

export type StackConfig = z.infer<typeof schema>;
export type DevConfig = z.infer<typeof dev>;
export type ProdConfig = z.infer<typeof prod>;
export type EksConfig = z.infer<typeof eks>;
export type MonitoringConfig = z.infer<typeof monitoring>;

// ---------------------------------------------------------------- parsing

/** Keys set with `pulumi config set --secret`: a committed stack file holds none of them, so each is to set. */
export const SECRET_KEYS = [
  'gitRepoCredential',
  'sentryDsn',
  'oauthGoogleClientSecret',
  'oauthGithubClientSecret',
  'stripeApiKey',
  'stripeWebhookSecret',
] as const;

/** Keys read from the project namespace; objects are structured (YAML maps) config. */
const STRING_KEYS = [
  'environment',
  'deployMode',
  'gitRepoUrl',
  'gitRevision',
  'gitRepoCredential',
  'gitRepoUsername',
  'sentryDsn',
  'oauthGoogleClientSecret',
  'oauthGithubClientSecret',
  'stripeApiKey',
  'stripeWebhookSecret',
  'host',
  'grafanaHost',
  'argocdHost',
  'acmeEmail',
] as const;
const OBJECT_KEYS = ['monitoring', 'kind', 'network', 'eks', 'database', 'cache', 'broker'] as const;

export type RawConfig = Record<string, unknown>;

/** `awsRegion` lives in the aws namespace; every other key in the project's. */
export function keyName(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path.map(String);
  if (head === 'awsRegion') return 'aws:region';
  return `${PROJECT}:${[head, ...rest].join('.')}`;
}

function at(raw: RawConfig, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** An https URL takes a token, an ssh URL a private key (never echoed: it is a secret). */
function gitCredentialProblem(url: string | undefined, credential: string | undefined): string | undefined {
  if (credential === undefined) return undefined;
  if (!url) return 'set only together with gitRepoUrl';
  const ssh = !url.startsWith('https://');
  const isKey = /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(credential.trim());
  if (ssh && !isKey) return 'an ssh gitRepoUrl needs an SSH private key (a read-only deploy key)';
  if (!ssh && (isKey || /\s/.test(credential))) return 'an https gitRepoUrl needs a token (no spaces), not a key';
  return undefined;
}

/** Validate raw config; throws a ConfigError whose lines each name one key. */
export function parseStackConfig(raw: RawConfig): StackConfig {
  const result = schema.safeParse(raw);
  if (result.success) {
    const cfg = result.data;
    if (cfg.deployMode === 'gitops' && !cfg.gitRepoUrl) {
      throw new ConfigError(`missing config ${keyName(['gitRepoUrl'])} (required when deployMode is gitops)`);
    }
    const credentialProblem = gitCredentialProblem(cfg.gitRepoUrl, cfg.gitRepoCredential);
    if (credentialProblem) throw new ConfigError(`invalid config ${keyName(['gitRepoCredential'])}: ${credentialProblem}`);
    return cfg;
  }
  const lines = result.error.issues.map((issue) => {
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
    const key = keyName(path.length > 0 ? path : ['environment']);
    if (issue.code === 'unrecognized_keys') return `unknown config ${key}`;
    if (at(raw, path) === undefined) return `missing config ${key}`;
    return `invalid config ${key}: ${issue.message}`;
  });
  throw new ConfigError([...new Set(lines)].join('\n'));
}

/** Read the current stack's config (project + aws namespaces) into a raw object. */
export function readRawConfig(): RawConfig {
  const known = new Set<string>([...STRING_KEYS, ...OBJECT_KEYS]);
  for (const full of Object.keys(pulumi.runtime.allConfig())) {
    const [ns, key = ''] = full.split(':');
    if (ns === PROJECT && !known.has(key)) throw new ConfigError(`unknown config ${full}`);
  }
  const cfg = new pulumi.Config(PROJECT);
  const raw: RawConfig = {};
  for (const k of STRING_KEYS) {
    const v = cfg.get(k);
    if (v !== undefined) raw[k] = v;
  }
  for (const k of OBJECT_KEYS) {
    const text = cfg.get(k);
    if (text === undefined) continue;
    try {
      raw[k] = JSON.parse(text);
    } catch {
      throw new ConfigError(`invalid config ${keyName([k])}: expected a YAML map`);
    }
  }
  if (raw.environment === 'prod') raw.awsRegion = new pulumi.Config('aws').get('region');
  return raw;
}

export function loadStackConfig(): StackConfig {
  return parseStackConfig(readRawConfig());
}

/** Tags every taggable AWS resource carries (through the provider's defaultTags). */
export function defaultTags(environment: Environment): Record<string, string> {
  return { project: PROJECT, environment, 'managed-by': 'pulumi' };
}
