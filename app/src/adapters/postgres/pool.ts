import { Pool, types, type PoolClient, type PoolConfig } from 'pg';
import type { HealthCheck } from '../../ports';

/** int8 (counts, cents) as JS numbers: every value we store fits in 2^53. */
const INT8: number = types.builtins.INT8;
const parsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? (value: string) => Number(value) : (types.getTypeParser(oid, format) as unknown)) as typeof types.getTypeParser,
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

/** Pools being warmed (warmPool): their readiness check answers down until the connections are open. */
const warming = new WeakMap<Pool, { warm: boolean }>();

export interface WarmPoolOptions {
  /** Wait before another attempt after a failed one (the database is down or refuses connections). */
  retryMs?: number;
  onError?(error: unknown): void;
}

/**
 * Opens `min` connections (at most the pool's max) and keeps them: pg-pool's `min` spares that
 * many idle clients from `idleTimeoutMillis`, so a quiet hour does not undo the warm-up. Until
 * they are open, the pool's readiness check (postgresHealthCheck) answers down, so no traffic is
 * routed to a process whose first requests would each wait for a new connection (a handshake is
 * 75–250 ms under load). A failed attempt is retried every `retryMs` until the pool ends.
 * Resolves with the connections the pool holds once warm (0 when `min` is 0 or the pool ended).
 */
export async function warmPool(pool: Pool, min: number, options: WarmPoolOptions = {}): Promise<number> {
  const target = Math.max(0, Math.min(Math.floor(min), pool.options.max ?? 10));
  pool.options.min = target;
  if (target === 0) return 0;
  const state = { warm: false };
  warming.set(pool, state);
  while (!pool.ending && !pool.ended) {
    // All at once and held until every one is open: each connect() then gets a connection of its own.
    const attempts = await Promise.allSettled(Array.from({ length: target }, () => pool.connect()));
    let failure: unknown;
    for (const attempt of attempts) {
      if (attempt.status === 'fulfilled') attempt.value.release();
      else failure ??= attempt.reason;
    }
    if (failure === undefined) {
      state.warm = true;
      return pool.totalCount;
    }
    if (pool.ending || pool.ended) break;
    options.onError?.(failure);
    await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 1_000).unref());
  }
  return 0;
}

export function postgresHealthCheck(pool: Pool, timeoutMs = 2_000): HealthCheck {
  return {
    name: 'postgres',
    critical: true,
    async check() {
      if (warming.get(pool)?.warm === false) return 'down';
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
