/**
 * One contract for each port of the cache layer, run against real Redis (a key prefix of this
 * file's own) and against the in-process stand-ins used when REDIS_URL is unset.
 */
import { MemoryCache } from '../../../src/adapters/memory/cache';
import { MemoryRateLimiterFactory } from '../../../src/adapters/memory/rate-limiter';
import { RedisCache } from '../../../src/adapters/redis/cache';
import type { RedisConnection } from '../../../src/adapters/redis/connection';
import { RedisRateLimiterFactory } from '../../../src/adapters/redis/rate-limiter';
import type { Cache, RateLimiterFactory } from '../../../src/ports';
import { connect, deleteKeys, scanKeys, sleep, testKeyPrefix } from './helpers';

const prefix = testKeyPrefix();
let connection: RedisConnection;
let redisCache: RedisCache;

beforeAll(async () => {
  connection = connect(prefix);
  redisCache = new RedisCache(connection);
  await connection.ready();
});

afterAll(async () => {
  redisCache.close();
  await connection.close();
  await deleteKeys(prefix);
  expect(await scanKeys(prefix)).toEqual([]);
});

let run = 0;
const ns = (name: string) => `${name}-${++run}`;

describe.each<[string, () => Cache]>([
  ['redis', () => redisCache],
  ['memory', () => new MemoryCache()],
])('Cache contract: %s', (_name, make) => {
  let cache: Cache;
  beforeEach(() => {
    cache = make();
  });

  it('misses, stores under the stamp it read, then hits', async () => {
    const namespace = ns('event');
    const first = await cache.get(namespace, 'json');
    expect(first).toEqual({ value: null, stamp: expect.any(String) });
    await cache.set(namespace, 'json', '{"a":1}', 5_000, first!.stamp);
    expect(await cache.get(namespace, 'json')).toEqual({ value: '{"a":1}', stamp: first!.stamp });
    // other keys and namespaces are untouched
    expect((await cache.get(namespace, 'other'))!.value).toBeNull();
    expect((await cache.get(ns('event'), 'json'))!.value).toBeNull();
  });

  it('invalidation makes every key of the namespace unreachable and changes the stamp', async () => {
    const namespace = ns('event');
    const stamp = (await cache.get(namespace, 'a'))!.stamp;
    await cache.set(namespace, 'a', '1', 5_000, stamp);
    await cache.set(namespace, 'b', '2', 5_000, stamp);
    const bystander = ns('event');
    const bystanderStamp = (await cache.get(bystander, 'a'))!.stamp;
    await cache.set(bystander, 'a', 'kept', 5_000, bystanderStamp);

    await cache.invalidate([namespace]);
    const after = (await cache.get(namespace, 'a'))!;
    expect(after.value).toBeNull();
    expect(after.stamp).not.toBe(stamp);
    expect((await cache.get(namespace, 'b'))!.value).toBeNull();
    expect((await cache.get(bystander, 'a'))!.value).toBe('kept');
  });

  it('refuses a value read before a concurrent invalidation (no stale write-back)', async () => {
    const namespace = ns('event');
    const before = (await cache.get(namespace, 'json'))!;
    // a writer commits and invalidates while the reader is still reading the old row
    await cache.invalidate([namespace]);
    await cache.set(namespace, 'json', 'stale', 5_000, before.stamp);
    expect((await cache.get(namespace, 'json'))!.value).toBeNull();
    // a reader that started after the invalidation stores fine
    const fresh = (await cache.get(namespace, 'json'))!;
    await cache.set(namespace, 'json', 'fresh', 5_000, fresh.stamp);
    expect((await cache.get(namespace, 'json'))!.value).toBe('fresh');
  });

  it('expires values after their TTL; a zero TTL stores nothing', async () => {
    const namespace = ns('event');
    const { stamp } = (await cache.get(namespace, 'short'))!;
    await cache.set(namespace, 'short', 'v', 150, stamp);
    await cache.set(namespace, 'never', 'v', 0, stamp);
    expect((await cache.get(namespace, 'short'))!.value).toBe('v');
    expect((await cache.get(namespace, 'never'))!.value).toBeNull();
    await sleep(250);
    expect((await cache.get(namespace, 'short'))!.value).toBeNull();
  });

  it('keeps values containing the separator and unicode intact', async () => {
    const namespace = ns('event');
    const value = JSON.stringify({ name: 'a|b|c 🎫 ü', n: 1 });
    const { stamp } = (await cache.get(namespace, 'k'))!;
    await cache.set(namespace, 'k', value, 5_000, stamp);
    expect((await cache.get(namespace, 'k'))!.value).toBe(value);
  });
});

