/**
 * Issue 17, point 4: revocation under a partial Redis partition. Two api replicas share one
 * PostgreSQL and one Redis; replica A reaches Redis through a TCP proxy that is cut, B reaches it
 * directly. An admin demotes a user through A (which cannot drop the version cached in Redis), and
 * the user's old access token is tried on B, whose shared and local copies say it is still good.
 * PostgreSQL announces the change (migration 005's trigger, LISTEN in every replica): B refuses the
 * token within a moment, not after CACHE_TOKEN_VERSION_TTL (60 s here), and so does A. The same for
 * a logout everywhere through A. The figures go to build/test-reports/revocation-partition.json.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { createPool } from '../../../src/adapters/postgres/pool';
import { composeApi } from '../../../src/compose';
import { loadConfig } from '../../../src/config';
import { closeServer, listen } from '../../../src/http/server';
import { TEST_JWT_SECRET, call } from '../../support/api';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { TEST_REDIS_URL } from '../../support/env';
import { writeReport } from '../../support/report';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { waitFor } from '../messaging/helpers';
import { deleteKeys, quietLogger, redisApiEnv, sleep, testKeyPrefix, waitForRedis } from './helpers';

const TOKEN_VERSION_TTL = '60s';

interface Replica {
  url: string;
  server: Server;
  api: ReturnType<typeof composeApi>;
  close(): Promise<void>;
}

let db: TestDatabase;
let redisProxy: TcpProxy;
let prefix: string;
let a: Replica;
let b: Replica;
let admin: string;
const report: Record<string, unknown> = {};

async function replica(redisUrl: string): Promise<Replica> {
  const config = loadConfig({
    ...redisApiEnv(db.url, prefix),
    REDIS_URL: redisUrl,
    REDIS_COMMAND_TIMEOUT: '300ms',
    CACHE_TOKEN_VERSION_TTL: TOKEN_VERSION_TTL,
    CACHE_LOCAL_TTL: '1s',
  });
  const pool = createPool({ url: db.url, max: 5, statementTimeoutMs: 5_000, applicationName: 'goticket-partition' });
  const api = composeApi({
    pool,
    config,
    logger: quietLogger,
    jwtSecret: TEST_JWT_SECRET,
    health: [],
    metrics: new Registry(),
    isShuttingDown: () => false,
  });
  const { server, url } = await listen(api.app, '127.0.0.1', 0);
  await waitForRedis(`${url}/api/v1`);
  return {
    url: `${url}/api/v1`,
    server,
    api,
    async close() {
      await closeServer(server);
      await api.close();
      await pool.end();
    },
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = testKeyPrefix();
  const target = new URL(TEST_REDIS_URL);
  redisProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  a = await replica(redisProxy.rewrite(TEST_REDIS_URL));
  b = await replica(TEST_REDIS_URL);
  admin = (await user('admin')).token;
}, 60_000);

afterAll(async () => {
  redisProxy?.restore();
  await a?.close();
  await b?.close();
  await redisProxy?.close();
  await db?.drop();
  if (prefix) await deleteKeys(prefix);
  writeReport('revocation-partition', report);
});

async function user(role: 'user' | 'organizer' | 'admin') {
  const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', $2) RETURNING id`, [
    `${randomUUID()}@example.test`,
    role,
  ]);
  return { id: rows[0]!.id, token: a.api.accessTokens.sign({ userId: rows[0]!.id, role, tokenVersion: 0 }).token };
}

const status = async (replica: Replica, token: string) => (await call(`${replica.url}/bookings`, { token })).status;

/** ms until `token` is refused on `replica` (up to 10 s, well under the 60 s TTL); -1 if it never was. */
async function refusedAfter(replica: Replica, token: string, since: number): Promise<number> {
  try {
    await waitFor('the revoked token to be refused', async () => (await status(replica, token)) === 401, 10_000, 50);
    return Date.now() - since;
  } catch {
    return -1;
  }
}

beforeEach(() => redisProxy.restore());

test('a demotion through a replica cut off from Redis ends the token on the healthy replica within moments, not after the shared TTL', async () => {
  const target = await user('organizer');
  // B holds version 0 in Redis and in its own copy; A has read it too
  expect(await status(b, target.token)).toBe(200);
  expect(await status(a, target.token)).toBe(200);
  expect(await b.api.cache.get(`user:${target.id}`, 'version')).toMatchObject({ value: '0' });

  redisProxy.cut();
  const demotedAt = Date.now();
  const demoted = await call(`${a.url}/users/${target.id}/role`, { method: 'PATCH', token: admin, body: { role: 'user' } });
  expect(demoted.status).toBe(200);
  const onB = await refusedAfter(b, target.token, demotedAt);
  const onA = await refusedAfter(a, target.token, demotedAt);
  // and it stays refused (no stale copy comes back from either cache)
  await sleep(1_200);
  const later = [await status(b, target.token), await status(a, target.token)];
  report.demotion = { refusedOnHealthyReplicaAfterMs: onB, refusedOnCutReplicaAfterMs: onA, tokenVersionTtl: TOKEN_VERSION_TTL };

  expect(onB).toBeGreaterThanOrEqual(0);
  expect(onA).toBeGreaterThanOrEqual(0);
  expect(later).toEqual([401, 401]);
}, 60_000);

test('a logout everywhere through the cut replica ends the token on the healthy one too', async () => {
  const target = await user('user');
  expect(await status(b, target.token)).toBe(200);
  redisProxy.cut();
  const loggedOutAt = Date.now();
  expect((await call(`${a.url}/auth/logout-all`, { method: 'POST', token: target.token })).status).toBe(204);
  const onB = await refusedAfter(b, target.token, loggedOutAt);
  report.logoutAll = { refusedOnHealthyReplicaAfterMs: onB };
  expect(onB).toBeGreaterThanOrEqual(0);
}, 60_000);
