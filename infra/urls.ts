/** Connection URLs for the `goticket-runtime` Secret. Credentials are percent-encoded. */

const enc = encodeURIComponent;

export interface PostgresUrlArgs {
  user: string;
  password: string;
  host: string;
  port: number;
  database: string;
  /**
   * TLS with full verification (RDS): the server's certificate must chain to the CA bundle in
   * `rootCertFile` (a path inside the pod) and name the host connected to. `false`: plain TCP
   * (the in-cluster dev database, behind its NetworkPolicy).
   */
  tls: false | { rootCertFile: string };
}

/**
 * With TLS, libpq's `sslmode=verify-full` with `sslrootcert` (node-postgres reads the file) and
 * `uselibpqcompat=true`, so every mode means what it means in libpq: `require` would encrypt
 * without verifying anything, and `verify-ca` would skip the host name.
 */
export function postgresUrl(a: PostgresUrlArgs): string {
  const query = a.tls ? `?sslmode=verify-full&sslrootcert=${enc(a.tls.rootCertFile)}&uselibpqcompat=true` : '';
  return `postgres://${enc(a.user)}:${enc(a.password)}@${a.host}:${a.port}/${enc(a.database)}${query}`;
}

/**
 * Redis (`rediss://`) and RabbitMQ (`amqps://`): ioredis and amqplib open TLS with Node's
 * defaults, which verify the chain against Node's CA store (ElastiCache and Amazon MQ present
 * certificates of public CAs) and the host name of the URL. Nothing here may weaken that (no
 * `rejectUnauthorized=false`, no IP address instead of the endpoint's name): the URLs carry the
 * endpoints' DNS names. app/test/integration/tls-verification.test.ts proves the refusals.
 */
export interface RedisUrlArgs {
  password: string;
  host: string;
  port: number;
  tls: boolean;
}

export function redisUrl(a: RedisUrlArgs): string {
  return `${a.tls ? 'rediss' : 'redis'}://:${enc(a.password)}@${a.host}:${a.port}`;
}

export interface AmqpUrlArgs {
  user: string;
  password: string;
  host: string;
  port: number;
  /** The virtual host (default: the broker's `/`). */
  vhost?: string;
  tls: boolean;
}

export function amqpUrl(a: AmqpUrlArgs): string {
  return `${a.tls ? 'amqps' : 'amqp'}://${enc(a.user)}:${enc(a.password)}@${a.host}:${a.port}${a.vhost ? `/${enc(a.vhost)}` : ''}`;
}