describe('RedisCache invalidation batches (one script per batch)', () => {
  const stored = async (cache: Cache, namespace: string) => {
    const { stamp } = (await cache.get(namespace, 'k'))!;
    await cache.set(namespace, 'k', 'v', 5_000, stamp);
    expect((await cache.get(namespace, 'k'))!.value).toBe('v');
  };

  it('bumps every namespace of a batch and keeps each generation for days, not forever', async () => {
    const [a, b, bystander] = [ns('event'), ns('event'), ns('event')];
    for (const namespace of [a, b, bystander]) await stored(redisCache, namespace);
    await redisCache.invalidate([a, b]);
    expect((await redisCache.get(a, 'k'))!.value).toBeNull();
    expect((await redisCache.get(b, 'k'))!.value).toBeNull();
    expect((await redisCache.get(bystander, 'k'))!.value).toBe('v');
    for (const namespace of [a, b]) {
      const ttl = await connection.client.pttl(`${prefix}cache:gen:${namespace}`);
      expect(ttl).toBeGreaterThan(86_400_000);
      expect(ttl).toBeLessThanOrEqual(7 * 86_400_000);
    }
  });

  it('past maxPending it bumps the epoch instead: every namespace, bystanders included, is invalidated', async () => {
    const small = new RedisCache(connection, { maxPending: 1 });
    try {
      const [a, b, bystander] = [ns('event'), ns('event'), ns('event')];
      for (const namespace of [a, b, bystander]) await stored(small, namespace);
      await small.invalidate([a, b]);
      for (const namespace of [a, b, bystander]) expect((await small.get(namespace, 'k'))!.value).toBeNull();
      // and the cache works on under the new epoch
      await stored(small, bystander);
    } finally {
      small.close();
    }
  });
});

describe.each<[string, () => RateLimiterFactory]>([
  ['redis', () => new RedisRateLimiterFactory(connection)],
  ['memory', () => new MemoryRateLimiterFactory()],
])('RateLimiter contract: %s', (_name, make) => {
  it('allows `points` per window, then refuses with the time until the window resets', async () => {
    const limiter = make().create(ns('login'), { points: 3, windowMs: 60_000 });
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push(await limiter.consume('key'));
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false]);
    expect(verdicts.map((v) => v.remaining)).toEqual([2, 1, 0, 0]);
    expect(verdicts.map((v) => v.consumed)).toEqual([1, 2, 3, 4]);
    expect(verdicts[3]).toMatchObject({ limit: 3 });
    expect(verdicts[3]!.resetMs).toBeGreaterThan(55_000);
    expect(verdicts[3]!.resetMs).toBeLessThanOrEqual(60_000);
  });

  it('counts per key, not globally', async () => {
    const limiter = make().create(ns('writes'), { points: 1, windowMs: 60_000 });
    expect((await limiter.consume('alice')).allowed).toBe(true);
    expect((await limiter.consume('alice')).allowed).toBe(false);
    expect((await limiter.consume('bob')).allowed).toBe(true);
  });

  it('limiters with different names do not share counts', async () => {
    const factory = make();
    const name = ns('same');
    const a = factory.create(`${name}-a`, { points: 1, windowMs: 60_000 });
    const b = factory.create(`${name}-b`, { points: 1, windowMs: 60_000 });
    expect((await a.consume('k')).allowed).toBe(true);
    expect((await b.consume('k')).allowed).toBe(true);
  });

  it('refund gives a point back; reset forgets the key', async () => {
    const limiter = make().create(ns('login'), { points: 2, windowMs: 60_000 });
    await limiter.consume('k');
    await limiter.consume('k');
    await limiter.refund('k');
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
    await limiter.reset('k');
    expect(await limiter.consume('k')).toMatchObject({ allowed: true, consumed: 1, remaining: 1 });
  });

  it('starts a new window when the old one ends', async () => {
    const limiter = make().create(ns('anon'), { points: 1, windowMs: 1_000 });
    expect((await limiter.consume('ip')).allowed).toBe(true);
    expect((await limiter.consume('ip')).allowed).toBe(false);
    await sleep(1_100);
    expect((await limiter.consume('ip')).allowed).toBe(true);
  });

  it('is atomic under concurrency: exactly `points` of 50 parallel requests pass', async () => {
    const limiter = make().create(ns('burst'), { points: 5, windowMs: 60_000 });
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => limiter.consume('same')));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
  });
});

test('the Redis adapters keep every key under their prefix', async () => {
  const keys = await scanKeys(prefix);
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.every((key) => key.startsWith(prefix))).toBe(true);
  expect(keys.some((key) => key.startsWith(`${prefix}cache:gen:`))).toBe(true);
  expect(keys.some((key) => key.startsWith(`${prefix}rl:`))).toBe(true);
});
