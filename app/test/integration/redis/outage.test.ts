/**
 * Redis outages through a TCP proxy between the API and the real Redis. While Redis is cut or
 * hangs, reads and bookings keep succeeding from PostgreSQL and rate limits fall back to the
 * in-process limiter; once the breaker is open Redis costs no time; after the restore the
 * cache is used again and nothing stale from before the outage is served.
 */
import { cacheLookups, rateLimitFallbacks, redisBreakerOpen } from '../../../src/observability/metrics';
import { call, futureEvent, type TestApi } from '../../support/api';
import { TEST_REDIS_URL } from '../../support/env';
import { writeReport } from '../../support/report';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { deleteKeys, startRedisApi, waitForRedis } from './helpers';

let proxy: TcpProxy;
let api: TestApi & { prefix: string };
let organizer: string;
let ready: string;

beforeAll(async () => {
  const target = new URL(TEST_REDIS_URL);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  api = await startRedisApi(
    {
      REDIS_COMMAND_TIMEOUT: '100ms',
      REDIS_BREAKER_THRESHOLD: '3',
      REDIS_BREAKER_HALF_OPEN: '2s',
      // long enough that an entry cached before the outage would still be there after it
      CACHE_TTL: '60s',
      // every read must reach Redis: this file is about Redis failing, not the in-process copy
      CACHE_LOCAL_TTL: '0',
      RATE_LIMIT_ANON: '0',
      RATE_LIMIT_READS: '0',
      RATE_LIMIT_WRITES: '0',
      RATE_LIMIT_LOGIN_FAILURES: '3',
    },
    proxy.rewrite(TEST_REDIS_URL),
  );
  ready = api.url.replace(/\/api\/v1$/, '/healthz/ready');
  organizer = (await api.user('organizer')).token;
});

afterEach(async () => {
  // a failed test must not leave the next one in an outage
  proxy.delay(0);
  proxy.restore();
  await waitForRedis(api.url, 10_000);
});

afterAll(async () => {
  await api?.close();
  await proxy?.close();
  if (api) await deleteKeys(api.prefix);
});

async function counter(metric: typeof cacheLookups, labels: Record<string, string>): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

const eventHits = () => counter(cacheLookups, { cache: 'event', result: 'hit' });

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = process.hrtime.bigint();
  const result = await fn();
  return [result, Number(process.hrtime.bigint() - started) / 1e6];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function readMany(eventId: string, count: number): Promise<{ available: number[]; ms: number[] }> {
  const available: number[] = [];
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const [response, took] = await timed(() => call<{ available: number }>(`${api.url}/events/${eventId}`));
    expect(response.status).toBe(200);
    available.push(response.body.available);
    ms.push(took);
  }
  return { available, ms };
}

it('keeps serving reads and bookings while Redis is cut, and uses the cache again after the restore', async () => {
  const created = await call<{ id: string }>(`${api.url}/events`, { token: organizer, body: futureEvent({ capacity: 100 }) });
  const eventId = created.body.id;
  const hitsBefore = await eventHits();
  const baseline = await readMany(eventId, 30);
  expect((await eventHits()) - hitsBefore).toBeGreaterThanOrEqual(29);
  expect(baseline.available.every((a) => a === 100)).toBe(true);

  proxy.cut();
  const buyers = await Promise.all(Array.from({ length: 10 }, () => api.user()));
  const [bookings, bookingMs] = await timed(() =>
    Promise.all(buyers.map((b) => call(`${api.url}/events/${eventId}/bookings`, { token: b.token, body: { quantity: 2 } }))),
  );
  expect(bookings.map((b) => b.status)).toEqual(Array(10).fill(201));
  // served from PostgreSQL: the 20 seats just taken show at once, never the cached 100
  const during = await readMany(eventId, 30);
  expect(during.available.every((a) => a === 80)).toBe(true);

  const health = await call<{ status: string; checks: Record<string, string> }>(ready);
  expect(health).toMatchObject({ status: 200, body: { status: 'degraded', checks: { redis: 'degraded' } } });

  proxy.restore();
  await waitForRedis(api.url, 10_000);
  // the invalidations that could not reach Redis were kept and are flushed before any read
  const after = await readMany(eventId, 10);
  expect(after.available.every((a) => a === 80)).toBe(true);
  const hitsAfterRestore = await eventHits();
  await readMany(eventId, 10);
  expect((await eventHits()) - hitsAfterRestore).toBe(10);

  writeReport('redis-cut', {
    readMedianMsWithRedis: median(baseline.ms),
    readMedianMsWhileCut: median(during.ms),
    tenBookingsWhileCutMs: bookingMs,
  });
});

it('when Redis hangs, the breaker opens after 3 timeouts and requests stop paying for them', async () => {
  const created = await call<{ id: string }>(`${api.url}/events`, { token: organizer, body: futureEvent({ capacity: 10 }) });
  const eventId = created.body.id;
  const baseline = await readMany(eventId, 20);

  proxy.delay(1_000);
  // the first reads wait for the command timeout (100 ms per Redis call) until the breaker opens
  const opening = await readMany(eventId, 3);
  expect((await redisBreakerOpen.get()).values[0]!.value).toBe(1);
  const open = await readMany(eventId, 30);
  expect(open.available.every((a) => a === 10)).toBe(true);
  const buyer = await api.user();
  expect((await call(`${api.url}/events/${eventId}/bookings`, { token: buyer.token, body: { quantity: 1 } })).status).toBe(201);
  expect((await call<{ available: number }>(`${api.url}/events/${eventId}`)).body.available).toBe(9);

  proxy.delay(0);
  proxy.cut();
  proxy.restore();
  await waitForRedis(api.url, 10_000);
  expect((await redisBreakerOpen.get()).values[0]!.value).toBe(0);
  expect((await call<{ available: number }>(`${api.url}/events/${eventId}`)).body.available).toBe(9);

  writeReport('redis-hanging', {
    readMedianMsBefore: median(baseline.ms),
    readWorstMsWhileBreakerOpened: Math.max(...opening.ms),
    readMedianMsOnceOpen: median(open.ms),
  });
  // Had each of the 30 reads waited for the 100 ms command timeout, they would take 3 s at least.
  expect(open.ms.reduce((a, b) => a + b, 0)).toBeLessThan(30 * 100);
});

it('rate limits fall back to the in-process limiter while Redis is cut', async () => {
  await api.api.services.auth.register('outage@example.test', 'correct-password-1');
  const fallbacksBefore = await counter(rateLimitFallbacks, {});
  proxy.cut();
  const login = (password: string) => call(`${api.url}/auth/login`, { body: { email: 'outage@example.test', password } });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await login('wrong-password-9')).status);
  expect(statuses).toEqual([401, 401, 401, 429]);
  expect((await counter(rateLimitFallbacks, {})) - fallbacksBefore).toBeGreaterThanOrEqual(4);
});
