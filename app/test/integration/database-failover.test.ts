/**
 * The api and the worker losing their database, through a TCP proxy in front of the real
 * PostgreSQL (issue 17, points 1 and 3):
 *  - failover: the proxy black-holes every connection mid-stampede for 30 s (what a failed-over
 *    RDS primary looks like: packets dropped, no RST), then heals. Bookings for the hot event
 *    succeed again within seconds of the heal, no request waits past the request timeout, every
 *    refusal is a 503 problem+json with Retry-After (never a 500), readiness follows the outage
 *    while liveness stays up, and the relay drains the outbox;
 *  - reset storm: every connection is reset again and again while requests run: every failure is
 *    a 503 `unavailable` with Retry-After, the log has one incident line (with its count) and no
 *    stack, and the failure metric counts them as unavailable, not as bugs. The api and the worker
 *    loops share the process's FailureReporter (as main.ts composes them): an outage the api, the
 *    relay and the sweeper all meet is one incident, not one per component.
 * The figures go to build/test-reports/database-failover.json.
 */
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createPool, postgresHealthCheck } from '../../src/adapters/postgres/pool';
import { composeApi } from '../../src/compose';
import { loadConfig } from '../../src/config';
import { closeServer, listen } from '../../src/http/server';
import { createLogger } from '../../src/observability/logger';
import { FailureReporter } from '../../src/observability/failures';
import { failures } from '../../src/observability/metrics';
import type { HealthCheck } from '../../src/ports';
import { startWorkers, type Workers } from '../../src/compose';
import { call, TEST_JWT_SECRET } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../support/env';
import { writeReport } from '../support/report';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { AmqpTestClient, testPrefix, waitFor } from './messaging/helpers';

const STATEMENT_TIMEOUT_MS = 2_000;
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 1_000;
const REQUEST_TIMEOUT_MS = 8_000;
const BLACKHOLE_MS = 30_000;

interface Line {
  level: string;
  msg: string;
  err?: { stack?: string };
  incident?: string;
  source?: string;
  failures?: number;
}

