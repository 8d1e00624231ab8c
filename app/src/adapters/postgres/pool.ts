import { ConstantBackoff, handleWhen, retry } from 'cockatiel';
import { Pool, types, type PoolClient, type PoolConfig } from 'pg';
import type { HealthCheck } from '../../ports';
import { assertCallOpen, callSignal, outsideCall } from '../../call-scope';
import { DeadlineExceededError } from '../../domain/errors';
import { asUnavailable, unavailableReason } from './errors';

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
  /**
   * Client-side deadline of every query (node-postgres `query_timeout`). A statement on a
   * connection that died silently (a failed-over primary drops packets, sends no RST) fails after
   * this instead of waiting ~15 min for TCP to give up; the connection is then discarded.
   * Default: statementTimeoutMs + 1 s, so the server's own cancel normally answers first.
   */
  queryTimeoutMs?: number;
  /** Deadline of a new connection's handshake, and of a wait for a free client (default 5 s). */
  connectTimeoutMs?: number;
  applicationName: string;
  /** Every connection error, on an idle or a checked-out client (the pool replaces the client either way). */
  onConnectionError?(error: Error): void;
}

/** Idle connections are probed this soon (TCP keepalive), so a silently dead one is found before it is used. */
const KEEPALIVE_IDLE_MS = 10_000;

export function createPool(options: PoolOptions): Pool {
  const config: PoolConfig = {
    connectionString: options.url,
    max: options.max,
    application_name: options.applicationName,
    // A runaway query cannot hold a connection (or a hot row lock) for long.
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.queryTimeoutMs ?? options.statementTimeoutMs + 1_000,
    idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs * 2, 10_000),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    types: parsers,
  };
  const pool = new Pool(config);
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // Nor one that is checked out: without a listener of its own, a reset while a transaction, a
  // migration or a LISTEN holds it is an unhandled 'error' event, and the process exits. Every
  // client gets this one listener when it connects; the query in flight fails with the error.
  pool.on('connect', (client) => client.on('error', (error: Error) => options.onConnectionError?.(error)));
  translateErrors(pool);
  return pool;
}

/**
 * The pool's own query() and connect() reject with a ServiceUnavailableError when the database
 * could not serve them (connection refused, lost or timed out, server shutting down, failing over):
 * the use cases and edges see one error type for it (503 + Retry-After), with the driver's error as
 * its cause. Any other error (a constraint violation) is passed on untouched.
 */
function translateErrors(pool: Pool): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  const translated = (result: unknown) =>
    result instanceof Promise
      ? result.catch((error: unknown) => {
          throw asUnavailable(error);
        })
      : result;
  pool.query = ((...args: unknown[]) => {
    const signal = callSignal();
    // Callback style and calls without a caller's signal: as node-postgres does it.
    if (!signal || typeof args[args.length - 1] === 'function') return translated(query(...args));
    return translated(queryForCall(pool, query, signal, args));
  }) as Pool['query'];
  pool.connect = ((...args: unknown[]) => translated(connect(...args))) as Pool['connect'];
}

/**
 * A query for a call with a deadline: on its own client, so that when the call's signal aborts
 * (deadline passed, client gone) the statement is cancelled on the server (pg_cancel_backend on
 * another connection) and its locks and CPU are freed now, not after DB_STATEMENT_TIMEOUT.
 */
async function queryForCall(pool: Pool, query: (...args: unknown[]) => unknown, signal: AbortSignal, args: unknown[]): Promise<unknown> {
  assertCallOpen(signal);
  const client = await pool.connect();
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
    const pid = (client as PoolClient & { processID?: number }).processID;
    if (pid !== undefined) void outsideCall(() => query('SELECT pg_cancel_backend($1)', [pid]) as Promise<unknown>).catch(() => undefined);
  };
  signal.addEventListener('abort', cancel, { once: true });
  try {
    assertCallOpen(signal);
    return await (client.query as (...a: unknown[]) => Promise<unknown>).apply(client, args);
  } catch (error) {
    // 57014 query_canceled: ours, for the call that left.
    if (cancelled && (error as { code?: string }).code === '57014') throw new DeadlineExceededError();
    throw error;
  } finally {
    signal.removeEventListener('abort', cancel);
    client.release();
  }
}

/** Pools being warmed (warmPool): their readiness check answers down until the connections are open. */
const warming = new WeakMap<Pool, { warm: boolean }>();

export interface WarmPoolOptions {
  /** Wait before another attempt after a failed one (the database is down or refuses connections). */
  retryMs?: number;
  onError?(error: unknown): void;
}

/** Returned by an attempt that found the pool ending: nothing more to warm. */
const POOL_ENDED: unique symbol = Symbol('pool ended');

/**
 * Opens `min` connections (at most the pool's max) and keeps them: pg-pool's `min` spares that
 * many idle clients from `idleTimeoutMillis`, so a quiet hour does not undo the warm-up. Until
 * they are open, the pool's readiness check (postgresHealthCheck) answers down, so no traffic is
 * routed to a process whose first requests would each wait for a new connection (a handshake is
 * 75–250 ms under load). A failed attempt is retried every `retryMs` (a cockatiel policy) until
 * the pool ends. Resolves with the connections the pool holds once warm (0 when `min` is 0 or the
 * pool ended).
 */
export async function warmPool(pool: Pool, min: number, options: WarmPoolOptions = {}): Promise<number> {
  const target = Math.max(0, Math.min(Math.floor(min), pool.options.max ?? 10));
  pool.options.min = target;
  if (target === 0) return 0;
  const state = { warm: false };
  warming.set(pool, state);
  const ended = () => pool.ending || pool.ended;
  // Every failure is retried while the pool is open; the wait does not keep the process alive.
  const policy = retry(
    handleWhen(() => !ended()),
    { maxAttempts: Number.POSITIVE_INFINITY, backoff: new ConstantBackoff(options.retryMs ?? 1_000) },
  ).dangerouslyUnref();
  policy.onRetry((reason) => {
    if ('error' in reason) options.onError?.(reason.error);
  });
  const opened = await policy
    .execute(async (): Promise<number | typeof POOL_ENDED> => {
      if (ended()) return POOL_ENDED;
      // All at once and held until every one is open: each connect() then gets a connection of its own.
      const attempts = await Promise.allSettled(Array.from({ length: target }, () => pool.connect()));
      let failure: Error | undefined;
      for (const attempt of attempts) {
        if (attempt.status === 'fulfilled') attempt.value.release();
        else failure ??= attempt.reason instanceof Error ? attempt.reason : new Error(String(attempt.reason));
      }
      if (failure) throw failure;
      return pool.totalCount;
    })
    .catch((): typeof POOL_ENDED => POOL_ENDED); // only thrown once the pool is ending
  if (opened === POOL_ENDED) return 0;
  state.warm = true;
  return opened;
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

/**
 * Runs fn in one transaction on one client; rolls back on any error. A connection that failed
 * (lost, timed out) is not rolled back over (the server does that when it goes) but discarded, and
 * the error is the domain's ServiceUnavailableError.
 */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    broken = unavailableReason(error) !== null;
    // On a dead connection ROLLBACK would only wait out its own query timeout behind the stuck statement.
    if (!broken) await client.query('ROLLBACK').catch(() => undefined);
    throw asUnavailable(error);
  } finally {
    client.release(broken);
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
