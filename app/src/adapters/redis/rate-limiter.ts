import { RateLimiterRedis } from 'rate-limiter-flexible';
import { rateLimitFallbacks } from '../../observability/metrics';
import type { RateLimiter, RateLimiterFactory, RateLimitPolicy, RateLimitVerdict } from '../../ports';
import { MemoryRateLimiter, settle, windowSeconds } from '../memory/rate-limiter';
import type { RedisConnection } from './connection';

/**
 * Counts in Redis (shared by every replica) through the circuit breaker. When Redis cannot
 * answer, the same policy is enforced by an in-process limiter: per replica, so the effective
 * limit during an outage is at most `points × replicas`; counts start from zero on both sides.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly shared: RateLimiterRedis;
  private readonly fallback: MemoryRateLimiter;

  constructor(
    private readonly connection: RedisConnection,
    name: string,
    readonly policy: RateLimitPolicy,
  ) {
    this.shared = new RateLimiterRedis({
      storeClient: connection.client,
      keyPrefix: `${connection.prefix}rl:${name}`,
      points: policy.points,
      duration: windowSeconds(policy),
      rejectIfRedisNotReady: true,
    });
    this.fallback = new MemoryRateLimiter(name, policy);
  }

  async consume(key: string, points = 1): Promise<RateLimitVerdict> {
    try {
      // A RateLimiterRes rejection (over the limit) is not an Error: it never trips the breaker.
      return await settle(
        this.policy,
        this.connection.run(() => this.shared.consume(key, points)),
      );
    } catch {
      rateLimitFallbacks.inc();
      return this.fallback.consume(key, points);
    }
  }

  async refund(key: string, points = 1): Promise<void> {
    // Where the point was taken is not known; Redis first, this process when Redis cannot answer.
    await this.connection.run(() => this.shared.reward(key, points)).catch(() => this.fallback.refund(key, points));
  }

  async reset(key: string): Promise<void> {
    await Promise.all([this.connection.run(() => this.shared.delete(key)).catch(() => undefined), this.fallback.reset(key)]);
  }
}

export class RedisRateLimiterFactory implements RateLimiterFactory {
  constructor(private readonly connection: RedisConnection) {}

  create(name: string, policy: RateLimitPolicy): RateLimiter {
    return new RedisRateLimiter(this.connection, name, policy);
  }
}
