import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { call, futureEvent } from '../support/api';
import { freePort } from '../../../scripts/lib/free-port';
import { buildService, startService, type RunningService } from './process';

/**
 * The whole process, started the way `make run` starts it: compiled build, `all` role,
 * embedded PostgreSQL under a data folder, memory stand-ins, no *_URL set.
 */
const ADMIN = { email: 'admin@example.test', password: 'admin-password-123' };
const USER = { email: 'User@Example.test', password: 'user-password-1234' };
const ORGANIZER = { email: 'organizer@example.test', password: 'organizer-pass-123' };

let buildRoot: string;
let env: Record<string, string>;
let service: RunningService;
let api: string;

beforeAll(async () => {
  buildRoot = await buildService();
  env = {
    PORT: '0',
    HOST: '127.0.0.1',
    // beside the build: when tests run as root, the cluster's unprivileged user must reach it
    DATA_DIR: path.join(buildRoot, '.data'),
    EMBEDDED_PG_PORT: String(await freePort()),
    BCRYPT_COST: '4',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT: '15s',
  };
  service = await startService(buildRoot, 'all', env);
  api = `${service.url}/api/v1`;
}, 240_000);

afterAll(async () => {
  if (service && service.child.exitCode === null) await service.stop();
});

const login = async (who: { email: string; password: string }) => {
  const response = await call<{ accessToken: string; refreshToken: string; tokenType: string; expiresIn: number }>(`${api}/auth/login`, {
    body: who,
  });
  expect(response.status).toBe(200);
  return response.body;
};

