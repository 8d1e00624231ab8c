/**
 * The sold-out fast path against real Redis and PostgreSQL: once an event is sold out, further
 * attempts are refused from the seat marker without the booking statement; every release of
 * seats (cancel, capacity increase, hold expiry) ends the marker.
 */
import { RESERVE_BATCH_SQL, RESERVE_SQL } from '../../../src/adapters/postgres/bookings';
import { PostgresHoldExpiry } from '../../../src/adapters/postgres/expiry';
import { cacheLookups } from '../../../src/observability/metrics';
import { call, futureEvent, type TestApi } from '../../support/api';
import { writeReport } from '../../support/report';
import { deleteKeys, scanKeys, sleep, startRedisApi } from './helpers';

let api: TestApi & { prefix: string };
let organizer: string;

beforeAll(async () => {
  api = await startRedisApi({ RATE_LIMIT_WRITES: '0', RATE_LIMIT_ANON: '0', RATE_LIMIT_READS: '0', CACHE_SOLD_OUT_TTL: '60s' });
  organizer = (await api.user('organizer')).token;
});

afterAll(async () => {
  await api?.close();
  if (api) await deleteKeys(api.prefix);
});

/** Counts executions of a booking statement (single or batch) on the API's pool from now on. */
function countReserveStatements(): { count: () => number; stop: () => void } {
  const spy = jest.spyOn(api.db.pool, 'query');
  const isReserve = (query: unknown) => query === RESERVE_SQL || (query as { text?: unknown } | null)?.text === RESERVE_BATCH_SQL;
  return {
    count: () => spy.mock.calls.filter(([query]) => isReserve(query)).length,
    stop: () => spy.mockRestore(),
  };
}

async function event(capacity: number): Promise<string> {
  const created = await call<{ id: string }>(`${api.url}/events`, { token: organizer, body: futureEvent({ capacity }) });
  expect(created.status).toBe(201);
  return created.body.id;
}

const book = (token: string, eventId: string, quantity = 1, headers: Record<string, string> = {}) =>
  call<{ id: string; status: string; type?: string; detail?: string }>(`${api.url}/events/${eventId}/bookings`, {
    token,
    body: { quantity },
    headers,
  });

async function seats(eventId: string) {
  const { rows } = await api.db.pool.query<{ available: number; held: number; bookings: number }>(
    `SELECT e.available,
            (SELECT coalesce(sum(quantity), 0)::int FROM bookings b WHERE b.event_id = e.id AND b.status IN ('pending', 'confirmed')) AS held,
            (SELECT count(*)::int FROM bookings b WHERE b.event_id = e.id) AS bookings
       FROM events e WHERE e.id = $1`,
    [eventId],
  );
  return rows[0]!;
}

async function markerHits(): Promise<number> {
  const metric = await cacheLookups.get();
  return metric.values.find((v) => v.labels.cache === 'sold_out' && v.labels.result === 'hit')?.value ?? 0;
}

async function mapLimit<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await fn(i);
      }
    }),
  );
  return results;
}

it('after a sell-out, 1,000 further attempts are 409 and not one runs the booking statement', async () => {
  const eventId = await event(3);
  const buyers = await Promise.all(Array.from({ length: 20 }, () => api.user()));
  for (const buyer of buyers.slice(0, 3)) expect((await book(buyer.token, eventId)).status).toBe(201);
  // the first refusal asks PostgreSQL, and leaves the marker
  const first = await book(buyers[3]!.token, eventId);
  expect(first.status).toBe(409);
  expect(await scanKeys(api.prefix, `cache:val:event:${eventId}:seats`)).toHaveLength(1);

  const hitsBefore = await markerHits();
  const statements = countReserveStatements();
  const started = Date.now();
  const responses = await mapLimit(1_000, 25, (i) => book(buyers[i % buyers.length]!.token, eventId, 1 + (i % 3)));
  const elapsed = Date.now() - started;
  const executed = statements.count();
  statements.stop();

  expect(responses.map((r) => r.status).filter((s) => s !== 409)).toEqual([]);
  expect(responses.every((r) => String(r.body.type).endsWith('/sold-out'))).toBe(true);
  expect(executed).toBe(0);
  expect((await markerHits()) - hitsBefore).toBe(1_000);
  expect(await seats(eventId)).toEqual({ available: 0, held: 3, bookings: 3 });
  writeReport('redis-sold-out', { refusals: 1_000, elapsedMs: elapsed, bookingStatements: executed });
});

