/**
 * The token version (revocation check of every signed-in request) against real Redis and
 * PostgreSQL: login and refresh read it through both caches, so a user's first signed-in request
 * costs neither a Redis nor a PostgreSQL read; revocations through this process still end a token
 * on the very next request, and through another replica within CACHE_LOCAL_TTL.
 */
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { composeApi } from '../../../src/compose';
import { closeServer, listen } from '../../../src/http/server';
import { TEST_JWT_SECRET, call, type TestApi } from '../../support/api';
import { deleteKeys, quietLogger, sleep, startRedisApi } from './helpers';

const PASSWORD = 'correct horse battery';
const REPLICA_LOCAL_TTL_MS = 300;

let api: TestApi & { prefix: string };
let admin: { id: string; token: string };

beforeAll(async () => {
  // A generous local TTL: a slow machine must not turn the first request into a Redis read.
  api = await startRedisApi({
    CACHE_LOCAL_TTL: '60s',
    CACHE_TOKEN_VERSION_TTL: '60s',
    RATE_LIMIT_LOGIN_FAILURES: '0',
    RATE_LIMIT_REGISTER: '0',
  });
  admin = await api.user('admin');
});

afterAll(async () => {
  await api?.close();
  if (api) await deleteKeys(api.prefix);
});

async function account(): Promise<{ id: string; email: string }> {
  const email = `tv-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.test`;
  const registered = await call<{ id: string }>(`${api.url}/auth/register`, { body: { email, password: PASSWORD } });
  expect(registered.status).toBe(201);
  return { id: registered.body.id, email };
}

async function login(base: string, email: string) {
  const response = await call<{ accessToken: string; refreshToken: string }>(`${base}/auth/login`, { body: { email, password: PASSWORD } });
  expect(response.status).toBe(200);
  return response.body;
}

/** Every read the token check could make for `userId`: the shared cache and PostgreSQL. */
function countVersionReads(composed: TestApi['api'], userId: string) {
  const cacheGet = jest.spyOn(composed.cache, 'get');
  const findById = jest.spyOn(composed.userStore, 'findById');
  return {
    cache: () => cacheGet.mock.calls.filter(([namespace]) => namespace === `user:${userId}`).length,
    database: () => findById.mock.calls.filter(([id]) => id === userId).length,
    stop: () => {
      cacheGet.mockRestore();
      findById.mockRestore();
    },
  };
}

it('login fills the cache: the first signed-in request reads neither Redis nor PostgreSQL for the version', async () => {
  const user = await account();
  const tokens = await login(api.url, user.email);
  const reads = countVersionReads(api.api, user.id);
  try {
    for (let i = 0; i < 3; i++) expect((await call(`${api.url}/bookings`, { token: tokens.accessToken })).status).toBe(200);
    expect(reads.cache()).toBe(0);
    expect(reads.database()).toBe(0);
  } finally {
    reads.stop();
  }
});

it('so does a refresh', async () => {
  const user = await account();
  const first = await login(api.url, user.email);
  // a role change drops every cached version of the user (and ends `first`)
  expect(
    (await call(`${api.url}/users/${user.id}/role`, { method: 'PATCH', token: admin.token, body: { role: 'organizer' } })).status,
  ).toBe(200);
  const refreshed = await call<{ accessToken: string }>(`${api.url}/auth/refresh`, { body: { refreshToken: first.refreshToken } });
  expect(refreshed.status).toBe(200);
  const reads = countVersionReads(api.api, user.id);
  try {
    expect((await call(`${api.url}/bookings`, { token: refreshed.body.accessToken })).status).toBe(200);
    expect(reads.cache() + reads.database()).toBe(0);
  } finally {
    reads.stop();
  }
});

it('a role change or logout everywhere through this process ends the token on the very next request', async () => {
  const user = await account();
  const byRole = await login(api.url, user.email);
  expect((await call(`${api.url}/bookings`, { token: byRole.accessToken })).status).toBe(200);
  expect(
    (await call(`${api.url}/users/${user.id}/role`, { method: 'PATCH', token: admin.token, body: { role: 'organizer' } })).status,
  ).toBe(200);
  expect((await call(`${api.url}/bookings`, { token: byRole.accessToken })).status).toBe(401);

  const byLogout = await login(api.url, user.email);
  expect((await call(`${api.url}/bookings`, { token: byLogout.accessToken })).status).toBe(200);
  expect((await call(`${api.url}/auth/logout-all`, { method: 'POST', token: byLogout.accessToken })).status).toBe(204);
  expect((await call(`${api.url}/bookings`, { token: byLogout.accessToken })).status).toBe(401);
});

it('a revocation through another replica ends the token here within CACHE_LOCAL_TTL', async () => {
  const config = { ...api.config, cache: { ...api.config.cache, localTtlMs: REPLICA_LOCAL_TTL_MS } };
  const replicas: Array<{ server: Server; url: string; close: () => Promise<void> }> = [];
  for (let i = 0; i < 2; i++) {
    const composed = composeApi({
      pool: api.db.pool,
      config,
      logger: quietLogger,
      jwtSecret: TEST_JWT_SECRET,
      health: [],
      metrics: new Registry(),
      isShuttingDown: () => false,
    });
    const { server, url } = await listen(composed.app, '127.0.0.1', 0);
    replicas.push({ server, url: `${url}/api/v1`, close: () => composed.close() });
  }
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
  try {
    const user = await account();
    const tokens = await login(a.url, user.email);
    expect((await call(`${a.url}/bookings`, { token: tokens.accessToken })).status).toBe(200);
    expect(
      (await call(`${b.url}/users/${user.id}/role`, { method: 'PATCH', token: admin.token, body: { role: 'organizer' } })).status,
    ).toBe(200);
    expect((await call(`${b.url}/bookings`, { token: tokens.accessToken })).status).toBe(401);
    await sleep(REPLICA_LOCAL_TTL_MS + 50);
    expect((await call(`${a.url}/bookings`, { token: tokens.accessToken })).status).toBe(401);
  } finally {
    for (const replica of replicas) {
      await closeServer(replica.server);
      await replica.close();
    }
  }
});
