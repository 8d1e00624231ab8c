/**
 * Issue 17, point 2: a reset while a client is checked out of the pool must not crash the process.
 * The `api` and `worker` roles run as the separate processes Kubernetes runs (main.ts from the
 * sources), both reaching PostgreSQL through one TCP proxy. While the relay publishes what
 * bookings write, refresh tokens rotate, an admin flips a user's role and an organizer creates and
 * deletes events (every path that holds a checked-out client: inTransaction, the relay's claim,
 * its LISTEN client), the proxy resets every connection again and again. Both processes stay up,
 * every refusal is a 503, and once it heals every path works again and the relay drains.
 * Without an 'error' listener on checked-out clients (before bbc9e08) the first reset that hits
 * a transaction is an unhandled 'error' event and the process exits 1.
 * The figures go to build/test-reports/connection-resets.json.
 */
import { randomUUID } from 'node:crypto';
import { JwtAccessTokenCodec } from '../../src/adapters/crypto/jwt';
import { startFromSource, type RunningService } from '../e2e/process';
import { call, futureEvent, TEST_JWT_SECRET } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../support/env';
import { writeReport } from '../support/report';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { AmqpTestClient, testPrefix, waitFor } from './messaging/helpers';

const STORM_MS = 6_000;
const PASSWORD = 'correct horse battery staple';

let db: TestDatabase;
let proxy: TcpProxy;
let amqp: AmqpTestClient;
let api: RunningService;
let worker: RunningService;
let buyer: string;
let organizer: string;
let admin: string;
let flippedUserId: string;
let hotEventId: string;
const report: Record<string, unknown> = {};

const tokens = new JwtAccessTokenCodec({ secret: TEST_JWT_SECRET, issuer: 'goticket', audience: 'goticket-api', ttlMs: 600_000 });

async function user(role: 'user' | 'organizer' | 'admin'): Promise<{ id: string; token: string }> {
  const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', $2) RETURNING id`, [
    `${randomUUID()}@example.test`,
    role,
  ]);
  return { id: rows[0]!.id, token: tokens.sign({ userId: rows[0]!.id, role, tokenVersion: 0 }).token };
}

const backlog = async () =>
  (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).rows[0]!.n;
const alive = (service: RunningService) => service.child.exitCode === null && service.child.signalCode === null;

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(TEST_DATABASE_URL);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const prefix = testPrefix();
  amqp = await AmqpTestClient.open(prefix);
  const env = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    DATABASE_URL: proxy.rewrite(db.url),
    DB_STATEMENT_TIMEOUT: '2s',
    DB_CONNECT_TIMEOUT: '1s',
    DB_POOL_MIN: '0',
    DB_POOL_MAX: '6',
    AMQP_URL: TEST_AMQP_URL,
    AMQP_PREFIX: prefix,
    AMQP_RECONNECT_MAX_DELAY: '500ms',
    OUTBOX_POLL_INTERVAL: '200ms',
    EXPIRY_SWEEP_INTERVAL: '200ms',
    JWT_SECRET: TEST_JWT_SECRET,
    BCRYPT_COST: '4',
    RATE_LIMIT_WRITES: '0',
    RATE_LIMIT_ANON: '0',
    RATE_LIMIT_READS: '0',
    RATE_LIMIT_REGISTER: '0',
    RATE_LIMIT_LOGIN_FAILURES: '0',
  };
  [api, worker] = await Promise.all([startFromSource('api', env), startFromSource('worker', env)]);
  buyer = (await user('user')).token;
  organizer = (await user('organizer')).token;
  admin = (await user('admin')).token;
  flippedUserId = (await user('user')).id;
  const event = await call<{ id: string }>(`${api.url}/api/v1/events`, { token: organizer, body: futureEvent({ capacity: 100_000 }) });
  expect(event.status).toBe(201);
  hotEventId = event.body.id;
}, 120_000);

afterAll(async () => {
  for (const service of [api, worker]) if (service && alive(service)) await service.stop();
  await proxy?.close();
  await amqp?.cleanup();
  await db?.drop();
  writeReport('connection-resets', report);
});

