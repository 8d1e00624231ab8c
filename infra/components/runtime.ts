import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { amqpUrl, postgresUrl, redisUrl } from '../urls';
import { generatedSecret } from './passwords';

export const APP_NAMESPACE = 'goticket';
export const RUNTIME_SECRET = 'goticket-runtime';

/** The managed services' coordinates and generated credentials (prod). */
export interface ManagedBackends {
  kind: 'managed';
  database: { host: pulumi.Input<string>; port: number; user: string; password: pulumi.Input<string>; name: string };
  cache: { host: pulumi.Input<string>; port: number; authToken: pulumi.Input<string> };
  broker: { host: pulumi.Input<string>; port: number; user: string; password: pulumi.Input<string> };
}

/** dev: the in-cluster Postgres/Redis/RabbitMQ synthesized by cdk8s read their passwords from this Secret. */
export interface InClusterBackends {
  kind: 'in-cluster';
}

export interface RuntimeArgs {
  provider: k8s.Provider;
  backends: ManagedBackends | InClusterBackends;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The in-cluster services of the dev stack (charts/dependencies.ts), in namespace goticket. */
export const IN_CLUSTER = {
  postgres: { host: 'postgres', port: 5432, user: 'goticket', database: 'goticket' },
  redis: { host: 'redis', port: 6379 },
  rabbitmq: { host: 'rabbitmq', port: 5672, user: 'goticket' },
} as const;

/**
 * The application namespace (Pod Security "restricted") and the `goticket-runtime` Secret:
 * DATABASE_URL, REDIS_URL, AMQP_URL and JWT_SECRET (plus the dev dependencies' passwords).
 * Every value is a Pulumi secret built from generated credentials.
 */
export class Runtime extends pulumi.ComponentResource {
  readonly namespace: pulumi.Output<string>;
  readonly secretName: pulumi.Output<string>;

  constructor(name: string, args: RuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:runtime:Runtime', name, {}, opts);
    const k = { parent: this, provider: args.provider };

    const ns = new k8s.core.v1.Namespace(
      `${name}-ns`,
      {
        metadata: {
          name: APP_NAMESPACE,
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/audit': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
            'app.kubernetes.io/part-of': 'goticket',
          },
        },
      },
      { ...k, dependsOn: args.dependsOn },
    );

    // 48 alphanumerics ≈ 285 bits, well over the service's 32-byte minimum.
    const jwt = generatedSecret(`${name}-jwt-secret`, 48, this);
    const data: Record<string, pulumi.Output<string>> = { JWT_SECRET: jwt };
    const b = args.backends;
    if (b.kind === 'managed') {
      const { database: db, cache, broker } = b;
      data.DATABASE_URL = pulumi
        .all([db.host, db.password])
        .apply(([host, password]) => postgresUrl({ user: db.user, password, host, port: db.port, database: db.name, tls: true }));
      data.REDIS_URL = pulumi
        .all([cache.host, cache.authToken])
        .apply(([host, password]) => redisUrl({ password, host, port: cache.port, tls: true }));
      data.AMQP_URL = pulumi
        .all([broker.host, broker.password])
        .apply(([host, password]) => amqpUrl({ user: broker.user, password, host, port: broker.port, tls: true }));
    } else {
      const pg = generatedSecret(`${name}-postgres-password`, 32, this);
      const redis = generatedSecret(`${name}-redis-password`, 32, this);
      const mq = generatedSecret(`${name}-rabbitmq-password`, 32, this);
      const { postgres: p, redis: r, rabbitmq: q } = IN_CLUSTER;
      data.POSTGRES_PASSWORD = pg;
      data.REDIS_PASSWORD = redis;
      data.RABBITMQ_PASSWORD = mq;
      data.DATABASE_URL = pg.apply((password) => postgresUrl({ user: p.user, password, host: p.host, port: p.port, database: p.database, tls: false }));
      data.REDIS_URL = redis.apply((password) => redisUrl({ password, host: r.host, port: r.port, tls: false }));
      data.AMQP_URL = mq.apply((password) => amqpUrl({ user: q.user, password, host: q.host, port: q.port, tls: false }));
    }

    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: { name: RUNTIME_SECRET, namespace: ns.metadata.name, labels: { 'app.kubernetes.io/part-of': 'goticket' } },
        type: 'Opaque',
        stringData: Object.fromEntries(Object.entries(data).map(([key, v]) => [key, pulumi.secret(v)])),
      },
      k,
    );

    this.namespace = ns.metadata.name;
    this.secretName = secret.metadata.name;
    this.registerOutputs({ namespace: this.namespace, secretName: this.secretName });
  }
}
