import { LRUCache } from 'lru-cache';
import type { Cache, CacheLookup } from '../../ports';

interface Entry {
  stamp: string;
  value: string;
}

export interface MemoryCacheOptions {
  /** Values kept at most (least recently used first out); generations kept at most before a reset. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * In-process stand-in for the Redis cache (REDIS_URL unset): same stamps, same conditional set,
 * same invalidation semantics, bounded in size. Only one process sees it, which is all a local
 * run has.
 */
export class MemoryCache implements Cache {
  private epoch = 0;
  private readonly generations = new Map<string, number>();
  private readonly values: LRUCache<string, Entry>;
  private readonly maxEntries: number;

  constructor(options: MemoryCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    // Fresh while its age is at most its TTL, as a Redis key with PX is; the clock read on every check.
    this.values = new LRUCache<string, Entry>({ max: this.maxEntries, ttlResolution: 0, perf: { now: options.now ?? Date.now } });
  }

  async get(namespace: string, key: string): Promise<CacheLookup> {
    const stamp = this.stamp(namespace);
    const entry = this.values.get(valueId(namespace, key));
    return { stamp, value: entry?.stamp === stamp ? entry.value : null };
  }

  async set(namespace: string, key: string, value: string, ttlMs: number, stamp: string): Promise<void> {
    const ttl = Math.floor(ttlMs);
    if (ttl <= 0 || stamp !== this.stamp(namespace)) return;
    this.values.set(valueId(namespace, key), { stamp, value }, { ttl });
  }

  async invalidate(namespaces: readonly string[]): Promise<void> {
    for (const namespace of namespaces) this.generations.set(namespace, (this.generations.get(namespace) ?? 0) + 1);
    if (this.generations.size > this.maxEntries) {
      // A new epoch makes every stamp handed out so far stale, so the generations can go.
      this.generations.clear();
      this.epoch += 1;
    }
  }

  private stamp(namespace: string): string {
    return `${this.epoch}.${this.generations.get(namespace) ?? 0}`;
  }
}

function valueId(namespace: string, key: string): string {
  return `${namespace}\u0000${key}`;
}
