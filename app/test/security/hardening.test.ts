/**
 * Transport hardening on the real API: security headers, the CORS allow-list, the request
 * deadline, body limits and PostgreSQL's statement_timeout.
 */
import { createPool } from '../../src/adapters/postgres/pool';
import { call, futureEvent, type TestApi } from '../support/api';
import { graphqlUrl } from '../support/graphql';
import { deleteKeys, startRedisApi } from '../integration/redis/helpers';

let api: TestApi & { prefix: string };
const ALLOWED = 'https://tickets.example.test';

beforeAll(async () => {
  api = await startRedisApi({
    CORS_ORIGINS: `${ALLOWED}, https://admin.example.test`,
    REQUEST_TIMEOUT: '300ms',
    RATE_LIMIT_ANON: '0',
    RATE_LIMIT_READS: '0',
    RATE_LIMIT_WRITES: '0',
  });
});

afterAll(async () => {
  await api?.close();
  if (api) await deleteKeys(api.prefix);
});

it('sends helmet’s headers and no X-Powered-By', async () => {
  const response = await call(`${api.url}/events`);
  expect(response.headers.get('x-powered-by')).toBeNull();
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
  expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
});

describe('CORS', () => {
  it('answers an allowed origin, exposing the headers clients need', async () => {
    const response = await call(`${api.url}/events`, { headers: { Origin: ALLOWED } });
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toMatch(/Retry-After.*RateLimit-Remaining/);
    expect(response.headers.get('vary')).toMatch(/Origin/);
  });

  it('preflights an allowed origin with the allowed methods and headers', async () => {
    const response = await fetch(`${api.url}/events`, {
      method: 'OPTIONS',
      headers: {
        Origin: ALLOWED,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')).toMatch(/Authorization/i);
    expect(response.headers.get('access-control-max-age')).toBe('600');
  });

  it.each(['https://evil.example.test', 'https://tickets.example.test.evil.test', 'null', 'http://tickets.example.test'])(
    'gives %s no CORS headers',
    async (origin) => {
      const response = await call(`${api.url}/events`, { headers: { Origin: origin } });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await fetch(`${api.url}/events`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    },
  );
});

describe('CORS on /graphql: the same allow-list, and no other CORS headers (GraphQL Yoga adds its own unless told not to)', () => {
  const query = (origin: string) =>
    fetch(graphqlUrl(api), {
      method: 'POST',
      headers: { Origin: origin, 'Content-Type': 'application/json', 'X-GraphQL-CSRF': '1' },
      body: JSON.stringify({ query: '{ events(first: 1) { edges { node { id } } } }' }),
    });

  it('answers an allowed origin once, without credentials', async () => {
    const response = await query(ALLOWED);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toMatch(/Retry-After.*RateLimit-Remaining/);
  });

  it('preflights an allowed origin with the headers GraphQL needs', async () => {
    const response = await fetch(graphqlUrl(api), {
      method: 'OPTIONS',
      headers: {
        Origin: ALLOWED,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type, x-graphql-csrf',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/X-GraphQL-CSRF/i);
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it.each(['https://evil.example.test', 'null'])('gives %s no CORS headers', async (origin) => {
    const response = await query(origin);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    const preflight = await fetch(graphqlUrl(api), {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
  });
});

it('answers 503 with Retry-After when a request runs past REQUEST_TIMEOUT (a row lock held elsewhere)', async () => {
  const organizer = await api.user('organizer');
  const buyer = await api.user();
  const created = await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 5 }) });
  const locker = await api.db.pool.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [created.body.id]);
    const started = Date.now();
    const response = await call(`${api.url}/events/${created.body.id}/bookings`, { token: buyer.token, body: { quantity: 1 } });
    expect(response.status).toBe(503);
    expect(response.body.type).toMatch(/\/timeout$/);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  } finally {
    await locker.query('ROLLBACK');
    locker.release();
  }
});

it('refuses bodies over BODY_LIMIT (100 kB) with 413 before parsing them', async () => {
  const response = await call(`${api.url}/auth/login`, { body: { email: 'a@example.test', password: 'x'.repeat(101 * 1024) } });
  expect(response.status).toBe(413);
  const under = await call(`${api.url}/auth/login`, { body: { email: 'a@example.test', password: 'x'.repeat(1000) } });
  expect(under.status).toBe(401);
});

it('sets statement_timeout on every PostgreSQL session: a runaway query is cancelled', async () => {
  const pool = createPool({ url: api.db.url, max: 1, statementTimeoutMs: 200, applicationName: 'goticket-test' });
  try {
    expect((await pool.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('200ms');
    const started = Date.now();
    // the server's cancel (57014), as the use cases see it: the database could not answer in time
    await expect(pool.query('SELECT pg_sleep(5)')).rejects.toMatchObject({
      code: 'unavailable',
      reason: 'statement timeout',
      cause: { code: '57014' },
    });
    expect(Date.now() - started).toBeLessThan(4_000);
    // the connection is usable afterwards
    expect((await pool.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  } finally {
    await pool.end();
  }
});
