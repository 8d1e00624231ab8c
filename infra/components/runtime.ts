import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import {
  APP,
  IN_CLUSTER_BACKENDS,
  LABELS,
  NAMESPACE,
  NAMESPACE_LABELS,
  PAYMENTS,
  RDS_CA_BUNDLE,
  RUNTIME_SECRET,
  type BackendUrlKey,
  type DependencyKey,
  type OAuthSecretKey,
  type OptionalRuntimeKey,
  type PaymentsSecretKey,
  type RuntimeKey,
} from '../../platform/contract';
import { amqpUrl, postgresUrl, redisUrl } from '../urls';
import { generatedSecret } from './passwords';

/** The managed services' coordinates and generated credentials (prod). */
export interface ManagedBackends {
  kind: 'managed';
  database: { host: pulumi.Input<string>; port: number; user: string; password: pulumi.Input<string>; name: string };
  /** The payments service's own login on the same instance (PaymentsDatabaseRole); `ready` made it. */
  paymentsDatabase: { user: string; password: pulumi.Input<string>; ready: pulumi.Resource };
  cache: { host: pulumi.Input<string>; port: number; authToken: pulumi.Input<string> };
  /** The service's own broker user (never the admin), on its vhost; `ready` made it (the Secret waits for it). */
  broker: { host: pulumi.Input<string>; port: number; user: string; password: pulumi.Input<string>; vhost: string; ready: pulumi.Resource };
}

/** dev: the in-cluster Postgres/Redis/RabbitMQ synthesized by cdk8s read their passwords from this Secret. */
export interface InClusterBackends {
  kind: 'in-cluster';
}

export interface RuntimeArgs {
  provider: k8s.Provider;
  backends: ManagedBackends | InClusterBackends;
  /** Social sign-in client secrets from Pulumi config secrets; an absent one is written empty (provider off). */
  oauth?: { googleClientSecret?: pulumi.Input<string>; githubClientSecret?: pulumi.Input<string> };
  /**
   * The payment provider's credentials (secret stack config stripeApiKey / stripeWebhookSecret,
   * prod). Absent (dev): both keys are written empty, and the payments pods run the service's
   * local Stripe-compatible server (charts/environments.ts payments.provider `local`).
   */
  stripe?: { apiKey: pulumi.Input<string>; webhookSecret: pulumi.Input<string> };
  /** SENTRY_DSN (secret stack config sentryDsn); absent: the key is not written. */
  sentryDsn?: pulumi.Input<string>;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

type BackendUrls = Record<BackendUrlKey, pulumi.Output<string>>;

/** prod: TLS URLs of the managed services with their generated credentials. */
/** The RDS URL of one login (verify-full against the CA bundle in the image). */
function rdsUrl(db: ManagedBackends['database'], user: string, password: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi
    .all([db.host, password])
    .apply(([host, pw]) =>
      postgresUrl({ user, password: pw, host, port: db.port, database: db.name, tls: { rootCertFile: RDS_CA_BUNDLE.imagePath } }),
    );
}

function managedUrls({ database: db, cache, broker }: ManagedBackends): BackendUrls {
  return {
    DATABASE_URL: rdsUrl(db, db.user, db.password),
    REDIS_URL: pulumi
      .all([cache.host, cache.authToken])
      .apply(([host, password]) => redisUrl({ password, host, port: cache.port, tls: true })),
    AMQP_URL: pulumi
      .all([broker.host, broker.password])
      .apply(([host, password]) => amqpUrl({ user: broker.user, password, host, port: broker.port, vhost: broker.vhost, tls: true })),
  };
}

/** dev: generated passwords for the in-cluster dependencies (which read them too) and the URLs built from them. */
function inClusterUrls(name: string, parent: pulumi.Resource): BackendUrls & Record<DependencyKey, pulumi.Output<string>> {
  const { postgres: p, redis: r, rabbitmq: q } = IN_CLUSTER_BACKENDS;
  const pg = generatedSecret(`${name}-postgres-password`, 32, parent);
  const redis = generatedSecret(`${name}-redis-password`, 32, parent);
  const mq = generatedSecret(`${name}-rabbitmq-password`, 32, parent);
  return {
    [p.passwordKey]: pg,
    [r.passwordKey]: redis,
    [q.passwordKey]: mq,
    DATABASE_URL: pg.apply((password) =>
      postgresUrl({ user: p.user, password, host: p.service, port: p.port, database: p.database, tls: false }),
    ),
    REDIS_URL: redis.apply((password) => redisUrl({ password, host: r.service, port: r.port, tls: false })),
    AMQP_URL: mq.apply((password) => amqpUrl({ user: q.user, password, host: q.service, port: q.port, tls: false })),
  };
}

/**
 * The application namespace (Pod Security "restricted"), the payments Secret (PAYMENTS.secret: the
 * payments service's DATABASE_URL, its own login in prod, the booking side's in-cluster database in
 * dev; STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET) and the `goticket-runtime` Secret:
 * DATABASE_URL, REDIS_URL, AMQP_URL and JWT_SECRET (plus the dev dependencies' passwords), and the
 * social sign-in client secrets. Every value is a Pulumi secret: generated credentials, or the
 * team's own config secrets (`pulumi config set --secret goticket:oauthGoogleClientSecret …`).
 */
export class Runtime extends pulumi.ComponentResource {
  readonly namespace: pulumi.Output<string>;
  readonly secretName: pulumi.Output<string>;
  readonly paymentsSecretName: pulumi.Output<string>;

