/**
 * The hot-request stage's cached reads (GET/HEAD /api/v1/events/:id answered from the in-process copy, before
 * of Express) against the normal Express path, on real PostgreSQL and Redis: two APIs on one
 * database and one Redis prefix, one with the fast path and one without, asked the same
 * questions. Each case uses its own client address per API (X-Forwarded-For, trusted from
 * loopback), so both anonymous budgets are at the same count and RateLimit-* compare equal.
 */
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { composeApi } from '../../../src/compose';
import { loadConfig, type Config } from '../../../src/config';
import { closeServer, listen } from '../../../src/http/server';
import { createLogger } from '../../../src/observability/logger';
import { httpRequestDuration } from '../../../src/observability/metrics';
import { TEST_JWT_SECRET, futureEvent } from '../../support/api';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { TEST_REDIS_URL } from '../../support/env';
import { deleteKeys, redisApiEnv, testKeyPrefix, waitForRedis } from './helpers';

const ALLOWED = 'https://tickets.example.test';
const ROUTE = '/api/v1/events/:id';

interface Api {
  url: string;
  server: Server;
  composed: ReturnType<typeof composeApi>;
  logs: Array<Record<string, unknown>>;
}

let db: TestDatabase;
let prefix: string;
let fast: Api;
let normal: Api;
let eventId: string;
let organizerToken: string;

async function start(config: Config): Promise<Api> {
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const composed = composeApi({
    pool: db.pool,
    config,
    logger,
    jwtSecret: TEST_JWT_SECRET,
    health: [],
    metrics: new Registry(),
    isShuttingDown: () => false,
  });
  const { server, url } = await listen(composed.app, '127.0.0.1', 0);
  await waitForRedis(`${url}/api/v1`);
  return { url: `${url}/api/v1`, server, composed, logs };
}

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 10 });
  prefix = testKeyPrefix();
  const config = loadConfig({
    ...redisApiEnv(db.url, prefix),
    CORS_ORIGINS: ALLOWED,
    TRUST_PROXY: 'loopback',
    RATE_LIMIT_ANON: '1000',
    // nothing expires while the file runs
    CACHE_TTL: '1h',
    CACHE_LOCAL_TTL: '60s',
    ACCESS_LOG_CACHED_READ_EVERY: '1',
  });
  fast = await start(config);
  normal = await start({ ...config, http: { ...config.http, fastReads: false } } as Config);

  const organizer = await fast.composed.userStore.create({
    email: 'organizer@fast-reads.test',
    passwordHash: 'not-a-login-account',
    role: 'organizer',
  });
  organizerToken = fast.composed.accessTokens.sign({ userId: organizer.id, role: 'organizer', tokenVersion: 0 }).token;
  eventId = await createEvent();
  // loaded into the shared cache, then copied into the fast API's process
  for (let i = 0; i < 2; i++) expect((await get(fast, `/events/${eventId}`, { 'X-Forwarded-For': '192.0.2.1' })).status).toBe(200);
});

afterAll(async () => {
  for (const api of [fast, normal]) {
    if (!api) continue;
    await closeServer(api.server);
    await api.composed.close();
  }
  await db?.drop();
  if (prefix) await deleteKeys(prefix);
});

