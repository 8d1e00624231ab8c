import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { Redis } from 'ioredis';
import type { Logger } from '../../observability/logger';
import { redisBreakerOpen } from '../../observability/metrics';
import type { HealthCheck } from '../../ports';

export interface RedisConnectionOptions {
  url: string;
  /** Prepended to every key this process writes (tests use one of their own). */
  keyPrefix: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Consecutive failures that open the circuit. */
  breakerThreshold: number;
  /** How long the circuit stays open before one trial call is let through. */
  breakerHalfOpenMs: number;
  logger: Logger;
}

export class RedisUnavailableError extends Error {
  constructor(status: string) {
    super(`redis is not connected (${status})`);
    this.name = 'RedisUnavailableError';
  }
}

/**
 * One ioredis client behind a circuit breaker. Every call has a deadline (`commandTimeout`),
 * nothing is queued while disconnected (`enableOfflineQueue: false`: a call fails at once),
 * and after `breakerThreshold` consecutive failures calls are refused without touching the
 * network until a trial call succeeds. Callers treat a refusal as "Redis cannot answer" and
 * fall back (PostgreSQL for reads, the in-process limiter for rate limits), so an outage costs
 * no latency once the circuit is open.
 */
export class RedisConnection {
  readonly client: Redis;
  readonly prefix: string;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly log: Logger;
  private connected = false;
  private closed = false;
  /** The current outage was logged (one line per outage, as the RabbitMQ adapter does). */
  private outageLogged = false;

  constructor(options: RedisConnectionOptions) {
    this.prefix = options.keyPrefix;
    this.log = options.logger.child({ component: 'redis' });
    this.client = new Redis(options.url, {
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      enableOfflineQueue: false,
      // concurrent requests' commands share one write (and one read) instead of one syscall each
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      // Reconnect forever, backing off to 2 s; the breaker keeps callers from waiting on it.
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
    });
    this.client.on('ready', () => {
      if (!this.connected) this.log.info('redis connected');
      this.connected = true;
      this.outageLogged = false;
      redisBreakerOpen.set(this.circuitClosed ? 0 : 1);
    });
    this.client.on('error', (error: Error) => this.markDown(error));
    this.client.on('close', () => this.markDown());

    this.breaker = circuitBreaker(
      handleWhen((error) => error instanceof Error),
      { halfOpenAfter: options.breakerHalfOpenMs, breaker: new ConsecutiveBreaker(options.breakerThreshold) },
    );
    this.breaker.onBreak(() => {
      redisBreakerOpen.set(1);
      this.log.warn('redis circuit open: failing fast, serving from PostgreSQL and the in-process limiter');
    });
    this.breaker.onReset(() => {
      redisBreakerOpen.set(0);
      this.log.info('redis circuit closed: using Redis again');
    });
  }

  /**
   * Runs `fn` through the breaker. Rejects at once while disconnected (nothing to wait for) and
   * while the circuit is open (BrokenCircuitError); the breaker itself counts what fails on a
   * connection that looks up: timeouts, errors, a server that stopped answering.
   */
  run<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') return Promise.reject(new RedisUnavailableError(this.client.status));
    return this.breaker.execute(() => fn(this.client));
  }

  /** Resolves once connected (tests; the service never waits for Redis). */
  async ready(timeoutMs = 5_000): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis not ready after ${timeoutMs}ms`)), timeoutMs);
      this.client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Calls go to Redis (circuit closed or letting a trial through). */
  get circuitClosed(): boolean {
    return this.breaker.state === CircuitState.Closed;
  }

  /** Non-critical: without Redis the API still serves (from PostgreSQL), so readiness says `degraded`. */
  healthCheck(): HealthCheck {
    return {
      name: 'redis',
      critical: false,
      check: async () => {
        if (!this.circuitClosed || this.client.status !== 'ready') return 'degraded';
        try {
          await this.run((client) => client.ping());
          return 'up';
        } catch {
          return 'degraded';
        }
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      await Promise.race([this.client.quit(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    } catch {
      // already gone
    }
    this.client.disconnect();
  }

  /**
   * Lost, or never reached (a wrong REDIS_URL, Redis down at startup): one warning per outage
   * either way, and the gauge says calls fail fast (run() refuses them while disconnected).
   */
  private markDown(error?: Error): void {
    if (this.closed) return;
    redisBreakerOpen.set(1);
    if (!this.outageLogged) {
      this.outageLogged = true;
      if (this.connected)
        this.log.warn(
          { err: error?.message },
          'redis connection lost; serving from PostgreSQL and the in-process limiter, reconnecting in the background',
        );
      else
        this.log.warn(
          { err: error?.message, status: this.client.status },
          'redis unreachable; serving from PostgreSQL and the in-process limiter, retrying in the background',
        );
    }
    this.connected = false;
  }
}