  constructor(name: string, args: RuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:runtime:Runtime', name, {}, opts);
    const k = { parent: this, provider: args.provider };

    const ns = new k8s.core.v1.Namespace(
      `${name}-ns`,
      {
        metadata: { name: NAMESPACE, labels: { ...NAMESPACE_LABELS } },
      },
      { ...k, dependsOn: args.dependsOn },
    );

    // 48 alphanumerics ≈ 285 bits, well over the service's 32-byte minimum.
    const jwt = generatedSecret(`${name}-jwt-secret`, 48, this);
    // Typed by the contract: a key added to RUNTIME_KEYS does not compile until both branches set it.
    const oauth: Record<OAuthSecretKey, pulumi.Output<string>> = {
      OAUTH_GOOGLE_CLIENT_SECRET: pulumi.output(args.oauth?.googleClientSecret ?? ''),
      OAUTH_GITHUB_CLIENT_SECRET: pulumi.output(args.oauth?.githubClientSecret ?? ''),
    };
    const data: Record<RuntimeKey, pulumi.Output<string>> & Partial<Record<DependencyKey | OptionalRuntimeKey, pulumi.Output<string>>> =
      args.backends.kind === 'managed'
        ? { JWT_SECRET: jwt, ...oauth, ...managedUrls(args.backends) }
        : { JWT_SECRET: jwt, ...oauth, ...inClusterUrls(name, this) };
    if (args.sentryDsn !== undefined) data.SENTRY_DSN = pulumi.output(args.sentryDsn);

    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: { name: RUNTIME_SECRET, namespace: ns.metadata.name, labels: { [LABELS.partOf]: APP } },
        type: 'Opaque',
        stringData: Object.fromEntries(Object.entries(data).map(([key, v]) => [key, pulumi.secret(v)])),
      },
      // prod: the broker user must exist before the pods get its credentials.
      args.backends.kind === 'managed' ? { ...k, dependsOn: [args.backends.broker.ready] } : k,
    );

    // Typed by the contract: a key added to PAYMENTS.secretKeys does not compile until it is set here.
    const paymentsData: Record<PaymentsSecretKey, pulumi.Output<string>> = {
      DATABASE_URL:
        args.backends.kind === 'managed'
          ? rdsUrl(args.backends.database, args.backends.paymentsDatabase.user, args.backends.paymentsDatabase.password)
          : data.DATABASE_URL,
      STRIPE_API_KEY: pulumi.output(args.stripe?.apiKey ?? ''),
      STRIPE_WEBHOOK_SECRET: pulumi.output(args.stripe?.webhookSecret ?? ''),
    };
    const paymentsSecret = new k8s.core.v1.Secret(
      `${name}-payments-secret`,
      {
        metadata: {
          name: PAYMENTS.secret,
          namespace: ns.metadata.name,
          labels: { [LABELS.partOf]: APP, [LABELS.component]: PAYMENTS.component },
        },
        type: 'Opaque',
        stringData: Object.fromEntries(Object.entries(paymentsData).map(([key, v]) => [key, pulumi.secret(v)])),
      },
      // prod: the payments role must exist before the pods get its login.
      args.backends.kind === 'managed' ? { ...k, dependsOn: [args.backends.paymentsDatabase.ready] } : k,
    );

    this.namespace = ns.metadata.name;
    this.secretName = secret.metadata.name;
    this.paymentsSecretName = paymentsSecret.metadata.name;
    this.registerOutputs({ namespace: this.namespace, secretName: this.secretName, paymentsSecretName: this.paymentsSecretName });
  }
}