it('a cancel ends the marker: the released seat is bookable at once, and only once', async () => {
  const eventId = await event(2);
  const [a, b, c] = await Promise.all([api.user(), api.user(), api.user()]);
  const held = await book(a.token, eventId, 2);
  expect(held.status).toBe(201);
  expect((await book(b.token, eventId)).status).toBe(409);

  expect((await call(`${api.url}/bookings/${held.body.id}/cancel`, { token: a.token, method: 'POST' })).status).toBe(200);
  const statements = countReserveStatements();
  expect((await book(b.token, eventId, 2)).status).toBe(201);
  expect((await book(c.token, eventId)).status).toBe(409);
  // the booking, and the refusal twice: first under the remembered "no marker" (its stamp predates
  // the booking), then under a fresh probe, so the marker it leaves is stored (EventCache.seats)
  expect(statements.count()).toBe(3);
  statements.stop();
  expect(await seats(eventId)).toMatchObject({ available: 0, held: 2 });
});

it('a capacity increase ends the marker', async () => {
  const eventId = await event(1);
  const [a, b] = await Promise.all([api.user(), api.user()]);
  expect((await book(a.token, eventId)).status).toBe(201);
  expect((await book(b.token, eventId)).status).toBe(409);
  expect((await book(b.token, eventId)).status).toBe(409);
  const patched = await call(`${api.url}/events/${eventId}`, { method: 'PATCH', token: organizer, body: { capacity: 3 } });
  expect(patched).toMatchObject({ status: 200, body: { available: 2 } });
  expect((await book(b.token, eventId, 2)).status).toBe(201);
});

it('a partial marker refuses only larger requests: 2 seats left turns away 3, lets 2 through', async () => {
  const eventId = await event(5);
  const [a, b] = await Promise.all([api.user(), api.user()]);
  expect((await book(a.token, eventId, 3)).status).toBe(201);
  const refused = await book(b.token, eventId, 3);
  expect(refused.status).toBe(409);
  expect(refused.body.detail).toMatch(/only 2 seat/);
  const statements = countReserveStatements();
  expect((await book(b.token, eventId, 4)).status).toBe(409);
  expect(statements.count()).toBe(0);
  expect((await book(b.token, eventId, 2)).status).toBe(201);
  expect(statements.count()).toBe(1);
  statements.stop();
});

it('never outlives the earliest pending hold: once the sweeper expires it, the seat is bookable', async () => {
  const eventId = await event(1);
  const [a, b] = await Promise.all([api.user(), api.user()]);
  const hold = await book(a.token, eventId);
  expect(hold.status).toBe(201);
  await api.db.pool.query(`UPDATE bookings SET expires_at = now() + interval '700 milliseconds' WHERE id = $1`, [hold.body.id]);
  expect((await book(b.token, eventId)).status).toBe(409);
  const [markerKey] = await scanKeys(api.prefix, `cache:val:event:${eventId}:seats`);
  const { Redis } = await import('ioredis');
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const ttl = await redis.pttl(markerKey!);
  redis.disconnect();
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(700);

  await sleep(800);
  // the worker's sweep (another process in production) releases the seat; nothing tells the API
  expect(await new PostgresHoldExpiry(api.db.pool).expireDue(100)).toBe(1);
  expect((await book(b.token, eventId)).status).toBe(201);
});

it('an Idempotency-Key replay still returns the original booking after the sell-out', async () => {
  const eventId = await event(1);
  const [a, b] = await Promise.all([api.user(), api.user()]);
  const headers = { 'Idempotency-Key': `replay-${eventId}` };
  const original = await book(a.token, eventId, 1, headers);
  expect(original.status).toBe(201);
  expect((await book(b.token, eventId)).status).toBe(409);
  const replay = await book(a.token, eventId, 1, headers);
  expect(replay).toMatchObject({ status: 200, body: { id: original.body.id } });
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
});
