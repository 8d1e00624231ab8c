import type { Logger } from '../../observability/logger';
import type { Cache, HealthCheck, OneTimeStore, RateLimiterFactory } from '../../ports';
import { MemoryCache } from '../memory/cache';
import { MemoryOneTimeStore } from '../memory/one-time-store';
import { MemoryRateLimiterFactory } from '../memory/rate-limiter';
import { RedisCache } from './cache';
import { RedisConnection, type RedisConnectionOptions } from './connection';
import { RedisOneTimeStore } from './one-time-store';
import { RedisRateLimiterFactory } from './rate-limiter';

export interface CacheBackends {
  cache: Cache;
  limiters: RateLimiterFactory;
  /** Single-use values with a TTL: OAuth transactions and one-time login codes. */
  oneTime: OneTimeStore;
  /** `redis`, non-critical (degraded when unreachable); none with the memory stand-ins. */
  health: HealthCheck[];
  close(): Promise<void>;
}

/** Redis when a URL is given, otherwise the in-process stand-ins (local runs). */
export function createCacheBackends(
  options: { url?: string; logger: Logger } & Omit<RedisConnectionOptions, 'url' | 'logger'>,
): CacheBackends {
  if (!options.url) {
    options.logger.warn(
      'REDIS_URL not set: cache, rate limits, token versions and sign-in transactions are in-process (per replica, lost on restart)',
    );
    return {
      cache: new MemoryCache(),
      limiters: new MemoryRateLimiterFactory(),
      oneTime: new MemoryOneTimeStore(),
      health: [],
      close: async () => undefined,
    };
  }
  const connection = new RedisConnection({ ...options, url: options.url });
  const cache = new RedisCache(connection);
  return {
    cache,
    limiters: new RedisRateLimiterFactory(connection),
    oneTime: new RedisOneTimeStore(connection),
    health: [connection.healthCheck()],
    async close() {
      cache.close();
      await connection.close();
    },
  };
}
