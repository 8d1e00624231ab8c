import type { Cache, CacheLookup } from '../../ports';
import { setBounded } from '../../bounded-map';

interface Entry {
  stamp: string;
  value: string;
  expiresAt: number;
}

export interface MemoryCacheOptions {
  /** Values kept at most (oldest written first out); generations kept at most before a reset. */
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
  private readonly values = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  async get(namespace: string, key: string): Promise<CacheLookup> {
    const stamp = this.stamp(namespace);
    const id = valueId(namespace, key);
    const entry = this.values.get(id);
    if (entry && entry.expiresAt <= this.now()) this.values.delete(id);
    const fresh = entry && entry.expiresAt > this.now() && entry.stamp === stamp;
    return { stamp, value: fresh ? entry.value : null };
  }

  async set(namespace: string, key: string, value: string, ttlMs: number, stamp: string): Promise<void> {
    if (ttlMs <= 0 || stamp !== this.stamp(namespace)) return;
    const id = valueId(namespace, key);
    setBounded(this.values, id, { stamp, value, expiresAt: this.now() + ttlMs }, this.maxEntries);
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
