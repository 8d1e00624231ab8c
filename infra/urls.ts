/** Connection URLs for the `goticket-runtime` Secret. Credentials are percent-encoded. */

const enc = encodeURIComponent;

export interface PostgresUrlArgs {
  user: string;
  password: string;
  host: string;
  port: number;
  database: string;
  /** TLS required (RDS). */
  tls: boolean;
}

/**
 * With TLS, `sslmode=require` plus `uselibpqcompat=true`: node-postgres otherwise treats
 * `require` as `verify-full` against Node's CA store, which does not hold the RDS CA.
 */
export function postgresUrl(a: PostgresUrlArgs): string {
  const query = a.tls ? '?sslmode=require&uselibpqcompat=true' : '';
  return `postgres://${enc(a.user)}:${enc(a.password)}@${a.host}:${a.port}/${enc(a.database)}${query}`;
}

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
  tls: boolean;
}

export function amqpUrl(a: AmqpUrlArgs): string {
  return `${a.tls ? 'amqps' : 'amqp'}://${enc(a.user)}:${enc(a.password)}@${a.host}:${a.port}`;
}
