import type { Redis } from 'ioredis';
import type { Cache, CacheLookup } from '../../ports';
import type { RedisConnection } from './connection';

/**
 * Values are stored as `<stamp>|<value>`, the stamp being `<epoch>.<namespace generation>` at the
 * time the caller read the namespace. Invalidation bumps the generation, so older values stop
 * matching (they expire by TTL). GET and the conditional SET each run as one Lua script: a
 * value read from PostgreSQL before a concurrent invalidation is never stored.
 */
const STAMP = `(redis.call('GET', KEYS[1]) or '0') .. '.' .. (redis.call('GET', KEYS[2]) or '0')`;

const GET_LUA = `local stamp = ${STAMP}
local stored = redis.call('GET', KEYS[3])
if stored then
  local sep = string.find(stored, '|', 1, true)
  if sep and string.sub(stored, 1, sep - 1) == stamp then return {stamp, string.sub(stored, sep + 1)} end
end
return {stamp, false}`;

const SET_LUA = `local stamp = ${STAMP}
if stamp ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], stamp .. '|' .. ARGV[2], 'PX', ARGV[3])
return 1`;

/**
 * One invalidation batch as one script (atomic like MULTI, one command instead of two per
 * namespace plus MULTI/EXEC): KEYS are the generation keys, then the epoch key when ARGV[2] is
 * '1'; each generation is bumped and kept for ARGV[1] ms.
 */
const INVALIDATE_LUA = `local generations = #KEYS
if ARGV[2] == '1' then
  redis.call('INCR', KEYS[generations])
  generations = generations - 1
end
for i = 1, generations do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return generations`;

/** Generations outlive every value by far, so a generation that expired cannot resurrect one. */
const GENERATION_TTL_MS = 7 * 86_400_000;

interface CacheCommands {
  goticketCacheGet(epochKey: string, generationKey: string, valueKey: string): Promise<[string, string | null]>;
  goticketCacheSet(epochKey: string, generationKey: string, valueKey: string, stamp: string, value: string, ttlMs: number): Promise<number>;
  /** `numberOfKeys`, the keys, then the generation TTL and '1' to bump the epoch (its key last) or '0'. */
  goticketCacheInvalidate(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
}

export interface RedisCacheOptions {
  /** Failed invalidations kept for retry; beyond it the whole cache is invalidated (epoch bump). */
  maxPending?: number;
  retryIntervalMs?: number;
}

/**
 * Redis implementation of the Cache port. An invalidation that cannot reach Redis is kept and
 * retried (every `retryIntervalMs`, and before any read), and reads return "unavailable" until
 * the backlog is flushed: entries written before an outage are never served after it when a
 * change happened during it.
 */
export class RedisCache implements Cache {
  /** Namespace → sequence number of its latest invalidation (a newer one needs its own INCR). */
  private readonly pending = new Map<string, number>();
  private sequence = 0;
  private epochBumpPending = false;
  private flushing: Promise<boolean> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly maxPending: number;
  private readonly retryIntervalMs: number;

  constructor(
    private readonly connection: RedisConnection,
    options: RedisCacheOptions = {},
  ) {
    this.maxPending = options.maxPending ?? 10_000;
    this.retryIntervalMs = options.retryIntervalMs ?? 1_000;
    connection.client.defineCommand('goticketCacheGet', { numberOfKeys: 3, lua: GET_LUA });
    connection.client.defineCommand('goticketCacheSet', { numberOfKeys: 3, lua: SET_LUA });
    connection.client.defineCommand('goticketCacheInvalidate', { lua: INVALIDATE_LUA });
  }

  async get(namespace: string, key: string): Promise<CacheLookup | null> {
    if (!(await this.flushed())) return null;
    try {
      const [stamp, value] = await this.connection.run((client) => commands(client).goticketCacheGet(...this.keys(namespace, key)));
      return { stamp, value };
    } catch {
      return null;
    }
  }

  async set(namespace: string, key: string, value: string, ttlMs: number, stamp: string): Promise<void> {
    if (ttlMs <= 0) return;
    try {
      await this.connection.run((client) =>
        commands(client).goticketCacheSet(...this.keys(namespace, key), stamp, value, Math.ceil(ttlMs)),
      );
    } catch {
      // a cache that cannot store is a cache miss next time
    }
  }

  async invalidate(namespaces: readonly string[]): Promise<void> {
    for (const namespace of namespaces) this.pending.set(namespace, ++this.sequence);
    if (this.pending.size > this.maxPending) {
      this.pending.clear();
      this.epochBumpPending = true;
    }
    await this.flushed();
  }

  /** Stops the retry timer (the connection is closed by its owner). */
  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** True when no invalidation is waiting for Redis (flushing what waits first). */
  private async flushed(): Promise<boolean> {
    // Invalidations queued while a flush is in flight need a round of their own.
    for (let round = 0; round < 3 && this.hasPending(); round++) {
      this.flushing ??= this.flush().finally(() => {
        this.flushing = null;
      });
      if (!(await this.flushing)) break;
    }
    return !this.hasPending();
  }

  private hasPending(): boolean {
    return this.pending.size > 0 || this.epochBumpPending;
  }

  private async flush(): Promise<boolean> {
    const batch = [...this.pending];
    const epochBump = this.epochBumpPending;
    try {
      const keys = batch.map(([namespace]) => this.generationKey(namespace));
      if (epochBump) keys.push(this.epochKey());
      await this.connection.run((client) =>
        commands(client).goticketCacheInvalidate(keys.length, ...keys, GENERATION_TTL_MS, epochBump ? '1' : '0'),
      );
      for (const [namespace, sequence] of batch) if (this.pending.get(namespace) === sequence) this.pending.delete(namespace);
      if (epochBump) this.epochBumpPending = false;
      return true;
    } catch {
      this.scheduleRetry();
      return false;
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.flushed();
    }, this.retryIntervalMs);
    this.retryTimer.unref();
  }

  private keys(namespace: string, key: string): [string, string, string] {
    return [this.epochKey(), this.generationKey(namespace), `${this.connection.prefix}cache:val:${namespace}:${key}`];
  }

  private epochKey(): string {
    return `${this.connection.prefix}cache:epoch`;
  }

  private generationKey(namespace: string): string {
    return `${this.connection.prefix}cache:gen:${namespace}`;
  }
}

function commands(client: Redis): CacheCommands {
  return client as unknown as CacheCommands;
}
