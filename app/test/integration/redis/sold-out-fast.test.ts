/**
 * The sold-out refusal of the pre-router stage (http/hot-requests.ts) against the normal path, on real
 * PostgreSQL and Redis: two APIs on one database and one Redis prefix, one with the fast refusal
 * and one without, asked the same questions with the same X-Request-Id. Their answers must be the
 * same bytes (Date aside); the fast one must not touch Redis or PostgreSQL, must count like the
 * normal one, must give way to 401, 400/413/415, an Idempotency-Key and a used-up writes limit,
 * and must stop refusing as soon as seats come back. Both follow the refusal-charge rule
 * (rate-limit.ts isFreeRefusal): a sold-out refusal costs no writes point.
 */
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { PostgresHoldExpiry } from '../../../src/adapters/postgres/expiry';
import { composeApi } from '../../../src/compose';
import { loadConfig, type Config } from '../../../src/config';
import { PRE_ROUTER_STAGE, type PreRouterStage } from '../../../src/http/hot-requests';
import { closeServer, listen } from '../../../src/http/server';
import { bookingOutcomes, cacheLookups, httpRequestDuration } from '../../../src/observability/metrics';
import { TEST_JWT_SECRET, call, futureEvent } from '../../support/api';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { deleteKeys, quietLogger, redisApiEnv, sleep, testKeyPrefix, waitForRedis } from './helpers';

const ALLOWED = 'https://tickets.example.test';
const ROUTE = '/api/v1/events/:id/bookings';

interface Api {
  /** http://127.0.0.1:port */
  origin: string;
  /** origin + /api/v1 */
  url: string;
  server: Server;
  composed: ReturnType<typeof composeApi>;
}

let db: TestDatabase;
let prefix: string;
let baseConfig: Config;
const started: Api[] = [];

async function start(config: Config, fastSoldOut = true): Promise<Api> {
  const composed = composeApi({
    pool: db.pool,
    config: { ...config, http: { ...config.http, fastSoldOut } } as Config,
    logger: quietLogger,
    jwtSecret: TEST_JWT_SECRET,
    health: [],
    metrics: new Registry(),
    isShuttingDown: () => false,
  });
  const { server, url } = await listen(composed.app, '127.0.0.1', 0);
  await waitForRedis(`${url}/api/v1`);
  const api = { origin: url, url: `${url}/api/v1`, server, composed };
  started.push(api);
  return api;
}

function configWith(env: Record<string, string>): Config {
  return loadConfig({
    ...redisApiEnv(db.url, prefix),
    CORS_ORIGINS: ALLOWED,
    RATE_LIMIT_ANON: '0',
    RATE_LIMIT_READS: '0',
    RATE_LIMIT_WRITES: '0',
    // nothing lapses while a case runs, unless the case says so
    CACHE_LOCAL_TTL: '60s',
    CACHE_SOLD_OUT_TTL: '10m',
    DB_POOL_MIN: '0',
    ...env,
  });
}

let fast: Api;
let normal: Api;
let organizer: string;

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 20 });
  prefix = testKeyPrefix();
  baseConfig = configWith({});
  fast = await start(baseConfig, true);
  normal = await start(baseConfig, false);
  organizer = (await user('organizer')).token;
});

afterAll(async () => {
  for (const api of started) {
    await closeServer(api.server);
    await api.composed.close();
  }
  await db?.drop();
  if (prefix) await deleteKeys(prefix);
});

async function user(role: 'user' | 'organizer' = 'user'): Promise<{ id: string; token: string }> {
  const email = `sof-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.test`;
  const created = await fast.composed.userStore.create({ email, passwordHash: 'not-a-login-account', role });
  return { id: created.id, token: fast.composed.accessTokens.sign({ userId: created.id, role, tokenVersion: 0 }).token };
}

async function event(capacity: number): Promise<string> {
  const created = await call<{ id: string }>(`${fast.url}/events`, { token: organizer, body: futureEvent({ capacity }) });
  expect(created.status).toBe(201);
  return created.body.id;
}

const book = (api: Api, token: string, eventId: string, quantity = 1, headers: Record<string, string> = {}) =>
  call<{ id: string; type?: string; detail?: string }>(`${api.url}/events/${eventId}/bookings`, { token, body: { quantity }, headers });

