/**
 * The live proof, against real servers: the compiled service (api and worker as two processes,
 * PostgreSQL, RabbitMQ and Redis of this machine), a real Prometheus (Debian package) scraping
 * both every second with the recording rules loaded, and a tiny OTLP/HTTP receiver collecting
 * the spans. After real traffic (bookings, confirmations, sold out, 4xx, rate limits):
 *  - every dashboard panel query and every recording rule returns at least one series;
 *  - one booking is one trace: its http, pg and amqp spans, and the worker's consume span.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { DASHBOARDS, panelQueries } from '../../../charts/observability/dashboards';
import { RECORDING_GROUPS, ruleGroups } from '../../../charts/observability/rules';
import { call, futureEvent } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { TEST_AMQP_URL, TEST_REDIS_URL, uniqueName } from '../support/env';
import { freePort } from '../../../scripts/lib/free-port';
import { grpcClients, unary } from '../support/grpc';
import { buildService, startService, type RunningService } from '../e2e/process';

jest.setTimeout(180_000);

const NAMESPACE = 'goticket';
const ADMIN = { email: 'admin@example.test', password: 'admin-password-123' };

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  service: string;
  scope: string;
}

/** OTLP/HTTP JSON receiver: POST /v1/traces → spans. */
class OtlpReceiver {
  readonly spans: Span[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.url === '/v1/traces') this.collect(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private collect(payload: any): void {
    for (const resourceSpans of payload.resourceSpans ?? []) {
      const service = resourceSpans.resource?.attributes?.find((a: { key: string }) => a.key === 'service.name')?.value?.stringValue ?? '?';
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        for (const span of scopeSpans.spans ?? []) {
          this.spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            kind: span.kind,
            service,
            scope: scopeSpans.scope?.name ?? '',
          });
        }
      }
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

let dir: string;
let buildDir: string;
let db: TestDatabase;
let api: RunningService;
let worker: RunningService;
let prometheus: ChildProcess;
let prometheusUrl: string;
let prometheusLog = '';
const receiver = new OtlpReceiver();
let base: string;
let bookingTraceId: string;
let grpcAddress: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'goticket-live-'));
  const [buildRoot, database] = await Promise.all([buildService(), createTestDatabase(), receiver.start()]);
  db = database;
  buildDir = buildRoot;
  const env = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.url,
    // two processes beside other test files: stay well inside the server's max_connections
    DB_POOL_MAX: '5',
    AMQP_URL: TEST_AMQP_URL,
    AMQP_PREFIX: uniqueName('obs'),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `${uniqueName('obs')}:`,
    JWT_SECRET: 'live-observability-test-secret-0123456789abcdef',
    BCRYPT_COST: '4',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    RATE_LIMIT_LOGIN_FAILURES: '2',
    OUTBOX_POLL_INTERVAL: '200ms',
    SHUTDOWN_TIMEOUT: '10s',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
  [api, worker] = await Promise.all([startService(buildRoot, 'api', env), startService(buildRoot, 'worker', env)]);
  // the port is the kernel's choice, read back from the listening line: a port picked free earlier can be taken
  // by a parallel test file before the service binds it (EADDRINUSE seen in CI)
  if (api.grpcPort === undefined) throw new Error(`the api did not report its gRPC port:\n${api.output()}`);
  grpcAddress = `127.0.0.1:${api.grpcPort}`;
  base = api.url;

  const rules = path.join(dir, 'rules.yaml');
  writeFileSync(rules, stringify(ruleGroups()));
  const target = (job: string, url: string, pod: string) => ({
    job_name: job,
    scrape_interval: '1s',
    static_configs: [{ targets: [new URL(url).host], labels: { namespace: NAMESPACE, pod, service: job } }],
  });
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [rules],
      scrape_configs: [target('goticket-api', api.url, 'goticket-api-0'), target('goticket-worker', worker.url, 'goticket-worker-0')],
    }),
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  prometheus.on('error', (error) => (prometheusLog += `spawn failed: ${error.message} (install Debian package prometheus)\n`));
  prometheus.stdout!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
  prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));

  await driveTraffic();
}, 240_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    prometheus.kill('SIGTERM');
    await once(prometheus, 'exit');
  }
  await Promise.all([api?.stop(), worker?.stop()]);
  await receiver.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

