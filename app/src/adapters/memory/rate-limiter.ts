import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiter, RateLimiterFactory, RateLimitPolicy, RateLimitVerdict } from '../../ports';

/** rate-limiter-flexible counts windows in whole seconds. */
export function windowSeconds(policy: RateLimitPolicy): number {
  return Math.max(1, Math.ceil(policy.windowMs / 1000));
}

export function toVerdict(policy: RateLimitPolicy, res: RateLimiterRes, allowed: boolean): RateLimitVerdict {
  return {
    allowed,
    limit: policy.points,
    consumed: res.consumedPoints,
    remaining: Math.max(0, res.remainingPoints),
    resetMs: Math.max(0, res.msBeforeNext),
  };
}

/** Resolves a consume: a RateLimiterRes rejection means "over the limit", anything else is a failure. */
export async function settle(policy: RateLimitPolicy, attempt: Promise<RateLimiterRes>): Promise<RateLimitVerdict> {
  try {
    return toVerdict(policy, await attempt, true);
  } catch (error) {
    if (error instanceof RateLimiterRes) return toVerdict(policy, error, false);
    throw error;
  }
}

/** Fixed-window limiter in this process only (REDIS_URL unset, or the fallback while Redis is down). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(
    name: string,
    readonly policy: RateLimitPolicy,
  ) {
    this.limiter = new RateLimiterMemory({ keyPrefix: name, points: policy.points, duration: windowSeconds(policy) });
  }

  consume(key: string, points = 1): Promise<RateLimitVerdict> {
    return settle(this.policy, this.limiter.consume(key, points));
  }

  async refund(key: string, points = 1): Promise<void> {
    await this.limiter.reward(key, points);
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}

export class MemoryRateLimiterFactory implements RateLimiterFactory {
  create(name: string, policy: RateLimitPolicy): RateLimiter {
    return new MemoryRateLimiter(name, policy);
  }
}