/** An event with no seat left; both APIs hold its seat marker in their process. */
async function soldOut(capacity = 1): Promise<string> {
  const eventId = await event(capacity);
  const buyer = await user();
  expect((await book(fast, buyer.token, eventId, capacity)).status).toBe(201);
  const other = await user();
  for (const api of [fast, normal]) expect((await book(api, other.token, eventId)).status).toBe(409);
  expect(fast.composed.services.bookings.mayRefuseEarly(eventId)).toBe(true);
  expect(normal.composed.services.bookings.mayRefuseEarly(eventId)).toBe(true);
  return eventId;
}

interface RawAnswer {
  status: number;
  /** Header lines as sent, in order (Date left out). */
  headers: string[];
  body: string;
}

/**
 * One request over node:http, with the answer's header lines in the order they were sent.
 * `bodyAfterMs`: the body is sent that long after the headers (a slow client).
 */
function raw(
  api: Api,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; bodyAfterMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.origin}${path}`, { method: options.method ?? 'POST', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const headers: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i]!.toLowerCase() !== 'date') headers.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        }
        resolve({ status: res.statusCode!, headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    if (options.bodyAfterMs === undefined) return void req.end(options.body);
    req.flushHeaders();
    setTimeout(() => req.end(options.body), options.bodyAfterMs);
  });
}

/** The same request to both APIs, same X-Request-Id. */
async function both(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  requestId = `req-${Math.random().toString(36).slice(2)}`,
) {
  const headers = { 'x-request-id': requestId, ...options.headers };
  return { fastAnswer: await raw(fast, path, { ...options, headers }), normalAnswer: await raw(normal, path, { ...options, headers }) };
}

/**
 * Calls the fast API and counts what it asked Redis (shared cache) and PostgreSQL meanwhile, and
 * how many requests reached the booking service (the normal path's route handler).
 */
async function withoutRoundTrips<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; cacheReads: number; statements: number; serviceCalls: number }> {
  const cacheGet = jest.spyOn(fast.composed.cache, 'get');
  const query = jest.spyOn(db.pool, 'query');
  const book = jest.spyOn(fast.composed.services.bookings, 'book');
  try {
    const result = await fn();
    return { result, cacheReads: cacheGet.mock.calls.length, statements: query.mock.calls.length, serviceCalls: book.mock.calls.length };
  } finally {
    cacheGet.mockRestore();
    query.mockRestore();
    book.mockRestore();
  }
}

const json = { 'content-type': 'application/json' };

describe('same answer as the normal path', () => {
  let eventId: string;
  let buyer: { id: string; token: string };
  const path = () => `/api/v1/events/${eventId}/bookings`;
  const bearer = () => ({ authorization: `Bearer ${buyer.token}` });

  beforeAll(async () => {
    eventId = await soldOut();
    buyer = await user();
    // its token version is read once (a user straight in the database never logged in)
    for (const api of [fast, normal]) expect((await call(`${api.url}/bookings`, { token: buyer.token })).status).toBe(200);
  });

  it('a refusal: the same bytes, without a Redis call or a statement', async () => {
    const { result, cacheReads, statements, serviceCalls } = await withoutRoundTrips(() =>
      raw(fast, path(), { headers: { ...json, ...bearer(), 'x-request-id': 'same-id' }, body: '{"quantity":1}' }),
    );
    const normalAnswer = await raw(normal, path(), {
      headers: { ...json, ...bearer(), 'x-request-id': 'same-id' },
      body: '{"quantity":1}',
    });
    expect(result.status).toBe(409);
    expect(result).toEqual(normalAnswer);
    expect(JSON.parse(result.body)).toEqual({
      type: 'https://goticket.dev/problems/sold-out',
      title: 'Sold out',
      status: 409,
      detail: 'the event is sold out',
      instance: path(),
    });
    expect(serviceCalls).toBe(0);
    expect(cacheReads).toBe(0);
    expect(statements).toBe(0);
  });

  it('is decided in front of Express: a refusal never enters the Express app, a request it may not refuse does', async () => {
    const stage = fast.composed.app.get(PRE_ROUTER_STAGE) as PreRouterStage;
    let entered = 0;
    const server = createServer((req, res) =>
      stage(req, res, () => {
        entered += 1;
        void fast.composed.app(req, res);
      }),
    );
    server.keepAliveTimeout = normal.server.keepAliveTimeout;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const counted = { ...fast, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
    try {
      const headers = { ...json, ...bearer(), 'x-request-id': 'in-front' };
      const refusal = await raw(counted, path(), { headers, body: '{"quantity":1}' });
      expect(refusal).toEqual(await raw(normal, path(), { headers, body: '{"quantity":1}' }));
      expect(refusal.status).toBe(409);
      expect(entered).toBe(0);
      // an Idempotency-Key is the normal path's (a replay must find its booking)
      const keyed = await raw(counted, path(), { headers: { ...headers, 'idempotency-key': 'in-front-key' }, body: '{"quantity":1}' });
      expect(keyed.status).toBe(409);
      expect(entered).toBe(1);
    } finally {
      await closeServer(server);
    }
  });

  it.each([
    ['a quantity above the bound', '{"quantity":10}', {}],
    ['an allowed Origin (CORS headers)', '{"quantity":2}', { origin: ALLOWED }],
    ['another Origin', '{"quantity":2}', { origin: 'https://elsewhere.example.test' }],
    ['a +json media type', '{"quantity":1}', { 'content-type': 'application/problem+json' }],
    ['a charset', '{"quantity":1}', { 'content-type': 'application/json; charset=utf-8' }],
    ['whitespace in the body', ' { "quantity" : 3 } ', {}],
  ])('a refusal with %s', async (_name, body, headers) => {
    const { fastAnswer, normalAnswer } = await both(path(), { headers: { ...json, ...bearer(), ...headers }, body });
    expect(fastAnswer.status).toBe(409);
    expect(fastAnswer).toEqual(normalAnswer);
  });

  it('a body that arrives late goes to the normal path (and its request timeout), with the same answer', async () => {
    const headers = { ...json, ...bearer(), 'content-length': '14', 'x-request-id': 'slow-body' };
    const { result, serviceCalls } = await withoutRoundTrips(() =>
      raw(fast, path(), { headers, body: '{"quantity":1}', bodyAfterMs: 100 }),
    );
    expect(serviceCalls).toBe(1);
    expect(result.status).toBe(409);
    expect(result).toEqual(await raw(normal, path(), { headers, body: '{"quantity":1}', bodyAfterMs: 100 }));
  });

  it('a query string and a trailing slash: the same instance (the path as sent)', async () => {
    for (const suffix of ['?x=1', '/']) {
      const { fastAnswer, normalAnswer } = await both(`${path()}${suffix}`, { headers: { ...json, ...bearer() }, body: '{"quantity":1}' });
      expect(fastAnswer.status).toBe(409);
      expect(fastAnswer).toEqual(normalAnswer);
    }
  });

  it.each([
    ['no token', {}, '{"quantity":1}', 401],
    ['a malformed Authorization header', { authorization: 'Basic abc' }, '{"quantity":1}', 401],
    [
      'a token signed with another key',
      { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' },
      '{"quantity":1}',
      401,
    ],
    ['quantity 0', 'bearer', '{"quantity":0}', 400],
    ['quantity 11', 'bearer', '{"quantity":11}', 400],
    ['a quantity as text', 'bearer', '{"quantity":"1"}', 400],
    ['a fractional quantity', 'bearer', '{"quantity":1.5}', 400],
    ['no quantity', 'bearer', '{}', 400],
    ['an unknown field', 'bearer', '{"quantity":1,"available":99}', 400],
    ['an array body', 'bearer', '[1]', 400],
    ['malformed JSON', 'bearer', '{"quantity":', 400],
    ['an empty body', 'bearer', '', 400],
    ['a body past BODY_LIMIT', 'bearer', JSON.stringify({ quantity: 1, pad: 'x'.repeat(200_000) }), 413],
  ])('%s: the normal answer (%#)', async (_name, auth, body, status) => {
    const headers = { ...json, ...(auth === 'bearer' ? bearer() : (auth as Record<string, string>)) };
    const { fastAnswer, normalAnswer } = await both(path(), { headers, body });
    expect(fastAnswer.status).toBe(status);
    expect(fastAnswer).toEqual(normalAnswer);
  });

  it('a body that is not JSON: 415, as on the normal path', async () => {
    const { fastAnswer, normalAnswer } = await both(path(), { headers: { ...bearer(), 'content-type': 'text/plain' }, body: 'quantity=1' });
    expect(fastAnswer.status).toBe(415);
    expect(fastAnswer).toEqual(normalAnswer);
  });

  it('a revoked token (logout everywhere) is 401, not 409', async () => {
    // one user per API, each revoked through its own API (another replica would see it within CACHE_LOCAL_TTL)
    const answers: RawAnswer[] = [];
    for (const api of [fast, normal]) {
      const revoked = await user();
      const headers = { ...json, authorization: `Bearer ${revoked.token}`, 'x-request-id': 'revoked' };
      expect((await raw(api, path(), { headers, body: '{"quantity":1}' })).status).toBe(409);
      expect((await call(`${api.url}/auth/logout-all`, { method: 'POST', token: revoked.token })).status).toBe(204);
      answers.push(await raw(api, path(), { headers, body: '{"quantity":1}' }));
    }
    expect(answers[0]!.status).toBe(401);
    expect(answers[0]).toEqual(answers[1]);
  });

  it('counts like the normal path: booking outcome sold_out, a marker hit, the duration under the route template', async () => {
    const counts = async () => ({
      soldOut: (await bookingOutcomes.get()).values.find((v) => v.labels.outcome === 'sold_out')?.value ?? 0,
      hits: (await cacheLookups.get()).values.find((v) => v.labels.cache === 'sold_out' && v.labels.result === 'hit')?.value ?? 0,
      durations:
        (await httpRequestDuration.get()).values.find(
          (v) =>
            v.metricName === 'http_request_duration_seconds_count' &&
            v.labels.route === ROUTE &&
            v.labels.method === 'POST' &&
            v.labels.status === '409',
        )?.value ?? 0,
    });
    const before = await counts();
    const { statements, serviceCalls } = await withoutRoundTrips(async () => {
      for (let i = 0; i < 5; i++) expect((await book(fast, buyer.token, eventId)).status).toBe(409);
    });
    expect(serviceCalls).toBe(0);
    expect(statements).toBe(0);
    expect(await counts()).toEqual({ soldOut: before.soldOut + 5, hits: before.hits + 5, durations: before.durations + 5 });
  });
});

describe('Idempotency-Key requests keep the normal path', () => {
  it('a replay after the sell-out returns the original booking; a new key is refused by PostgreSQL', async () => {
    const eventId = await event(1);
    const [a, b] = [await user(), await user()];
    const key = { 'Idempotency-Key': `fast-${eventId}` };
    const original = await book(fast, a.token, eventId, 1, key);
    expect(original.status).toBe(201);
    expect((await book(fast, b.token, eventId)).status).toBe(409);
    expect(fast.composed.services.bookings.mayRefuseEarly(eventId)).toBe(true);

    const replay = await book(fast, a.token, eventId, 1, key);
    expect(replay).toMatchObject({ status: 200, body: { id: original.body.id } });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const { result, statements } = await withoutRoundTrips(() => book(fast, b.token, eventId, 1, { 'Idempotency-Key': `new-${eventId}` }));
    expect(result.status).toBe(409);
    expect(statements).toBeGreaterThan(0);
  });
});

describe('seats coming back end the refusals', () => {
  it('a cancel through this process: the next request books', async () => {
    const eventId = await event(1);
    const [a, b] = [await user(), await user()];
    const held = await book(fast, a.token, eventId);
    expect((await book(fast, b.token, eventId)).status).toBe(409);
    expect((await book(fast, b.token, eventId)).status).toBe(409);
    expect((await call(`${fast.url}/bookings/${held.body.id}/cancel`, { method: 'POST', token: a.token })).status).toBe(200);
    expect(fast.composed.services.bookings.mayRefuseEarly(eventId)).toBe(false);
    expect((await book(fast, b.token, eventId)).status).toBe(201);
  });

  it('whatever the case of the id: a marker learnt through an upper-case id ends with the cancel too', async () => {
    const eventId = await event(1);
    const upper = eventId.toUpperCase();
    const [a, b] = [await user(), await user()];
    const held = await book(fast, a.token, upper);
    expect(held.status).toBe(201);
    expect((await book(fast, b.token, upper)).status).toBe(409);
    expect(fast.composed.services.bookings.mayRefuseEarly(eventId)).toBe(true);
    expect((await call(`${fast.url}/bookings/${held.body.id}/cancel`, { method: 'POST', token: a.token })).status).toBe(200);
    expect(fast.composed.services.bookings.mayRefuseEarly(upper)).toBe(false);
    expect((await book(fast, b.token, upper)).status).toBe(201);
  });

  it('a capacity increase through this process: the next request books', async () => {
    const eventId = await event(1);
    const [a, b] = [await user(), await user()];
    expect((await book(fast, a.token, eventId)).status).toBe(201);
    expect((await book(fast, b.token, eventId)).status).toBe(409);
    expect((await call(`${fast.url}/events/${eventId}`, { method: 'PATCH', token: organizer, body: { capacity: 3 } })).status).toBe(200);
    expect((await book(fast, b.token, eventId, 2)).status).toBe(201);
  });

  it('the earliest hold lapsing: the copy goes with the shared marker, before the sweeper can release the seat', async () => {
    const eventId = await event(1);
    const [a, b] = [await user(), await user()];
    const hold = await book(fast, a.token, eventId);
    await db.pool.query(`UPDATE bookings SET expires_at = now() + interval '600 milliseconds' WHERE id = $1`, [hold.body.id]);
    // learnt by the other API (it writes the shared marker), copied here from Redis, then answered here
    expect((await book(normal, b.token, eventId)).status).toBe(409);
    expect((await book(fast, b.token, eventId)).status).toBe(409);
    expect(fast.composed.services.bookings.mayRefuseEarly(eventId)).toBe(true);
    await sleep(700);
    expect(fast.composed.services.bookings.mayRefuseEarly(eventId)).toBe(false);
    expect(await new PostgresHoldExpiry(db.pool).expireDue(100)).toBe(1);
    expect((await book(fast, b.token, eventId)).status).toBe(201);
  });

  it('a cancel through another replica: refused here for CACHE_LOCAL_TTL at most', async () => {
    const replicaConfig = configWith({ CACHE_LOCAL_TTL: '300ms' });
    const here = await start(replicaConfig, true);
    const there = await start(replicaConfig, true);
    const eventId = await event(1);
    const [a, b] = [await user(), await user()];
    const held = await book(here, a.token, eventId);
    expect((await book(here, b.token, eventId)).status).toBe(409);
    expect((await call(`${there.url}/bookings/${held.body.id}/cancel`, { method: 'POST', token: a.token })).status).toBe(200);
    await sleep(350);
    expect((await book(here, b.token, eventId)).status).toBe(201);
  });

  it('never books from a stale marker: a bound that is too high lets the request reach PostgreSQL, which refuses', async () => {
    const eventId = await event(4);
    const [a, b, c] = [await user(), await user(), await user()];
    expect((await book(fast, a.token, eventId, 2)).status).toBe(201);
    const refused = await book(fast, b.token, eventId, 3);
    expect(refused).toMatchObject({ status: 409, body: { detail: 'only 2 seat(s) left' } });
    // the last two seats go through the other API: this process's copy still says 2
    expect((await book(normal, c.token, eventId, 2)).status).toBe(201);
    expect(fast.composed.services.bookings.refusalFromMarker(eventId, 2)).toBeNull();
    const { result, statements } = await withoutRoundTrips(() => book(fast, b.token, eventId, 2));
    expect(result).toMatchObject({ status: 409, body: { detail: 'the event is sold out' } });
    expect(statements).toBeGreaterThan(0);
    const { rows } = await db.pool.query<{ available: number; held: number }>(
      `SELECT e.available, (SELECT coalesce(sum(quantity), 0)::int FROM bookings WHERE event_id = e.id AND status IN ('pending', 'confirmed')) AS held FROM events e WHERE e.id = $1`,
      [eventId],
    );
    expect(rows[0]).toEqual({ available: 0, held: 4 });
  });
});

describe('with the writes limit on', () => {
  let limited: Api;

  beforeAll(async () => {
    limited = await start(configWith({ RATE_LIMIT_WRITES: '5', RATE_LIMIT_WRITES_WINDOW: '1h' }), true);
  });

  const limitHeaders = (response: { headers: Headers }) =>
    Object.fromEntries(['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-policy'].map((name) => [name, response.headers.get(name)]));

  it('a refusal takes no point and shows the limit as this process last saw it', async () => {
    const eventId = await soldOut();
    const buyer = await user();
    const first = await book(limited, buyer.token, eventId); // asks the limiter: 1 of 5 taken, then given back
    expect(first.status).toBe(409);
    expect(limitHeaders(first)).toEqual({ 'ratelimit-limit': '5', 'ratelimit-remaining': '5', 'ratelimit-policy': '5;w=3600' });
    for (let i = 0; i < 10; i++) {
      const again = await book(limited, buyer.token, eventId);
      expect(again.status).toBe(409);
      expect(limitHeaders(again)).toEqual(limitHeaders(first));
      expect(Number(again.headers.get('ratelimit-reset'))).toBeLessThanOrEqual(Number(first.headers.get('ratelimit-reset')));
    }
    // the next write that reaches the limiter finds all 5 points left
    const open = await event(10);
    expect(limitHeaders(await book(limited, buyer.token, open))).toMatchObject({ 'ratelimit-remaining': '4' });
  });

  // Fails on the old code: the normal path charged every sold-out refusal (the sixth was a 429).
  it('the same rule on the normal path: a sold-out refusal gives its point back before it answers', async () => {
    const limitedNormal = await start(configWith({ RATE_LIMIT_WRITES: '5', RATE_LIMIT_WRITES_WINDOW: '1h' }), false);
    const eventId = await soldOut();
    const buyer = await user();
    const book409 = jest.spyOn(limitedNormal.composed.services.bookings, 'book');
    try {
      for (let i = 0; i < 10; i++) {
        const refused = await book(limitedNormal, buyer.token, eventId);
        expect(refused.status).toBe(409);
        expect(limitHeaders(refused)).toEqual({ 'ratelimit-limit': '5', 'ratelimit-remaining': '5', 'ratelimit-policy': '5;w=3600' });
      }
      // every one went the whole normal way (limiter, route, service)
      expect(book409).toHaveBeenCalledTimes(10);
    } finally {
      book409.mockRestore();
    }
    const open = await event(10);
    expect(limitHeaders(await book(limitedNormal, buyer.token, open))).toMatchObject({ 'ratelimit-remaining': '4' });
  });

  it('other refusals keep their point (an invalid body asked for work that was done)', async () => {
    const eventId = await soldOut();
    const buyer = await user();
    const refused = await book(limited, buyer.token, eventId, 11);
    expect(refused.status).toBe(400);
    expect(limitHeaders(refused)).toMatchObject({ 'ratelimit-remaining': '4' });
  });

  it('the same bytes as a refusal on the normal path at the same count (RateLimit-Reset within a second)', async () => {
    const limitedNormal = await start(configWith({ RATE_LIMIT_WRITES: '5', RATE_LIMIT_WRITES_WINDOW: '1h' }), false);
    const eventId = await soldOut();
    const [viaFast, viaNormal] = [await user(), await user()];
    const request = (api: Api, token: string) =>
      raw(api, `/api/v1/events/${eventId}/bookings`, {
        headers: { ...json, authorization: `Bearer ${token}`, 'x-request-id': 'limited' },
        body: '{"quantity":1}',
      });
    expect((await request(limited, viaFast.token)).status).toBe(409); // the limiter's first point, given back: 5 left
    const fastAnswer = await request(limited, viaFast.token); // answered from the marker: still 5 left
    const normalAnswer = await request(limitedNormal, viaNormal.token); // the limiter's first point, given back: 5 left
    const reset = (answer: RawAnswer) => Number(answer.headers.find((line) => line.startsWith('RateLimit-Reset: '))!.split(': ')[1]);
    expect(Math.abs(reset(fastAnswer) - reset(normalAnswer))).toBeLessThanOrEqual(1);
    const withoutReset = (answer: RawAnswer) => ({
      ...answer,
      headers: answer.headers.map((line) => (line.startsWith('RateLimit-Reset: ') ? 'RateLimit-Reset: n' : line)),
    });
    expect(fastAnswer.headers).toContain('RateLimit-Remaining: 5');
    expect(withoutReset(fastAnswer)).toEqual(withoutReset(normalAnswer));
  });

  it('a used-up limit still answers 429, not 409', async () => {
    const eventId = await soldOut();
    const open = await event(10);
    const buyer = await user();
    for (let i = 0; i < 5; i++) expect((await book(limited, buyer.token, open)).status).toBe(201);
    const refused = await book(limited, buyer.token, eventId);
    expect(refused.status).toBe(429);
    expect(refused.body.type).toMatch(/\/rate-limited$/);
  });
});