async function driveTraffic(): Promise<void> {
  const v1 = `${base}/api/v1`;
  const login = async (who: { email: string; password: string }) => {
    const r = await call<{ accessToken: string }>(`${v1}/auth/login`, { body: who });
    expect(r.status).toBe(200);
    return r.body.accessToken;
  };
  const admin = await login(ADMIN);
  const organizer = { email: 'organizer@example.test', password: 'organizer-pass-123' };
  const created = await call<{ id: string }>(`${v1}/auth/register`, { body: organizer });
  expect(created.status).toBe(201);
  expect((await call(`${v1}/users/${created.body.id}/role`, { method: 'PATCH', token: admin, body: { role: 'organizer' } })).status).toBe(
    200,
  );
  const organizerToken = await login(organizer);
  const event = async (name: string, capacity: number) => {
    const r = await call<{ id: string }>(`${v1}/events`, {
      token: organizerToken,
      body: futureEvent({ name, capacity, priceCents: 4200 }),
    });
    expect(r.status).toBe(201);
    return r.body.id;
  };
  const gala = await event('Gala', 6);
  const jazz = await event('Jazz Night', 40);

  const buyers: string[] = [];
  for (let i = 0; i < 4; i++) {
    const who = { email: `buyer${i}@example.test`, password: 'buyer-password-123' };
    expect((await call(`${v1}/auth/register`, { body: who })).status).toBe(201);
    buyers.push(await login(who));
  }

  const first = await call<{ id: string }>(`${v1}/events/${jazz}/bookings`, { token: buyers[0], body: { quantity: 2 } });
  expect(first.status).toBe(201);

  // bookings and confirmations (tickets sold, revenue), a cancellation, sell-out of the Gala. The holds
  // are paid ones: their owners' bare confirm is a 402 (they pay through the payments saga, which this
  // test does not run); the admin override confirms them (audited), as the API counts confirmations.
  for (const [i, token] of buyers.entries()) {
    const booking = await call<{ id: string }>(`${v1}/events/${jazz}/bookings`, { token, body: { quantity: 1 + i } });
    expect(booking.status).toBe(201);
    expect((await call(`${v1}/bookings/${booking.body.id}/confirm`, { method: 'POST', token })).status).toBe(402);
    expect((await call(`${v1}/bookings/${booking.body.id}/confirm`, { method: 'POST', token: admin })).status).toBe(200);
  }
  const toCancel = await call<{ id: string }>(`${v1}/events/${jazz}/bookings`, { token: buyers[1], body: { quantity: 1 } });
  // the cancellation whose trace the tracing test follows: its booking.cancelled event is one the
  // worker consumes (the notifier's queue is bound to confirmed/cancelled/expired only, so a bare
  // booking.created is published but consumed by nobody)
  expect((await call(`${v1}/bookings/${toCancel.body.id}/cancel`, { method: 'POST', token: buyers[1] })).status).toBe(200);
  bookingTraceId = await until(
    'the server span of the cancellation',
    () =>
      receiver.spans.find((s) => s.service === 'goticket-api' && s.kind === 2 && s.name === 'POST /api/v1/bookings/:id/cancel')?.traceId,
    15_000,
    100,
  );
  const statuses: number[] = [];
  for (const token of [...buyers, ...buyers])
    statuses.push((await call(`${v1}/events/${gala}/bookings`, { token, body: { quantity: 2 } })).status);
  expect(statuses.filter((s) => s === 201)).toHaveLength(3);
  expect(statuses.filter((s) => s === 409).length).toBeGreaterThanOrEqual(1);

  // the GraphQL and gRPC edges: an operation and a call each, so their panels and rules have series
  const graphql = await call<{ data?: { event?: { id: string } } }>(`${base}/graphql`, {
    body: { query: 'query One($id: ID!) { event(id: $id) { id } }', variables: { id: jazz } },
  });
  expect(graphql.body.data?.event?.id).toBe(jazz);
  const clients = grpcClients(grpcAddress);
  try {
    expect(await unary(clients.events, 'GetEvent', { id: jazz })).toMatchObject({ ok: true });
  } finally {
    clients.close();
  }

  // reads (cache misses then hits), client errors, rate-limited failed logins
  for (let i = 0; i < 5; i++) {
    expect((await call(`${v1}/events`)).status).toBe(200);
    expect((await call(`${v1}/events/${jazz}`)).status).toBe(200);
  }
  expect((await call(`${v1}/events/not-a-uuid`)).status).toBe(400);
  expect((await call(`${v1}/events/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  expect((await call(`${v1}/bookings`)).status).toBe(401);
  const failed: number[] = [];
  for (let i = 0; i < 4; i++)
    failed.push((await call(`${v1}/auth/login`, { body: { email: 'buyer0@example.test', password: 'wrong-password-1' } })).status);
  expect(failed).toContain(429);
}

async function instant(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const json = (await response.json()) as {
    status: string;
    error?: string;
    data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  };
  if (json.status !== 'success') throw new Error(`${expr}: ${json.error}`);
  return json.data!.result;
}

/** Grafana's variables as the dashboard's defaults resolve them here. */
function substitute(expr: string): string {
  return expr
    .replaceAll('$namespace', NAMESPACE)
    .replaceAll('$pod', '.*')
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '5m')
    .replaceAll('$__interval', '15s');
}

describe('a real Prometheus scraping the api and the worker', () => {
  beforeAll(async () => {
    await until(
      'Prometheus to scrape both targets',
      async () => {
        if (prometheus.exitCode !== null) throw new Error(`prometheus exited:\n${prometheusLog}`);
        const up = await instant('up == 1').catch(() => []);
        return up.length === 2 ? up : undefined;
      },
      30_000,
    );
  });

  test('the template variables resolve: namespace and both pods', async () => {
    const ns = await instant('count by (namespace) (up{job=~"goticket-.+"})');
    expect(ns.map((r) => r.metric.namespace)).toEqual([NAMESPACE]);
    const pods = await instant(`count by (pod) (up{namespace="${NAMESPACE}", job=~"goticket-.+"})`);
    expect(pods.map((r) => r.metric.pod).sort()).toEqual(['goticket-api-0', 'goticket-worker-0']);
  });

  test('every dashboard panel query returns data', async () => {
    const queries = DASHBOARDS.flatMap(({ name, build }) =>
      panelQueries(build()).map((q) => ({ ...q, dashboard: name, expr: substitute(q.expr) })),
    );
    expect(queries.length).toBeGreaterThanOrEqual(30);
    // the emptiness check itself works: an unknown metric has no series
    expect(await instant(substitute('goticket_no_such_metric{namespace="$namespace", pod=~"$pod"}'))).toEqual([]);
    const empty = await until(
      'every panel to show data',
      async () => {
        const missing: string[] = [];
        for (const q of queries) if ((await instant(q.expr)).length === 0) missing.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
        return missing.length === 0 ? missing : undefined;
      },
      45_000,
      1_000,
    ).catch((error: Error) => [error.message]);
    expect(empty).toEqual([]);
  });

  test('every recording rule returns data', async () => {
    const records = RECORDING_GROUPS.flatMap((g) => g.rules.map((r) => r.record));
    const missing = await until(
      'every recording rule to have series',
      async () => {
        const none: string[] = [];
        for (const record of records) if ((await instant(record)).length === 0) none.push(record);
        return none.length === 0 ? none : undefined;
      },
      30_000,
      1_000,
    ).catch(async () => {
      const none: string[] = [];
      for (const record of records) if ((await instant(record)).length === 0) none.push(record);
      return none;
    });
    expect(missing).toEqual([]);
  });

  test("prometheus-adapter's rule (infra/values) yields the api's requests per second per pod, the metric its HPA scales on", async () => {
    type Rule = { seriesQuery: string; metricsQuery: string };
    const values = parse(readFileSync(path.join(__dirname, '../../../infra/values/prometheus-adapter.yaml'), 'utf8')) as {
      rules: { custom: Rule[] };
    };
    const [rule] = values.rules.custom;
    // what the adapter asks Prometheus for the api pods of an HPA: its series, then the query with their matchers
    expect((await instant(rule!.seriesQuery)).some((s) => s.metric.pod === 'goticket-api-0')).toBe(true);
    const query = rule!.metricsQuery
      .replace('<<.Series>>', rule!.seriesQuery.slice(0, rule!.seriesQuery.indexOf('{')))
      .replace('<<.LabelMatchers>>', `namespace="${NAMESPACE}",pod=~"goticket-api-0"`)
      .replace('<<.GroupBy>>', 'pod');
    // a rate needs a counter that moves between scrapes (1 s apart): steady reads for 3 s
    for (let i = 0; i < 30; i++) {
      expect((await call(`${base}/api/v1/events?limit=1`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const perPod = await until(
      'a positive request rate for the api pod',
      async () => {
        const result = await instant(query);
        return result.length === 1 && Number(result[0]!.value[1]) > 0 ? result : undefined;
      },
      10_000,
      500,
    );
    expect(perPod.map((s) => s.metric)).toEqual([{ pod: 'goticket-api-0' }]);
    // API routes only: the worker (probes and scrapes) has no API requests to count
    const worker = await instant(query.replace('goticket-api-0', 'goticket-worker-0'));
    expect(worker.every((s) => Number(s.value[1]) === 0)).toBe(true);
  });

  test('the numbers match the traffic: tickets sold, revenue, sold out, top events by name', async () => {
    // 2+1+2+3+4 seats confirmed on the Jazz Night at 42.00
    expect(Number((await instant('sum(goticket_tickets_sold_total)'))[0]!.value[1])).toBe(10);
    expect(Number((await instant('sum(goticket_revenue_cents_total)'))[0]!.value[1])).toBe(10 * 4200);
    expect(Number((await instant('sum(goticket_booking_attempts_total{outcome="sold_out"})'))[0]!.value[1])).toBeGreaterThanOrEqual(1);
    const top = await until(
      'the top events sample',
      async () => {
        const rows = await instant('goticket:top_events:tickets_sold');
        return rows.length > 0 ? rows : undefined;
      },
      20_000,
    );
    expect(top.map((r) => r.metric.event)).toEqual([expect.stringMatching(/^Jazz Night \(\d{4}-\d{2}-\d{2}\)$/)]);
    // label cardinality stays bounded: route templates, never raw paths or ids
    const routes = (await instant('count by (route) (http_request_duration_seconds_count)')).map((r) => r.metric.route!);
    expect(routes.filter((r) => /[0-9a-f]{8}-[0-9a-f]{4}/.test(r) || r.includes('not-a-uuid'))).toEqual([]);
    expect(routes).toEqual(expect.arrayContaining(['/api/v1/events/:id/bookings', '/api/v1/bookings/:id/confirm']));
  });
});

describe('tracing over OTLP/HTTP', () => {
  test('one booking change is one trace: http and pg spans in the api, amqp publish and consume in the worker', async () => {
    const trace = await until(
      'the worker spans of the cancellation trace',
      () => {
        const spans = receiver.spans.filter((s) => s.traceId === bookingTraceId);
        return spans.some((s) => s.service === 'goticket-worker' && s.kind === 5) ? spans : undefined;
      },
      20_000,
    ).catch((error: Error) => {
      const summary = receiver.spans.map(
        (s) => `${s.traceId === bookingTraceId ? '*' : ' '} ${s.traceId.slice(0, 8)} ${s.service} ${s.scope} ${s.kind} ${s.name}`,
      );
      throw new Error(`${error.message}; spans received:\n${summary.join('\n')}`);
    });
    const describe = (s: Span) => `${s.service} ${s.scope.replace('@opentelemetry/instrumentation-', '')} ${s.kind} ${s.name}`;
    const seen = trace.map(describe);
    // kinds: 2 server, 3 client, 4 producer, 5 consumer
    expect(trace.some((s) => s.service === 'goticket-api' && s.kind === 2 && s.scope.includes('http'))).toBe(true);
    expect(trace.some((s) => s.service === 'goticket-api' && s.scope.includes('express'))).toBe(true);
    expect([
      seen,
      trace.some((s) => s.service === 'goticket-api' && s.scope.includes('pg') && /INSERT|WITH|pg\.query/i.test(s.name)),
    ]).toEqual([seen, true]);
    expect([seen, trace.some((s) => s.service === 'goticket-worker' && s.kind === 4 && s.scope.includes('amqplib'))]).toEqual([seen, true]);
    const consume = trace.find((s) => s.service === 'goticket-worker' && s.kind === 5 && s.scope.includes('amqplib'))!;
    expect(consume.traceId).toBe(bookingTraceId);
    // the consume span's parent is the publish span, whose parent lives in the api's trace
    const publish = trace.find((s) => s.spanId === consume.parentSpanId);
    expect(publish?.kind).toBe(4);
    expect(trace.some((s) => s.spanId === publish?.parentSpanId && s.service === 'goticket-api')).toBe(true);
  });

  test('an event change continues in the worker too: its event.* publish joins the request trace', async () => {
    const creations = receiver.spans.filter((s) => s.service === 'goticket-api' && s.kind === 2 && s.name === 'POST /api/v1/events');
    expect(creations.length).toBeGreaterThanOrEqual(2);
    const traceIds = new Set(creations.map((s) => s.traceId));
    const publishes = await until(
      'the worker publish spans of the event creations',
      () => {
        const found = receiver.spans.filter((s) => traceIds.has(s.traceId) && s.service === 'goticket-worker' && s.kind === 4);
        return new Set(found.map((s) => s.traceId)).size === traceIds.size ? found : undefined;
      },
      20_000,
    );
    expect(publishes.every((s) => s.scope.includes('amqplib'))).toBe(true);
  });

  test('log lines written inside a span carry its trace_id', () => {
    const lines = api
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const bookingLine = lines.find(
      (l) => l.msg === 'request' && l.route === '/api/v1/bookings/:id/cancel' && l.trace_id === bookingTraceId,
    );
    expect(bookingLine).toBeDefined();
    expect(bookingLine!.span_id).toMatch(/^[0-9a-f]{16}$/);
    // probes and scrapes are not traced, so their lines have none
    const probeRoutes = new Set(['/healthz/live', '/healthz/ready', '/metrics']);
    const scrapes = lines.filter(
      (l) => l.msg === 'request' && l.method === 'GET' && probeRoutes.has(l.route as string) && l.status === 200,
    );
    expect(scrapes.length).toBeGreaterThan(0);
    expect(scrapes.filter((l) => l.trace_id !== undefined)).toEqual([]);
  });
});