let db: TestDatabase;
let proxy: TcpProxy;
let amqp: AmqpTestClient;
let workers: Workers;
let stopApi: () => Promise<void>;
let url: string;
let health: HealthCheck[];
let bookingState: () => { oldestWaitMs: number; waiting: number };
let reporter: FailureReporter;
const lines: Line[] = [];
let token: string;
let eventId: string;
const report: Record<string, unknown> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(TEST_DATABASE_URL);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const prefix = testPrefix();
  amqp = await AmqpTestClient.open(prefix);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: proxy.rewrite(db.url),
    JWT_SECRET: TEST_JWT_SECRET,
    DB_STATEMENT_TIMEOUT: `${STATEMENT_TIMEOUT_MS}ms`,
    DB_CONNECT_TIMEOUT: '1s',
    DB_POOL_MIN: '0',
    REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
    RATE_LIMIT_WRITES: '0',
    RATE_LIMIT_ANON: '0',
    RATE_LIMIT_READS: '0',
    AMQP_URL: TEST_AMQP_URL,
    AMQP_PREFIX: prefix,
    AMQP_RECONNECT_MAX_DELAY: '500ms',
    OUTBOX_POLL_INTERVAL: '200ms',
  });
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  // one reporter for the api and the workers, as main.ts composes a process: one outage, one incident
  reporter = new FailureReporter(logger);
  const pool = (name: string) =>
    createPool({
      url: config.database.url!,
      max: 10,
      statementTimeoutMs: config.database.statementTimeoutMs,
      queryTimeoutMs: config.database.queryTimeoutMs,
      connectTimeoutMs: config.database.connectTimeoutMs,
      applicationName: name,
    });
  const apiPool = pool('goticket-failover-api');
  const workerPool = pool('goticket-failover-worker');
  health = [postgresHealthCheck(apiPool)];
  const api = composeApi({
    pool: apiPool,
    config,
    logger,
    jwtSecret: TEST_JWT_SECRET,
    health,
    metrics: new Registry(),
    isShuttingDown: () => false,
    failures: reporter,
  });
  bookingState = () => api.bookingStore.batchState();
  const { server, url: base } = await listen(api.app, '127.0.0.1', 0);
  url = base;
  workers = await startWorkers({ config, pool: workerPool, logger, failures: reporter });
  health.push(...workers.health);
  stopApi = async () => {
    await closeServer(server);
    await api.close();
    await apiPool.end().catch(() => undefined);
    await workerPool.end().catch(() => undefined);
  };
  const { rows: users } = await db.pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash, role) VALUES ('buyer@example.test', 'x', 'user') RETURNING id`,
  );
  token = api.accessTokens.sign({ userId: users[0]!.id, role: 'user', tokenVersion: 0 }).token;
  const { rows: events } = await db.pool.query<{ id: string }>(
    `INSERT INTO events (organizer_id, name, starts_at, ends_at, price_cents, capacity, available)
     VALUES ($1, 'hot event', now() + interval '30 days', now() + interval '30 days 3 hours', 2500, 1000000, 1000000) RETURNING id`,
    [users[0]!.id],
  );
  eventId = events[0]!.id;
}, 60_000);

afterAll(async () => {
  await workers?.close();
  await stopApi?.();
  await proxy?.close();
  await amqp?.cleanup();
  await db?.drop();
  writeReport('database-failover', report);
});

interface Answer {
  startedAt: number;
  ms: number;
  status: number;
  type?: string;
  retryAfter: string | null;
  contentType: string | null;
}

/** `clients` concurrent loops booking one seat of the hot event until `stop()`. */
function stampede(clients: number) {
  const answers: Answer[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const startedAt = Date.now();
      try {
        const response = await call<{ type?: string }>(`${url}/api/v1/events/${eventId}/bookings`, { token, body: { quantity: 1 } });
        answers.push({
          startedAt,
          ms: Date.now() - startedAt,
          status: response.status,
          type: response.body?.type,
          retryAfter: response.headers.get('retry-after'),
          contentType: response.headers.get('content-type'),
        });
      } catch {
        answers.push({ startedAt, ms: Date.now() - startedAt, status: 0, retryAfter: null, contentType: null });
      }
      // a client told to retry later waits a little, as Retry-After asks (shortened for the test)
      if (answers[answers.length - 1]!.status !== 201) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const probe = async (path: string) => (await fetch(`${url}${path}`)).status;
const backlog = async () =>
  (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).rows[0]!.n;
const failureCount = async (kind: string) =>
  (await failures.get()).values.filter((v) => v.labels.kind === kind && v.labels.source === 'http').reduce((sum, v) => sum + v.value, 0);

test('failover: black-holed for 30 s mid-stampede, then healed: bookings succeed again within seconds, nobody waits past the request timeout, the relay drains', async () => {
  const load = stampede(30);
  await waitFor('bookings before the outage', async () => load.answers.filter((a) => a.status === 201).length >= 100, 20_000);
  expect(load.answers.every((a) => a.status === 201)).toBe(true);

  let oldestWaitMs = 0;
  let maxWaiting = 0;
  const readiness: number[] = [];
  const liveness: number[] = [];
  const sampler = setInterval(() => {
    const state = bookingState();
    oldestWaitMs = Math.max(oldestWaitMs, state.oldestWaitMs);
    maxWaiting = Math.max(maxWaiting, state.waiting);
    void probe('/healthz/ready').then((status) => readiness.push(status));
    void probe('/healthz/live').then((status) => liveness.push(status));
  }, 250);

  const cutAt = Date.now();
  proxy.blackhole();
  await new Promise((resolve) => setTimeout(resolve, BLACKHOLE_MS));
  const readyDuringOutage = [...readiness];
  const healedAt = Date.now();
  proxy.restore();

  const recovered = await waitFor(
    'a booking started after the heal to succeed',
    async () => load.answers.find((a) => a.startedAt >= healedAt && a.status === 201),
    20_000,
    100,
  );
  // then keep the stampede on a while, to see it steady
  await new Promise((resolve) => setTimeout(resolve, 8_000));
  await load.stop();
  clearInterval(sampler);

  const during = load.answers.filter((a) => a.startedAt >= cutAt);
  const refusals = during.filter((a) => a.status !== 201);
  const steadyFrom = healedAt + QUERY_TIMEOUT_MS + 2_000;
  Object.assign(report, {
    failover: {
      blackholeMs: BLACKHOLE_MS,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      requests: during.length,
      answered201: during.filter((a) => a.status === 201).length,
      refusedByStatus: Object.fromEntries(
        [...new Set(refusals.map((a) => a.status))].map((s) => [s, refusals.filter((a) => a.status === s).length]),
      ),
      slowestAnswerMs: Math.max(...during.map((a) => a.ms)),
      oldestWaiterMs: oldestWaitMs,
      mostWaiting: maxWaiting,
      firstBookingAfterHealMs: recovered.startedAt + recovered.ms - healedAt,
      readinessDownDuringOutage: readyDuringOutage.filter((s) => s === 503).length,
    },
  });

  // every refusal is a 503 problem+json telling the client when to retry; no 500, no hung request
  expect(refusals.length).toBeGreaterThan(0);
  for (const answer of refusals) {
    expect({ status: answer.status, type: answer.type, contentType: answer.contentType, retryAfter: answer.retryAfter }).toEqual({
      status: 503,
      type: expect.stringMatching(/\/(unavailable|timeout)$/),
      contentType: expect.stringContaining('application/problem+json'),
      retryAfter: expect.stringMatching(/^\d+$/),
    });
  }
  expect(Math.max(...during.map((a) => a.ms))).toBeLessThan(REQUEST_TIMEOUT_MS + 1_500);
  expect(oldestWaitMs).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS);
  // bookings for the hot event come back within seconds of the heal, and stay back
  expect(recovered.startedAt + recovered.ms - healedAt).toBeLessThan(QUERY_TIMEOUT_MS + 5_000);
  const steady = load.answers.filter((a) => a.startedAt >= steadyFrom);
  expect(steady.length).toBeGreaterThan(50);
  expect(steady.filter((a) => a.status !== 201)).toEqual([]);
  // readiness follows the outage and comes back; liveness never asked for a restart
  expect(readyDuringOutage).toContain(503);
  await waitFor('the api and worker to be ready again', async () => (await probe('/healthz/ready')) === 200, 15_000, 200);
  expect(liveness.every((status) => status === 200)).toBe(true);
  // the relay drains what the bookings wrote, including those of the outage
  await waitFor('the relay to drain the outbox', async () => (await backlog()) === 0, 30_000, 250);
  // and the seats add up: every booking made holds its seat, none more
  const { rows } = await db.pool.query<{ taken: number; held: number }>(
    `SELECT e.capacity - e.available AS taken, (SELECT COALESCE(sum(quantity), 0)::int FROM bookings WHERE event_id = e.id AND status = 'pending') AS held FROM events e WHERE id = $1`,
    [eventId],
  );
  expect(rows[0]!.taken).toBe(rows[0]!.held);
}, 120_000);

test('reset storm: every connection reset again and again: every failure is 503 unavailable with Retry-After, one incident line with a count, no stack, counted as unavailable', async () => {
  await waitFor('ready before the storm', async () => (await probe('/healthz/ready')) === 200, 15_000, 200);
  // the failover's incident is over first (10 s without a failure), so this storm opens its own
  await waitFor('the previous incident to be over', async () => !reporter.incidents.active.has('database unavailable'), 20_000, 200);
  const internalBefore = await failureCount('internal');
  const unavailableBefore = await failureCount('unavailable');
  const firstLine = lines.length;
  const load = stampede(20);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const stormStart = Date.now();
  const storm = setInterval(() => {
    proxy.cut();
    setTimeout(() => proxy.restore(), 50);
  }, 250);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  clearInterval(storm);
  proxy.restore();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await load.stop();

  const inStorm = load.answers.filter((a) => a.startedAt >= stormStart);
  const refused = inStorm.filter((a) => a.status !== 201);
  const logged = lines.slice(firstLine);
  const stacks = logged.filter((line) => line.err?.stack);
  const opened = logged.filter((line) => line.incident === 'database unavailable' && /failing requests are counted/.test(line.msg));
  const unavailable = (await failureCount('unavailable')) - unavailableBefore;
  Object.assign(report, {
    resetStorm: {
      requests: inStorm.length,
      answered201: inStorm.length - refused.length,
      refused: refused.length,
      statuses: [...new Set(refused.map((a) => a.status))],
      logLines: logged.length,
      linesWithStack: stacks.length,
      incidentsOpened: opened.length,
      openedBy: opened.map((line) => line.source),
      countedUnavailable: unavailable,
    },
  });
  expect(refused.length).toBeGreaterThan(0);
  for (const answer of refused) {
    expect({ status: answer.status, type: answer.type, retryAfter: answer.retryAfter }).toEqual({
      status: 503,
      type: expect.stringMatching(/\/unavailable$/),
      retryAfter: expect.stringMatching(/^\d+$/),
    });
  }
  expect(stacks.map((line) => line.msg)).toEqual([]);
  // the first failure opened the incident, whether the api or a worker loop met it; the rest were counted
  expect(opened).toHaveLength(1);
  expect(logged.filter((line) => line.level === 'error' && line.msg !== 'request').map((line) => line.msg)).toEqual([]);
  expect(unavailable).toBeGreaterThanOrEqual(refused.length);
  expect((await failureCount('internal')) - internalBefore).toBe(0);
}, 60_000);