describe('a day in the life of the service', () => {
  let userToken: string;
  let organizerToken: string;
  let adminToken: string;
  let eventId: string;

  it('says where it listens and which backends it uses', () => {
    const line = JSON.parse(
      service
        .output()
        .split('\n')
        .find((l) => l.includes('listening on'))!,
    );
    expect(line.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(line.backends.postgres).toContain('embedded');
    expect(line.backends.events).toContain('memory');
    expect(line.backends.cache).toContain('memory');
    // no STRIPE_API_KEY outside production: the payments role charges the local Stripe-compatible server
    expect(line.backends.payments).toContain('local Stripe-compatible server');
  });

  it('registers, logs in, and lets the bootstrapped admin promote an organizer', async () => {
    const registered = await call(`${api}/auth/register`, { body: USER });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ email: 'user@example.test', role: 'user' });
    expect(registered.body).not.toHaveProperty('passwordHash');
    expect((await call(`${api}/auth/register`, { body: { ...USER, email: 'USER@example.TEST' } })).status).toBe(409);
    const organizer = await call<{ id: string }>(`${api}/auth/register`, { body: ORGANIZER });

    const tokens = await login(USER);
    expect(tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    userToken = tokens.accessToken;
    adminToken = (await login(ADMIN)).accessToken;
    expect((await call(`${api}/users/me`, { token: adminToken })).body).toMatchObject({ role: 'admin' });

    const forbidden = await call(`${api}/users/${organizer.body.id}/role`, { method: 'PATCH', token: userToken, body: { role: 'admin' } });
    expect(forbidden.status).toBe(403);
    const promoted = await call(`${api}/users/${organizer.body.id}/role`, {
      method: 'PATCH',
      token: adminToken,
      body: { role: 'organizer' },
    });
    expect(promoted).toMatchObject({ status: 200, body: { role: 'organizer' } });
    organizerToken = (await login(ORGANIZER)).accessToken;
  });

  it('books, pays (the payments saga confirms it) and cancels (refunded), and the seats come back', async () => {
    const created = await call<{ id: string; available: number }>(`${api}/events`, {
      token: organizerToken,
      body: futureEvent({ capacity: 5, priceCents: 4200 }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/v1/events/${created.body.id}`);
    eventId = created.body.id;

    const booked = await call<{ id: string; status: string; amountCents: number }>(`${api}/events/${eventId}/bookings`, {
      token: userToken,
      body: { quantity: 2 },
    });
    expect(booked).toMatchObject({ status: 201, body: { status: 'pending', amountCents: 8400 } });
    expect((await call(`${api}/events/${eventId}`)).body).toMatchObject({ available: 3 });

    // a paid hold is not confirmed by a bare confirm: it is paid, and the saga confirms it
    const unpaid = await call(`${api}/bookings/${booked.body.id}/confirm`, { token: userToken, method: 'POST' });
    expect(unpaid).toMatchObject({ status: 402, body: { type: expect.stringMatching(/\/payment-required$/) } });
    const paying = await call(`${api}/bookings/${booked.body.id}/pay`, { token: userToken, body: { paymentMethod: 'pm_card_visa' } });
    expect(paying).toMatchObject({ status: 202, body: { status: 'payment_pending' } });
    const statusOf = async () => (await call<{ status: string }>(`${api}/bookings/${booked.body.id}`, { token: userToken })).body.status;
    const until = async (status: string) => {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100)))
        if ((await statusOf()) === status) return;
      throw new Error(`booking never became ${status} (is ${await statusOf()})`);
    };
    await until('confirmed');
    const mine = await call<{ items: Array<{ id: string }> }>(`${api}/bookings`, { token: userToken });
    expect(mine.body.items.map((b) => b.id)).toEqual([booked.body.id]);
    // someone else's booking does not exist for the organizer
    expect((await call(`${api}/bookings/${booked.body.id}`, { token: organizerToken })).status).toBe(404);

    const cancelled = await call(`${api}/bookings/${booked.body.id}/cancel`, { token: userToken, method: 'POST' });
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    expect((await call(`${api}/events/${eventId}`)).body).toMatchObject({ available: 5 });
    expect((await call(`${api}/bookings/${booked.body.id}/cancel`, { token: userToken, method: 'POST' })).status).toBe(409);
    // it was paid: the saga refunds it
    await until('refunded');
  });

  it('rotates refresh tokens and revokes the family when a rotated one is reused', async () => {
    const first = await login(USER);
    const second = await call<{ refreshToken: string; accessToken: string }>(`${api}/auth/refresh`, {
      body: { refreshToken: first.refreshToken },
    });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);

    const reused = await call(`${api}/auth/refresh`, { body: { refreshToken: first.refreshToken } });
    expect(reused.status).toBe(401);
    expect(String(reused.body.type)).toMatch(/refresh-token-reused$/);
    // the thief's rotated successor died with the family
    expect((await call(`${api}/auth/refresh`, { body: { refreshToken: second.body.refreshToken } })).status).toBe(401);

    const third = await login(USER);
    expect((await call(`${api}/auth/logout`, { body: { refreshToken: third.refreshToken } })).status).toBe(204);
    expect((await call(`${api}/auth/refresh`, { body: { refreshToken: third.refreshToken } })).status).toBe(401);
  });

  it.each([
    ['400 malformed id', () => call(`${api}/events/not-a-uuid`), 400, 'validation'],
    ['400 malformed JSON', () => call(`${api}/auth/login`, { body: '{"email":' }), 400, 'malformed-json'],
    [
      '400 unknown field',
      () => call(`${api}/auth/register`, { body: { ...USER, email: 'x@example.test', role: 'admin' } }),
      400,
      'validation',
    ],
    ['401 no token', () => call(`${api}/bookings`), 401, 'unauthenticated'],
    [
      '401 wrong password',
      () => call(`${api}/auth/login`, { body: { email: USER.email, password: 'wrong-password-1' } }),
      401,
      'invalid-credentials',
    ],
    ['403 user creating an event', () => call(`${api}/events`, { token: userToken, body: futureEvent() }), 403, 'forbidden'],
    ['404 unknown event', () => call(`${api}/events/00000000-0000-4000-8000-000000000000`), 404, 'not-found'],
    ['404 unknown route', () => call(`${api}/tickets`), 404, 'not-found'],
    ['405 wrong method', () => call(`${api}/events`, { method: 'PUT', body: {} }), 405, 'method-not-allowed'],
    ['409 sold out', () => call(`${api}/events/${eventId}/bookings`, { token: userToken, body: { quantity: 6 } }), 409, 'sold-out'],
    [
      '409 capacity below taken',
      async () => {
        await call(`${api}/events/${eventId}/bookings`, { token: userToken, body: { quantity: 2 } });
        return call(`${api}/events/${eventId}`, { method: 'PATCH', token: organizerToken, body: { capacity: 1 } });
      },
      409,
      'capacity-below-taken',
    ],
    [
      '413 body over 100 kB',
      () => call(`${api}/auth/login`, { body: { email: 'a@b.c', password: 'x'.repeat(120_000) } }),
      413,
      'payload-too-large',
    ],
    [
      '415 not JSON',
      () => call(`${api}/auth/login`, { body: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      415,
      'unsupported-media-type',
    ],
    [
      '422 idempotency key reused',
      async () => {
        const headers = { 'Idempotency-Key': 'e2e-key' };
        await call(`${api}/events/${eventId}/bookings`, { token: userToken, body: { quantity: 1 }, headers });
        return call(`${api}/events/${eventId}/bookings`, { token: userToken, body: { quantity: 2 }, headers });
      },
      422,
      'idempotency-key-reused',
    ],
  ])('%s', async (_name, request, status, code) => {
    const response = await request();
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({
      status,
      type: expect.stringMatching(new RegExp(`/${code}$`)),
      title: expect.any(String),
      detail: expect.any(String),
    });
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(JSON.stringify(response.body)).not.toMatch(/\bat \S+\.js:\d+|SELECT |INSERT |pg_|node_modules/);
  });

  it('echoes a caller’s X-Request-Id and never logs passwords or tokens', async () => {
    const response = await call(`${api}/events`, { headers: { 'X-Request-Id': 'trace-me-123' } });
    expect(response.headers.get('x-request-id')).toBe('trace-me-123');
    // the access log line is written when the response finishes; the pipe may lag behind
    const deadline = Date.now() + 5_000;
    while (!service.output().includes('"request_id":"trace-me-123"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const logs = service.output();
    expect(logs).toContain('"request_id":"trace-me-123"');
    for (const secret of [ADMIN.password, USER.password, ORGANIZER.password, userToken]) expect(logs).not.toContain(secret);
  });

  it('shuts down cleanly on SIGTERM and keeps its data, and its signed-in users, across a restart', async () => {
    expect(await service.stop()).toBe(0);
    expect(service.output()).toContain('"msg":"stopped"');
    service = await startService(buildRoot, 'all', env);
    api = `${service.url}/api/v1`;
    expect((await call(`${api}/events/${eventId}`)).status).toBe(200);
    // no JWT_SECRET: the signing key lives beside the data (owner-only), so tokens outlive the process
    const keyFile = path.join(env.DATA_DIR!, 'jwt.secret');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(service.output()).toContain('using the local signing key');
    expect(service.output()).not.toContain(readFileSync(keyFile, 'utf8').trim());
    expect((await call(`${api}/users/me`, { token: userToken })).status).toBe(200);
    expect((await login(USER)).accessToken).toBeTruthy();
    expect(service.output()).toMatch(/"outcome":"exists"/);
  });
});
