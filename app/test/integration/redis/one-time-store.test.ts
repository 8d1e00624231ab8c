/**
 * The OneTimeStore contract (OAuth transactions and one-time login codes), run against real Redis
 * (a key prefix of this file's own) and the in-process stand-in used when REDIS_URL is unset:
 * a value is taken at most once, never after its TTL, never from another namespace, and of two
 * concurrent takes exactly one wins.
 */
import { MemoryOneTimeStore } from '../../../src/adapters/memory/one-time-store';
import type { RedisConnection } from '../../../src/adapters/redis/connection';
import { RedisOneTimeStore } from '../../../src/adapters/redis/one-time-store';
import { ServiceUnavailableError } from '../../../src/domain/errors';
import type { OneTimeStore } from '../../../src/ports';
import { connect, deleteKeys, scanKeys, sleep, testKeyPrefix } from './helpers';

const prefix = testKeyPrefix();
let connection: RedisConnection;

beforeAll(async () => {
  connection = connect(prefix);
  await connection.ready();
});

afterAll(async () => {
  await connection.close();
  await deleteKeys(prefix);
  expect(await scanKeys(prefix)).toEqual([]);
});

let run = 0;
const key = (name: string) => `${name}-${++run}`;

describe.each<[string, () => OneTimeStore]>([
  ['redis', () => new RedisOneTimeStore(connection)],
  ['memory', () => new MemoryOneTimeStore()],
])('OneTimeStore contract: %s', (_name, make) => {
  let store: OneTimeStore;
  beforeEach(() => {
    store = make();
  });

  test('a value is taken once', async () => {
    const k = key('once');
    await store.put('codes', k, 'user-1', 60_000);
    expect(await store.take('codes', k)).toBe('user-1');
    expect(await store.take('codes', k)).toBeNull();
  });

  test('namespaces do not share keys', async () => {
    const k = key('ns');
    await store.put('oauth-tx', k, 'tx', 60_000);
    expect(await store.take('oauth-code', k)).toBeNull();
    expect(await store.take('oauth-tx', k)).toBe('tx');
  });

  test('never after its TTL', async () => {
    const k = key('ttl');
    await store.put('codes', k, 'late', 30);
    await sleep(80);
    expect(await store.take('codes', k)).toBeNull();
  });

  test('of concurrent takes exactly one gets the value', async () => {
    const k = key('race');
    await store.put('codes', k, 'prize', 60_000);
    const results = await Promise.all(Array.from({ length: 10 }, () => store.take('codes', k)));
    expect(results.filter((value) => value === 'prize')).toHaveLength(1);
    expect(results.filter((value) => value === null)).toHaveLength(9);
  });
});

test('redis: stored under the prefix with the TTL asked, and 503 (ServiceUnavailableError) once Redis cannot answer', async () => {
  const store = new RedisOneTimeStore(connection);
  const k = key('ttl-check');
  await store.put('codes', k, 'v', 60_000);
  const ttl = await connection.client.pttl(`${prefix}once:codes:${k}`);
  expect(ttl).toBeGreaterThan(55_000);
  expect(ttl).toBeLessThanOrEqual(60_000);
  const closed = connect(`${prefix}closed:`);
  await closed.ready();
  await closed.close();
  const unreachable = new RedisOneTimeStore(closed);
  await expect(unreachable.put('codes', 'x', 'v', 1_000)).rejects.toBeInstanceOf(ServiceUnavailableError);
  await expect(unreachable.take('codes', 'x')).rejects.toBeInstanceOf(ServiceUnavailableError);
});
