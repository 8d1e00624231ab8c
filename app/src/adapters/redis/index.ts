import type { Logger } from '../../observability/logger';
import type { Cache, HealthCheck, RateLimiterFactory } from '../../ports';
import { MemoryCache } from '../memory/cache';
import { MemoryRateLimiterFactory } from '../memory/rate-limiter';
import { RedisCache } from './cache';
import { RedisConnection, type RedisConnectionOptions } from './connection';
import { RedisRateLimiterFactory } from './rate-limiter';

export interface CacheBackends {
  cache: Cache;
  limiters: RateLimiterFactory;
  /** `redis`, non-critical (degraded when unreachable); none with the memory stand-ins. */
  health: HealthCheck[];
  close(): Promise<void>;
}

/** Redis when a URL is given, otherwise the in-process stand-ins (local runs). */
export function createCacheBackends(options: { url?: string; logger: Logger } & Omit<RedisConnectionOptions, 'url' | 'logger'>): CacheBackends {
  if (!options.url) {
    options.logger.warn('REDIS_URL not set: cache, rate limits and token versions are in-process (per replica, lost on restart)');
    return { cache: new MemoryCache(), limiters: new MemoryRateLimiterFactory(), health: [], close: async () => undefined };
  }
  const connection = new RedisConnection({ ...options, url: options.url });
  const cache = new RedisCache(connection);
  return {
    cache,
    limiters: new RedisRateLimiterFactory(connection),
    health: [connection.healthCheck()],
    async close() {
      cache.close();
      await connection.close();
    },
  };
}
