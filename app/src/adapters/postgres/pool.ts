import { Pool, types, type PoolClient, type PoolConfig } from 'pg';
import type { HealthCheck } from '../../ports';

/** int8 (counts, cents) as JS numbers: every value we store fits in 2^53. */
const parsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === types.builtins.INT8 ? (value: string) => Number(value) : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};

export interface PoolOptions {
  url: string;
  max: number;
  statementTimeoutMs: number;
  applicationName: string;
}

export function createPool(options: PoolOptions): Pool {
  const config: PoolConfig = {
    connectionString: options.url,
    max: options.max,
    application_name: options.applicationName,
    // A runaway query cannot hold a connection (or a hot row lock) for long.
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs * 2, 10_000),
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    types: parsers,
  };
  const pool = new Pool(config);
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

export function postgresHealthCheck(pool: Pool, timeoutMs = 2_000): HealthCheck {
  return {
    name: 'postgres',
    critical: true,
    async check() {
      const timeout = new Promise<'down'>((resolve) => setTimeout(resolve, timeoutMs, 'down').unref());
      const query = pool.query('SELECT 1').then(
        () => 'up' as const,
        () => 'down' as const,
      );
      return Promise.race([query, timeout]);
    },
  };
}

/** Runs fn in one transaction on one client; rolls back on any error. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError?.code === '23505' && (constraint === undefined || pgError.constraint === constraint);
}

export function isCheckViolation(error: unknown, constraint?: string): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError?.code === '23514' && (constraint === undefined || pgError.constraint === constraint);
}