async function createEvent(): Promise<string> {
  const response = await fetch(`${normal.url}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${organizerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(futureEvent({ name: 'Fast path gig', capacity: 50 })),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function get(api: Api, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  // fetch() adds Cache-Control: no-cache to a request with If-None-Match (which forbids a 304) unless one is given
  const conditional: Record<string, string> = Object.keys(headers).some((name) => name.toLowerCase() === 'if-none-match')
    ? { 'Cache-Control': 'max-age=0' }
    : {};
  const response = await fetch(`${api.url}${path}`, { method, headers: { ...conditional, ...headers } });
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

let nextCase = 1;

/**
 * The same request to both APIs, each from a client address of its own that has made one
 * request before (so the fast API holds a lease for it, as for any client past its first
 * request). Reports whether the fast API's answer came from the route (else: the hot-request stage).
 */
async function both(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const n = nextCase++;
  const from = { fast: `203.0.113.${n}`, normal: `198.51.100.${n}` };
  await get(fast, `/events/${eventId}`, { 'X-Forwarded-For': from.fast });
  await get(normal, `/events/${eventId}`, { 'X-Forwarded-For': from.normal });
  const router = jest.spyOn(fast.composed.services.events, 'getJson');
  try {
    const fastAnswer = await get(fast, path, { ...headers, 'X-Forwarded-For': from.fast }, method);
    const viaRoute = router.mock.calls.length > 0;
    const normalAnswer = await get(normal, path, { ...headers, 'X-Forwarded-For': from.normal }, method);
    return { fast: fastAnswer, normal: normalAnswer, viaRoute };
  } finally {
    router.mockRestore();
  }
}

/** Everything but Date and X-Request-Id, and RateLimit-Reset (whole seconds left, read at slightly different moments). */
function comparable(answer: Answer, keep: string[] = []) {
  const headers = Object.entries(answer.headers).filter(
    ([name]) => !['date', 'x-request-id', 'ratelimit-reset'].includes(name) || keep.includes(name),
  );
  return { status: answer.status, body: answer.body, headers: Object.fromEntries(headers) };
}

function expectSameAnswer(pair: { fast: Answer; normal: Answer }, keep: string[] = []) {
  expect(comparable(pair.fast, keep)).toEqual(comparable(pair.normal, keep));
  expect(Boolean(pair.fast.headers['x-request-id'])).toBe(true);
  const resets = [pair.fast, pair.normal].map((answer) => answer.headers['ratelimit-reset']);
  if (resets[0] === undefined) expect(resets[1]).toBeUndefined();
  else expect(Math.abs(Number(resets[0]) - Number(resets[1]))).toBeLessThanOrEqual(1);
}

describe('answers exactly like the Express path', () => {
  it('a cache hit: same status, body and headers (helmet, RateLimit-*, content type and length), without Express', async () => {
    const pair = await both(`/events/${eventId}`);
    expect(pair.viaRoute).toBe(false);
    expect(pair.fast.status).toBe(200);
    expect(JSON.parse(pair.fast.body)).toMatchObject({ id: eventId, name: 'Fast path gig', capacity: 50, available: 50 });
    expect(pair.fast.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'content-security-policy': expect.stringContaining("default-src 'self'"),
      'strict-transport-security': expect.stringMatching(/max-age=/),
      'x-content-type-options': 'nosniff',
      'ratelimit-limit': '1000',
      'ratelimit-remaining': '998',
      'ratelimit-policy': '1000;w=60',
    });
    expectSameAnswer(pair);
  });

  it('an anonymous hit is answered in front of Express (the stage createApp declares; Express is not entered)', async () => {
    const from = { 'X-Forwarded-For': '192.0.2.77' };
    // a client's first request takes its lease through the limiter, in Express
    expect((await get(fast, `/events/${eventId}`, from)).status).toBe(200);
    const entry = jest.spyOn(fast.composed.app as unknown as { handle: () => void }, 'handle');
    try {
      for (let i = 0; i < 3; i++) expect((await get(fast, `/events/${eventId}`, from)).status).toBe(200);
      expect(entry).not.toHaveBeenCalled();
      // a request the stage leaves alone does enter it
      expect((await get(fast, '/events')).status).toBe(200);
      expect(entry).toHaveBeenCalled();
    } finally {
      entry.mockRestore();
    }
  });

  it('HEAD of a hit: the same headers (Content-Length of the body) and no body', async () => {
    const pair = await both(`/events/${eventId}`, {}, 'HEAD');
    expect(pair.viaRoute).toBe(false);
    expect(pair.fast.body).toBe('');
    expect(Number(pair.fast.headers['content-length'])).toBeGreaterThan(100);
    expectSameAnswer(pair);
  });

  it('a miss (an event this process holds no copy of) goes through Express, with the same answer', async () => {
    const other = await createEvent();
    const pair = await both(`/events/${other}`);
    expect(pair.viaRoute).toBe(true);
    expect(pair.fast.status).toBe(200);
    expectSameAnswer(pair);
  });

  it('an unknown id: the same 404 problem', async () => {
    const pair = await both('/events/6f1c2b8e-3d4a-4b5c-9d6e-7f8a9b0c1d2e');
    expect(pair.viaRoute).toBe(true);
    expect(pair.fast.status).toBe(404);
    expect(pair.fast.headers['content-type']).toContain('application/problem+json');
    expectSameAnswer(pair);
  });

  it.each(['not-a-uuid', `${'0'.repeat(36)}`, '6f1c2b8e-3d4a-4b5c-9d6e-7f8a9b0c1d2', `${'x'.repeat(36)}`])(
    'a malformed id (%s): the same 400 problem',
    async (id) => {
      const pair = await both(`/events/${id}`);
      expect(pair.fast.status).toBe(400);
      expectSameAnswer(pair);
    },
  );

  it('sends an ETag and a Cache-Control suited to CACHE_TTL; another tag in If-None-Match: the full 200 on both', async () => {
    const pair = await both(`/events/${eventId}`, { 'If-None-Match': '"some-etag"' });
    expect(pair.viaRoute).toBe(false);
    expect(pair.fast.status).toBe(200);
    expect(pair.fast.headers.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(pair.fast.headers['cache-control']).toBe('public, max-age=3600');
    expectSameAnswer(pair);
  });

  it.each([
    ['the current ETag', 'current'],
    ['the current ETag among others', 'list'],
    ['*', '*'],
  ])('If-None-Match with %s: 304 without a body on both, validators again', async (_name, which) => {
    const { etag } = (await get(fast, `/events/${eventId}`, { 'X-Forwarded-For': '192.0.2.3' })).headers;
    const tag = which === 'current' ? etag! : which === 'list' ? `"other", ${etag}` : '*';
    const pair = await both(`/events/${eventId}`, { 'If-None-Match': tag });
    expect(pair.viaRoute).toBe(false);
    expect(pair.fast.status).toBe(304);
    expect(pair.fast.body).toBe('');
    expect(pair.fast.headers).toMatchObject({ etag, 'cache-control': 'public, max-age=3600' });
    expect(pair.fast.headers['content-length']).toBeUndefined();
    expectSameAnswer(pair);
  });

  it('a changed event gets a new ETag: the old one is answered in full', async () => {
    const other = await createEvent();
    const before = await get(normal, `/events/${other}`);
    const patched = await fetch(`${normal.url}/events/${other}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${organizerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Changed gig' }),
    });
    expect(patched.status).toBe(200);
    const after = await get(normal, `/events/${other}`, { 'If-None-Match': before.headers.etag! });
    expect(after.status).toBe(200);
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect((await get(normal, `/events/${other}`, { 'If-None-Match': after.headers.etag! })).status).toBe(304);
  });

  it('list pages are conditional too', async () => {
    const page = await get(normal, '/events?limit=5');
    expect(page.status).toBe(200);
    expect(page.headers.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(page.headers['cache-control']).toBe('public, max-age=3600');
    const again = await get(normal, '/events?limit=5', { 'If-None-Match': page.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect((await get(normal, '/events?limit=1', { 'If-None-Match': page.headers.etag! })).status).toBe(200); // another page
    // a client that asks for a fresh answer gets one
    expect((await get(normal, '/events?limit=5', { 'If-None-Match': page.headers.etag!, 'Cache-Control': 'no-cache' })).status).toBe(200);
  });

  it('an allowed Origin gets the same CORS headers; another Origin gets none', async () => {
    const allowed = await both(`/events/${eventId}`, { Origin: ALLOWED });
    expect(allowed.viaRoute).toBe(false);
    expect(allowed.fast.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(allowed.fast.headers.vary).toBe('Origin');
    expectSameAnswer(allowed);
    const other = await both(`/events/${eventId}`, { Origin: 'https://evil.example.test' });
    expect(other.viaRoute).toBe(false);
    expect(other.fast.headers['access-control-allow-origin']).toBeUndefined();
    expectSameAnswer(other);
  });

  it('returns a sane X-Request-Id as given and replaces a bad one', async () => {
    const given = await both(`/events/${eventId}`, { 'X-Request-Id': 'trace-me.42:a_b-c' });
    expect(given.viaRoute).toBe(false);
    expect(given.fast.headers['x-request-id']).toBe('trace-me.42:a_b-c');
    expectSameAnswer(given, ['x-request-id']);
    const bad = await both(`/events/${eventId}`, { 'X-Request-Id': 'no spaces allowed' });
    expect(bad.fast.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expectSameAnswer(bad);
  });

  it('ignores a query string, as the route does', async () => {
    const pair = await both(`/events/${eventId}?utm_source=mail&x=1`);
    expect(pair.viaRoute).toBe(false);
    expectSameAnswer(pair);
  });

  it('answers a signed-in reader too, charged to the user’s reads limit by the function the normal path charges it with (issue 17, point 5)', async () => {
    // a reader per API (the two share Redis): each API's first read takes the user's lease, the second is answered from it
    const readers = [];
    for (const n of [1, 2]) {
      const user = await fast.composed.userStore.create({
        email: `reader${n}-${nextCase}@fast-reads.test`,
        passwordHash: 'not-a-login-account',
        role: 'user',
      });
      readers.push({
        Authorization: `Bearer ${fast.composed.accessTokens.sign({ userId: user.id, role: 'user', tokenVersion: 0 }).token}`,
      });
    }
    const path = `/events/${eventId}`;
    expect((await get(fast, path, readers[0])).status).toBe(200);
    expect((await get(normal, path, readers[1])).status).toBe(200);
    const router = jest.spyOn(fast.composed.services.events, 'getJson');
    try {
      const pair = { fast: await get(fast, path, readers[0]), normal: await get(normal, path, readers[1]) };
      expect(router).not.toHaveBeenCalled();
      expect(pair.fast.headers).toMatchObject({
        'ratelimit-limit': '1200',
        'ratelimit-remaining': '1198',
        'ratelimit-policy': '1200;w=60',
      });
      expectSameAnswer(pair);
    } finally {
      router.mockRestore();
    }
  });

  it('a bad token reads as anonymous on both (a public route ignores it), with the anonymous limit', async () => {
    const pair = await both(`/events/${eventId}`, { Authorization: 'Bearer not.a.token' });
    expect(pair.viaRoute).toBe(false);
    expect(pair.fast.status).toBe(200);
    expect(pair.fast.headers['ratelimit-limit']).toBe('1000');
    expectSameAnswer(pair);
  });

  it('leaves other paths and methods to the routes', async () => {
    for (const [path, method] of [
      [`/events/${eventId}/`, 'GET'],
      [`/events/${eventId}`, 'OPTIONS'],
      [`/events/${eventId}`, 'DELETE'],
      [`/EVENTS/${eventId}`, 'GET'],
    ] as const) {
      const pair = await both(path, {}, method);
      expect(pair.viaRoute).toBe(method === 'GET');
      expectSameAnswer(pair);
    }
  });
});

describe('what a production response needs besides the bytes', () => {
  const count = async () =>
    (await httpRequestDuration.get()).values.find(
      (v) =>
        v.metricName === 'http_request_duration_seconds_count' &&
        v.labels.route === ROUTE &&
        v.labels.method === 'GET' &&
        v.labels.status === '200',
    )?.value ?? 0;

  it('observes http_request_duration_seconds with the route template', async () => {
    const before = await count();
    const pair = await both(`/events/${eventId}`);
    expect(pair.viaRoute).toBe(false);
    // one from the warm-up request of each API, one from each compared request
    expect((await count()) - before).toBe(4);
  });

  it('writes the same access-log line as the Express path', async () => {
    const pair = await both(`/events/${eventId}`, { 'X-Request-Id': 'access-log-check' });
    expect(pair.viaRoute).toBe(false);
    const line = (api: Api) => api.logs.filter((entry) => entry.request_id === 'access-log-check' && entry.msg === 'request');
    // Express logs on 'finish', which may come just after the client has the answer
    for (let i = 0; i < 1_000 && line(normal).length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    const [fastLine] = line(fast);
    const [normalLine] = line(normal);
    expect(line(fast)).toHaveLength(1);
    expect(line(normal)).toHaveLength(1);
    expect(fastLine).toMatchObject({
      level: 'info',
      method: 'GET',
      route: ROUTE,
      status: 200,
      ip: expect.stringMatching(/^203\.0\.113\./),
    });
    expect(Object.keys(fastLine!).sort()).toEqual(Object.keys(normalLine!).sort());
    const { ip: _a, duration_ms: _b, time: _c, pid: _d, ...fastRest } = fastLine!;
    const { ip: _e, duration_ms: _f, time: _g, pid: _h, ...normalRest } = normalLine!;
    expect(fastRest).toEqual(normalRest);
  });

  it('counts requests against the same anonymous budget as the Express path (one lease, one count)', async () => {
    const from = '203.0.113.250';
    const remaining = [];
    for (let i = 0; i < 4; i++)
      remaining.push((await get(fast, `/events/${eventId}`, { 'X-Forwarded-For': from })).headers['ratelimit-remaining']);
    remaining.push((await get(fast, '/events', { 'X-Forwarded-For': from })).headers['ratelimit-remaining']);
    expect(remaining).toEqual(['999', '998', '997', '996', '995']);
  });

  it('stops serving its copy as soon as this process changes the event', async () => {
    const patched = await fetch(`${fast.url}/events/${eventId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${organizerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Renamed gig' }),
    });
    expect(patched.status).toBe(200);
    // (the other API is another replica: its copy shows the change within CACHE_LOCAL_TTL)
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await get(fast, `/events/${eventId}`, { 'X-Forwarded-For': '192.0.2.2' }));
    expect(answers.map((answer) => (JSON.parse(answer.body) as { name: string }).name)).toEqual([
      'Renamed gig',
      'Renamed gig',
      'Renamed gig',
    ]);
    expect(answers[2]!.body).toBe(await patched.text());
  });
});

describe('refusals', () => {
  it('answers 429 exactly like the Express path once the anonymous budget is spent', async () => {
    const small = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      REDIS_COMMAND_TIMEOUT: '2s',
      TRUST_PROXY: 'loopback',
      RATE_LIMIT_ANON: '3',
      CACHE_TTL: '1h',
      CACHE_LOCAL_TTL: '60s',
    });
    const apis = [await start(small), await start({ ...small, http: { ...small.http, fastReads: false } } as Config)];
    try {
      const answers: Answer[][] = [];
      for (const [i, api] of apis.entries()) {
        const from = `198.18.0.${i + 1}`;
        const sequence = [];
        for (let n = 0; n < 5; n++) sequence.push(await get(api, `/events/${eventId}`, { 'X-Forwarded-For': from }));
        answers.push(sequence);
      }
      expect(answers[0]!.map((a) => a.status)).toEqual([200, 200, 200, 429, 429]);
      answers[0]!.forEach((answer, n) => expectSameAnswer({ fast: answer, normal: answers[1]![n]! }));
      expect(answers[0]![3]!.headers['retry-after']).toBeDefined();
    } finally {
      for (const api of apis) {
        await closeServer(api.server);
        await api.composed.close();
      }
    }
  });
});
