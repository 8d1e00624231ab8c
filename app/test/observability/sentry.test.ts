/**
 * Error tracking (issue 17, Sentry): the SDK's real transport, pointed at a local server that
 * speaks Sentry's envelope protocol (support/sentry-sink.ts).
 *  - the api and worker roles as processes (main.ts from the sources) with SENTRY_DSN and the
 *    OpenTelemetry setup on: a bug injected by schema drift (a table renamed under the running
 *    service) produces exactly one event for the one failed request, with its request id, route,
 *    role, release, environment and the trace id the request carried (W3C traceparent, joined by
 *    the existing tracer), and none of the request's secrets; 4xx answers send nothing; a worker
 *    bug is captured with its role and component;
 *  - the reporter itself: every string of an event is scrubbed (e-mails, tokens, passwords,
 *    secrets in URLs), secret-keyed values are replaced, and an outage is one event, not one per
 *    failure.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { JwtAccessTokenCodec } from '../../src/adapters/crypto/jwt';
import { ServiceUnavailableError } from '../../src/domain/errors';
import { scrubText, startErrorTracking } from '../../src/observability/error-tracking';
import { FailureReporter } from '../../src/observability/failures';
import { createLogger } from '../../src/observability/logger';
import { startFromSource, type RunningService } from '../e2e/process';
import { TEST_JWT_SECRET } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startSentrySink, type SentrySink } from '../support/sentry-sink';
import { waitFor } from '../integration/messaging/helpers';

const RELEASE = 'ghcr.io/goticket/goticket:1.4.2@sha256:' + 'ab'.repeat(32);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the api and worker processes with SENTRY_DSN set', () => {
  let db: TestDatabase;
  let sink: SentrySink;
  let otlp: Server;
  let api: RunningService;
  let worker: RunningService;
  let token: string;
  const userEmail = `dave-${randomUUID().slice(0, 8)}@example.test`;

  beforeAll(async () => {
    db = await createTestDatabase();
    sink = await startSentrySink();
    // the OpenTelemetry exporter's endpoint: accepts and drops what it is sent
    otlp = createServer((req, res) => req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')));
    await new Promise<void>((resolve) => otlp.listen(0, '127.0.0.1', resolve));
    const env = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      DB_POOL_MAX: '4',
      OUTBOX_POLL_INTERVAL: '200ms',
      SENTRY_DSN: sink.dsn,
      SENTRY_RELEASE: RELEASE,
      SENTRY_ENVIRONMENT: 'staging',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`,
    };
    [api, worker] = await Promise.all([startFromSource('api', env), startFromSource('worker', env)]);
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', 'user') RETURNING id`,
      [userEmail],
    );
    token = new JwtAccessTokenCodec({ secret: TEST_JWT_SECRET, issuer: 'goticket', audience: 'goticket-api', ttlMs: 600_000 }).sign({
      userId: rows[0]!.id,
      role: 'user',
      tokenVersion: 0,
    }).token;
  }, 120_000);

  afterAll(async () => {
    for (const service of [api, worker]) if (service && service.child.exitCode === null) await service.stop();
    await sink?.close();
    await new Promise((resolve) => (otlp ? otlp.close(resolve) : resolve(undefined)));
    await db?.drop();
  });

  test('4xx answers send nothing; one injected bug is exactly one event with request id, trace id, release and environment, and none of the secrets', async () => {
    const notFound = await fetch(`${api.url}/api/v1/events/${randomUUID()}`, { headers: { authorization: `Bearer ${token}` } });
    const badQuery = await fetch(`${api.url}/api/v1/events?limit=lots`);
    expect([notFound.status, badQuery.status]).toEqual([404, 400]);

    // the bug: the schema drifted under the running service
    await db.pool.query('ALTER TABLE events RENAME TO events_gone');
    const traceId = randomBytes(16).toString('hex');
    const cookieSecret = randomBytes(12).toString('hex');
    const querySecret = randomBytes(12).toString('hex');
    const failed = await fetch(`${api.url}/api/v1/events?q=${encodeURIComponent(`carol@example.com ${querySecret}`)}`, {
      headers: {
        authorization: `Bearer ${token}`,
        cookie: `session=${cookieSecret}`,
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
        'x-request-id': 'sentry-test-request-1',
      },
    });
    expect(failed.status).toBe(500);
    await db.pool.query('ALTER TABLE events_gone RENAME TO events');

    await waitFor('the event to reach the sink', async () => sink.events().length > 0, 15_000, 50);
    await sleep(1_000);
    const events = sink.events().filter((event) => (event.tags as Record<string, string> | undefined)?.role === 'api');
    expect(events).toHaveLength(1);
    const event = events[0]! as {
      level: string;
      release: string;
      environment: string;
      tags: Record<string, string>;
      contexts: { trace: { trace_id: string } };
      exception: { values: Array<{ type: string; value: string }> };
    };
    expect(event).toMatchObject({
      level: 'error',
      release: RELEASE,
      environment: 'staging',
      tags: { role: 'api', source: 'http', request_id: 'sentry-test-request-1', method: 'GET' },
      contexts: { trace: { trace_id: traceId } },
    });
    expect(event.tags.route).not.toContain('?');
    expect(event.exception.values.map((value) => value.value).join(' ')).toMatch(/events.*does not exist/);
    const raw = sink.envelopes.map((envelope) => envelope.raw).join('\n');
    for (const secret of [token, cookieSecret, querySecret, 'carol@example.com', userEmail, TEST_JWT_SECRET])
      expect(raw).not.toContain(secret);
  }, 60_000);

  test('a worker bug is captured with the worker role and its component', async () => {
    await db.pool.query('ALTER TABLE outbox RENAME TO outbox_gone');
    try {
      await waitFor(
        'a worker event',
        async () => sink.events().some((event) => (event.tags as Record<string, string> | undefined)?.role === 'worker'),
        15_000,
        100,
      );
    } finally {
      await db.pool.query('ALTER TABLE outbox_gone RENAME TO outbox');
    }
    const event = sink.events().find((e) => (e.tags as Record<string, string> | undefined)?.role === 'worker')!;
    expect(event).toMatchObject({
      level: 'error',
      release: RELEASE,
      environment: 'staging',
      tags: { role: 'worker', source: 'worker', component: 'outbox-relay' },
    });
  }, 60_000);
});

describe('the reporter', () => {
  let sink: SentrySink;
  beforeEach(async () => {
    sink = await startSentrySink();
  });
  afterEach(async () => {
    await sink.close();
  });

  const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });

  test('scrubs every string and secret-keyed value of the event before it is sent', async () => {
    const tracker = startErrorTracking({ dsn: sink.dsn, environment: 'test', release: 'r1', sampleRate: 1, role: 'api' })!;
    const reporter = new FailureReporter(quiet, { tracker });
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const cause = Object.assign(new Error(`connect to postgres://app:pg-pass-123@db.internal:5432/app failed`), {
      password: 'field-secret-1',
    });
    const bug = new Error(`refund failed for erin@example.org with Bearer ${jwt} and password=hunter2hunter2 (api_key=k-999)`, { cause });
    reporter.report(bug, { source: 'http', requestId: 'r-1', method: 'POST', route: '/api/v1/bookings/:id/confirm' });
    expect(await tracker.flush(5_000)).toBe(true);
    await waitFor('the event', async () => sink.events().length === 1, 5_000, 20);

    const raw = sink.envelopes.map((envelope) => envelope.raw).join('\n');
    for (const secret of ['erin@example.org', jwt, 'hunter2hunter2', 'k-999', 'pg-pass-123', 'field-secret-1'])
      expect(raw).not.toContain(secret);
    const [event] = sink.events() as Array<{ exception: { values: Array<{ value: string }> }; tags: Record<string, string> }>;
    // what is left still says what happened
    expect(event!.exception.values.map((value) => value.value).join('\n')).toMatch(/refund failed for \[email\] with Bearer \[redacted\]/);
    expect(event!.exception.values).toHaveLength(2);
    expect(event!.tags).toMatchObject({ role: 'api', request_id: 'r-1', route: '/api/v1/bookings/:id/confirm' });
  });

  test('an outage is one event however many requests it fails; sampling 0 sends nothing', async () => {
    const tracker = startErrorTracking({ dsn: sink.dsn, environment: 'test', sampleRate: 1, role: 'worker' })!;
    const reporter = new FailureReporter(quiet, { tracker, quietMs: 60_000 });
    for (let i = 0; i < 50; i++)
      reporter.report(new ServiceUnavailableError('database', 'connection refused'), { source: 'worker', component: 'outbox-relay' });
    expect(await tracker.flush(5_000)).toBe(true);
    await sleep(200);
    expect(sink.events()).toHaveLength(1);
    expect(sink.events()[0]).toMatchObject({ level: 'warning', tags: { incident: 'database unavailable', role: 'worker' } });
    reporter.incidents.flush();

    const sampledOut = startErrorTracking({ dsn: sink.dsn, environment: 'test', sampleRate: 0, role: 'api' })!;
    new FailureReporter(quiet, { tracker: sampledOut }).report(new Error('a bug nobody samples'), { source: 'http' });
    expect(await sampledOut.flush(2_000)).toBe(true);
    await sleep(200);
    expect(sink.events()).toHaveLength(1);
  });

  test('off without a DSN', () => {
    expect(startErrorTracking({ environment: 'test', sampleRate: 1, role: 'api' })).toBeNull();
    expect(scrubText('mail frank@example.net')).toBe('mail [email]');
  });
});
