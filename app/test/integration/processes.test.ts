/**
 * The `api` and `worker` roles as the separate processes Kubernetes runs (main.ts, from the
 * sources), on one real PostgreSQL, with RabbitMQ behind a TCP proxy:
 *  - while the broker is unreachable the api is ready and takes bookings (the outbox absorbs
 *    them) and the worker is not ready; when it returns the worker catches up with no manual step;
 *  - SIGTERM: a request in flight on a keep-alive connection (a load balancer's) finishes with
 *    `Connection: close`, new connections are refused, the pools close and the process exits 0
 *    well within SHUTDOWN_TIMEOUT; the worker's idle keep-alive scrape connection does not hold it.
 */
import { Agent, request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { JwtAccessTokenCodec } from '../../src/adapters/crypto/jwt';
import { startFromSource, type RunningService } from '../e2e/process';
import { call, futureEvent, TEST_JWT_SECRET } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { TEST_AMQP_URL } from '../support/env';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { AmqpTestClient, testPrefix, waitFor } from './messaging/helpers';

const SHUTDOWN_TIMEOUT_MS = 10_000;

let db: TestDatabase;
let broker: TcpProxy;
let amqp: AmqpTestClient;
let api: RunningService;
let worker: RunningService;
let token: string;
let organizerToken: string;

const tokens = new JwtAccessTokenCodec({ secret: TEST_JWT_SECRET, issuer: 'goticket', audience: 'goticket-api', ttlMs: 600_000 });

async function user(role: 'user' | 'organizer'): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', $2) RETURNING id`, [
    `${randomUUID()}@example.test`,
    role,
  ]);
  return tokens.sign({ userId: rows[0]!.id, role, tokenVersion: 0 }).token;
}

const ready = async (service: RunningService) => call<{ status: string; checks: Record<string, string> }>(`${service.url}/healthz/ready`);
const backlog = async () =>
  (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).rows[0]!.n;

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(TEST_AMQP_URL);
  broker = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
  broker.cut();
  const prefix = testPrefix();
  amqp = await AmqpTestClient.open(prefix);
  const env = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.url,
    AMQP_URL: broker.rewrite(TEST_AMQP_URL),
    AMQP_PREFIX: prefix,
    AMQP_RECONNECT_MAX_DELAY: '500ms',
    OUTBOX_POLL_INTERVAL: '200ms',
    JWT_SECRET: TEST_JWT_SECRET,
    DB_POOL_MAX: '4',
    SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}ms`,
  };
  [api, worker] = await Promise.all([startFromSource('api', env), startFromSource('worker', env)]);
  [token, organizerToken] = [await user('user'), await user('organizer')];
}, 120_000);

afterAll(async () => {
  for (const service of [api, worker]) if (service && service.child.exitCode === null) await service.stop();
  await amqp?.cleanup();
  await broker?.close();
  await db?.drop();
});

test('broker down: the api is ready and takes bookings into the outbox, the worker is not ready; both recover without a manual step', async () => {
  const apiReady = await ready(api);
  expect(apiReady.status).toBe(200);
  expect(apiReady.body.checks).not.toHaveProperty('rabbitmq');
  const workerReady = await ready(worker);
  expect(workerReady.status).toBe(503);
  expect(workerReady.body.checks.rabbitmq).toBe('down');

  const event = await call<{ id: string }>(`${api.url}/api/v1/events`, { token: organizerToken, body: futureEvent({ capacity: 50 }) });
  expect(event.status).toBe(201);
  for (let i = 0; i < 5; i++)
    expect((await call(`${api.url}/api/v1/events/${event.body.id}/bookings`, { token, body: { quantity: 1 } })).status).toBe(201);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await backlog()).toBe(6); // event.created + 5 × booking.created, all waiting

  broker.restore();
  await waitFor('the worker to be ready', async () => (await ready(worker)).status === 200, 15_000);
  await waitFor('the outbox to drain', async () => (await backlog()) === 0, 15_000);
});

/** POST over a keep-alive connection, as a load balancer's upstream connection would carry it. */
function postKeepAlive(
  agent: Agent,
  url: string,
  body: unknown,
  bearer: string,
): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function refusesConnections(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    req.end();
  });
}

test('SIGTERM: an in-flight request on a keep-alive connection finishes, new connections are refused, the pools close, exit 0 in time', async () => {
  const event = await call<{ id: string }>(`${api.url}/api/v1/events`, { token: organizerToken, body: futureEvent({ capacity: 5 }) });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  // warm the keep-alive connection, then hold the event's row so the next booking stays in flight
  expect((await postKeepAlive(agent, `${api.url}/api/v1/events/${event.body.id}/bookings`, { quantity: 1 }, token)).status).toBe(201);
  const lock = await db.pool.connect();
  try {
    await lock.query('BEGIN');
    await lock.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [event.body.id]);
    const inFlight = postKeepAlive(agent, `${api.url}/api/v1/events/${event.body.id}/bookings`, { quantity: 1 }, token);
    await waitFor(
      'the booking to wait on the row lock',
      async () => {
        const { rows } = await db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'goticket-api' AND wait_event_type = 'Lock'`,
        );
        return rows.length > 0;
      },
      10_000,
    );

    const exited = api.stop();
    await waitFor('new connections to be refused', () => refusesConnections(`${api.url}/healthz/live`), 5_000, 20);
    await lock.query('COMMIT');
    // the connection's last response says so: the balancer sends nothing more on it
    expect(await inFlight).toEqual({ status: 201, connection: 'close' });
    // exit 0 is the in-time proof: at SHUTDOWN_TIMEOUT the process exits 1 ("shutdown timed out")
    expect(await exited).toBe(0);
    expect(api.output()).toContain('"msg":"stopped"');
    expect(api.output()).not.toContain('shutdown timed out');
  } finally {
    await lock.query('ROLLBACK').catch(() => undefined);
    lock.release();
    agent.destroy();
  }
  // the api closed its pool: no session of it is left on the server
  const { rows } = await db.pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'goticket-api' AND datname = current_database()`,
  );
  expect(rows[0].n).toBe(0);
  // the booking that was in flight is there, with its outbox row
  const { rows: held } = await db.pool.query(`SELECT count(*)::int AS n FROM bookings WHERE event_id = $1`, [event.body.id]);
  expect(held[0].n).toBe(2);

  // the worker's HTTP side: a scraper's keep-alive connection, idle, does not hold its shutdown
  const scraper = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const scrape = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      request(`${worker.url}/metrics`, { agent: scraper }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
        .on('error', reject)
        .end();
    });
    expect(scrape).toEqual({ status: 200, connection: 'keep-alive' });
    expect(await worker.stop()).toBe(0);
  } finally {
    scraper.destroy();
  }
  expect(worker.output()).toContain('"msg":"workers stopped"');
  expect(worker.output()).not.toContain('shutdown timed out');
});
