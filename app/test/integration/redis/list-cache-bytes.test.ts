/**
 * Issue 17, point 5: what list caching may store in Redis. Each distinct `GET /events` query used
 * to cache a whole page (~210 kB with 5,000-character descriptions, for a 178-byte request):
 * a client filled Redis at will. Only canonical pages are cached now (the first unfiltered page at
 * one of CACHED_LIST_LIMITS), so the bytes stored for list pages are bounded by those pages,
 * whatever queries clients send. Measured here with long descriptions; figures in
 * build/test-reports/list-cache-bytes.json.
 */
import { Redis } from 'ioredis';
import { CACHED_LIST_LIMITS } from '../../../src/services/event-cache';
import { call, futureEvent, type TestApi } from '../../support/api';
import { TEST_REDIS_URL } from '../../support/env';
import { writeReport } from '../../support/report';
import { deleteKeys, scanKeys, startRedisApi } from './helpers';

let api: TestApi & { prefix: string };
let redis: Redis;

beforeAll(async () => {
  // nothing lapses while the file runs: what is stored stays to be measured
  api = await startRedisApi({ CACHE_TTL: '1h', RATE_LIMIT_ANON: '0', RATE_LIMIT_READS: '0', RATE_LIMIT_WRITES: '0' });
  redis = new Redis(TEST_REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await api?.close();
  if (api) await deleteKeys(api.prefix);
});

/** Bytes Redis holds for list pages (values) under this file's prefix, and how many. */
async function listBytes(): Promise<{ keys: number; bytes: number }> {
  const keys = await scanKeys(api.prefix, 'cache:val:events:list:*');
  const lengths = await Promise.all(keys.map((key) => redis.strlen(key)));
  return { keys: keys.length, bytes: lengths.reduce((sum, n) => sum + n, 0) };
}

it('stores nothing for a distinct non-canonical query, and at most the canonical pages in all (5,000-character descriptions)', async () => {
  const organizer = await api.user('organizer');
  const description = 'x'.repeat(5_000);
  for (let i = 0; i < 30; i++) {
    const start = Date.now() + (7 + i) * 86_400_000;
    const body = futureEvent({
      name: `Long ${i}`,
      description,
      priceCents: 1000 + i,
      startsAt: new Date(start).toISOString(),
      endsAt: new Date(start + 3_600_000).toISOString(),
    });
    expect((await call(`${api.url}/events`, { token: organizer.token, body })).status).toBe(201);
  }
  for (const limit of CACHED_LIST_LIMITS) expect((await call(`${api.url}/events?limit=${limit}`)).status).toBe(200);
  const canonical = await listBytes();
  expect(canonical.keys).toBe(CACHED_LIST_LIMITS.length);

  const first = await call<{ nextCursor: string | null }>(`${api.url}/events?limit=10`);
  const queries = [
    ...Array.from({ length: 20 }, (_, i) => `q=Long%20${i}`),
    ...Array.from({ length: 20 }, (_, i) => `limit=${i + 21}`),
    ...Array.from({ length: 10 }, (_, i) => `minPrice=${1000 + i}`),
    `limit=10&cursor=${encodeURIComponent(first.body.nextCursor!)}`,
  ];
  let requestBytes = 0;
  for (const query of queries) {
    const url = `${api.url}/events?${query}`;
    requestBytes += `GET ${new URL(url).pathname}?${query} HTTP/1.1\r\n`.length;
    expect((await call(url)).status).toBe(200);
  }
  const after = await listBytes();
  // not one byte more for any of them
  expect(after).toEqual(canonical);
  writeReport('list-cache-bytes', {
    events: 30,
    descriptionChars: 5_000,
    canonicalPages: canonical.keys,
    canonicalPageBytes: canonical.bytes,
    distinctQueries: queries.length,
    requestLineBytes: requestBytes,
    bytesStoredPerDistinctQuery: (after.bytes - canonical.bytes) / queries.length,
  });
});