async function signIn(): Promise<string> {
  const email = `${randomUUID()}@example.test`;
  expect((await call(`${api.url}/api/v1/auth/register`, { body: { email, password: PASSWORD } })).status).toBe(201);
  const login = await call<{ refreshToken: string }>(`${api.url}/api/v1/auth/login`, { body: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  return login.body.refreshToken;
}

/** Loops of every path that checks a client out, each counting its answers by status, until `stop()`. */
function traffic(refreshTokens: string[]) {
  const statuses: Record<string, Record<number, number>> = {};
  let running = true;
  const count = (path: string, status: number) => {
    const byStatus = (statuses[path] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  };
  const send = async (path: string, ...args: Parameters<typeof call>) => {
    try {
      const response = await call<{ id?: string; refreshToken?: string }>(...args);
      count(path, response.status);
      return response;
    } catch {
      count(path, 0);
      return null;
    }
  };
  const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
  const loops = [
    // bookings: the outbox rows the relay claims and publishes
    ...Array.from({ length: 4 }, async () => {
      while (running) {
        await send('booking', `${api.url}/api/v1/events/${hotEventId}/bookings`, { token: buyer, body: { quantity: 1 } });
        await pause();
      }
    }),
    // refresh rotation (a transaction): a refused rotation keeps the token; one whose answer was lost
    // but committed makes the old token a reuse (401), and the chain signs in again
    ...refreshTokens.map(async (first) => {
      let refreshToken = first;
      while (running) {
        const response = await send('refresh', `${api.url}/api/v1/auth/refresh`, { body: { refreshToken } });
        if (response?.status === 200) refreshToken = response.body.refreshToken!;
        else if (response?.status === 401) refreshToken = await signIn().catch(() => refreshToken);
        await pause();
      }
    }),
    // role changes (a transaction: the role, the token version, the audit row)
    (async () => {
      let role: 'user' | 'organizer' = 'organizer';
      while (running) {
        const response = await send('role', `${api.url}/api/v1/users/${flippedUserId}/role`, {
          method: 'PATCH',
          token: admin,
          body: { role },
        });
        if (response?.status === 200) role = role === 'user' ? 'organizer' : 'user';
        await pause();
      }
    })(),
    // event create and delete (the delete is a transaction)
    (async () => {
      while (running) {
        const created = await send('event create', `${api.url}/api/v1/events`, { token: organizer, body: futureEvent() });
        if (created?.status === 201)
          await send('event delete', `${api.url}/api/v1/events/${created.body.id}`, { method: 'DELETE', token: organizer });
        await pause();
      }
    })(),
  ];
  return {
    statuses,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

test('every connection reset again and again while the relay, refresh rotations, role changes and event deletes run: both processes stay up and recover', async () => {
  const refreshTokens = await Promise.all(Array.from({ length: 3 }, () => signIn()));
  const load = traffic(refreshTokens);
  await waitFor(
    'traffic on every path',
    async () =>
      ['booking', 'refresh', 'role', 'event delete'].every(
        (path) => (load.statuses[path]?.[200] ?? 0) + (load.statuses[path]?.[201] ?? 0) + (load.statuses[path]?.[204] ?? 0) > 0,
      ),
    20_000,
  );

  const storm = setInterval(() => {
    proxy.cut();
    setTimeout(() => proxy.restore(), 40);
  }, 200);
  const stormEnds = Date.now() + STORM_MS;
  while (Date.now() < stormEnds) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect({ api: alive(api), worker: alive(worker) }).toEqual({ api: true, worker: true });
  }
  clearInterval(storm);
  proxy.restore();
  const healedAt = Date.now();
  const stormStatuses = JSON.parse(JSON.stringify(load.statuses)) as Record<string, Record<string, number>>;

  // every path works again after the heal: a booking, a fresh sign-in and rotation, a role change, an event deleted
  const recovery: Record<string, number> = {};
  await waitFor(
    'every path to answer again',
    async () => {
      const booking = await call(`${api.url}/api/v1/events/${hotEventId}/bookings`, { token: buyer, body: { quantity: 1 } });
      if (booking.status === 201) recovery.booking ??= Date.now() - healedAt;
      const refreshed = await signIn()
        .then((refreshToken) => call(`${api.url}/api/v1/auth/refresh`, { body: { refreshToken } }))
        .catch(() => null);
      if (refreshed?.status === 200) recovery.refresh ??= Date.now() - healedAt;
      const event = await call<{ id: string }>(`${api.url}/api/v1/events`, { token: organizer, body: futureEvent() });
      if (
        event.status === 201 &&
        (await call(`${api.url}/api/v1/events/${event.body.id}`, { method: 'DELETE', token: organizer })).status === 204
      )
        recovery.eventDelete ??= Date.now() - healedAt;
      return recovery.booking !== undefined && recovery.refresh !== undefined && recovery.eventDelete !== undefined;
    },
    20_000,
    200,
  );
  await load.stop();
  await waitFor('the worker to be ready again', async () => (await call(`${worker.url}/healthz/ready`)).status === 200, 20_000, 200);
  // the relay publishes everything written, during the storm and after it
  await waitFor('the relay to drain the outbox', async () => (await backlog()) === 0, 30_000, 250);
  recovery.relayDrained = Date.now() - healedAt;

  const refusedOtherwise = Object.entries(stormStatuses).flatMap(([path, byStatus]) =>
    Object.entries(byStatus)
      .filter(([status]) => !['200', '201', '204', '503'].includes(status) && !(path === 'refresh' && status === '401'))
      .map(([status, n]) => `${path} ${status} x${n}`),
  );
  Object.assign(report, { stormMs: STORM_MS, resetsEveryMs: 200, statuses: stormStatuses, recoveryAfterHealMs: recovery });

  expect({ api: alive(api), worker: alive(worker) }).toEqual({ api: true, worker: true });
  // the storm reached the database paths (some were refused), and every refusal was a 503, never a 500
  expect(Object.values(stormStatuses).reduce((sum, byStatus) => sum + (byStatus[503] ?? 0), 0)).toBeGreaterThan(0);
  expect(refusedOtherwise).toEqual([]);
  // nothing in either process's log says it crashed or met a bug
  for (const output of [api.output(), worker.output()]) {
    expect(output).not.toMatch(/Unhandled 'error' event|uncaughtException|"level":"fatal"/i);
  }
}, 180_000);
