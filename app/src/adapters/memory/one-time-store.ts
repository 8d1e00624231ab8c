import { LRUCache } from 'lru-cache';
import type { OneTimeStore } from '../../ports';

/**
 * In-process stand-in for the Redis one-time store (REDIS_URL unset): same single-use `take`,
 * same TTLs, bounded in size (the oldest entry is dropped first: a flood of abandoned sign-ins
 * cannot grow the heap). One process only, which is all a local run has.
 */
export class MemoryOneTimeStore implements OneTimeStore {
  private readonly values: LRUCache<string, string>;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.values = new LRUCache<string, string>({
      max: options.maxEntries ?? 10_000,
      ttlResolution: 0,
      perf: { now: options.now ?? Date.now },
    });
  }

  put(namespace: string, key: string, value: string, ttlMs: number): Promise<void> {
    this.values.set(`${namespace}:${key}`, value, { ttl: ttlMs });
    return Promise.resolve();
  }

  take(namespace: string, key: string): Promise<string | null> {
    const id = `${namespace}:${key}`;
    const value = this.values.get(id);
    this.values.delete(id);
    return Promise.resolve(value ?? null);
  }
}
