/**
 * The PrometheusRule as synthesized: `promtool check rules`, then `promtool test rules` with a
 * firing and a silent case for every alert (and the recording rules the alerts build on).
 * promtool is Debian's `prometheus` package (scripts/system-deps.sh installs it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ENVIRONMENTS } from '../../environments';
import { contextFor, synthObjects } from '../../main';
import { ALERTS, RUNBOOK_BASE } from '../rules';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const dir = mkdtempSync(path.join(tmpdir(), 'goticket-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function promtool(...args: string[]) {
  const result = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`promtool: ${result.error.message} (install Debian package prometheus: scripts/system-deps.sh)`);
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/** promtool wants the plain `groups` document: the PrometheusRule's `.spec`. */
function ruleFileOf(envName: string): string {
  const env = ENVIRONMENTS.find((e) => e.name === envName)!;
  const rule = synthObjects(contextFor(env)).find((o: Obj) => o.kind === 'PrometheusRule') as Obj;
  const file = path.join(dir, `rules-${envName}.yaml`);
  writeFileSync(file, stringify(rule.spec));
  return file;
}

const NS = 'goticket';
const API = `namespace="${NS}", job="goticket-api"`;
const annotations = (alert: string, summary: string, description: string) => ({
  summary,
  description,
  runbook_url: `${RUNBOOK_BASE}/${alert}.md`,
});
const summaryOf = (alert: string) => ALERTS.find((a) => a.alert === alert)!.annotations.summary;

interface Case {
  name: string;
  alert: string;
  series: Array<[string, string]>;
  evalTime: string;
  /** Empty: the alert must stay silent. */
  expect: Array<{ labels: Record<string, string>; description: string }>;
}

const requests = (status: string, values: string, route = '/api/v1/events') =>
  [`http_request_duration_seconds_count{${API}, route="${route}", method="GET", status="${status}"}`, values] as [string, string];
const buckets = (counts: Record<string, string>) =>
  Object.entries(counts).map(
    ([le, values]) =>
      [`http_request_duration_seconds_bucket{${API}, route="/api/v1/events", method="GET", status="200", le="${le}"}`, values] as [
        string,
        string,
      ],
  );

const graphqlOps = (outcome: string, values: string) =>
  [`goticket_graphql_operations_total{${API}, operation="Book", type="mutation", outcome="${outcome}"}`, values] as [string, string];
const grpcCalls = (code: string, values: string) =>
  [
    `grpc_server_handled_total{${API}, grpc_type="unary", grpc_service="goticket.v1.BookingService", grpc_method="CreateBooking", grpc_code="${code}"}`,
    values,
  ] as [string, string];

const CASES: Case[] = [
  {
    name: '20 % of GraphQL operations fail on the server at 10 op/s',
    alert: 'GoTicketGraphqlErrorRatio',
    series: [graphqlOps('ok', '0+480x30'), graphqlOps('internal_server_error', '0+120x30')],
    evalTime: '15m',
    expect: [
      {
        labels: { namespace: NS, job: 'goticket-api', severity: 'critical' },
        description: '20% of GraphQL operations in goticket failed on the server over the last 5 minutes.',
      },
    ],
  },
  {
    name: 'GraphQL refusals (sold out, bad input) are not server errors',
    alert: 'GoTicketGraphqlErrorRatio',
    series: [graphqlOps('ok', '0+300x30'), graphqlOps('sold_out', '0+300x30'), graphqlOps('bad_user_input', '0+100x30')],
    evalTime: '15m',
    expect: [],
  },
  {
    name: '20 % of gRPC calls INTERNAL at 10 rps',
    alert: 'GoTicketGrpcErrorRatio',
    series: [grpcCalls('OK', '0+480x30'), grpcCalls('INTERNAL', '0+120x30')],
    evalTime: '15m',
    expect: [
      {
        labels: { namespace: NS, job: 'goticket-api', severity: 'critical' },
        description:
          '20% of gRPC calls in goticket ended INTERNAL, UNAVAILABLE, UNKNOWN, DATA_LOSS or DEADLINE_EXCEEDED over the last 5 minutes.',
      },
    ],
  },
  {
    name: 'gRPC FAILED_PRECONDITION (sold out) is not a server error',
    alert: 'GoTicketGrpcErrorRatio',
    series: [grpcCalls('OK', '0+300x30'), grpcCalls('FAILED_PRECONDITION', '0+300x30')],
    evalTime: '15m',
    expect: [],
  },
  {
    name: '20 % of requests fail at 10 req/s',
    alert: 'GoTicketHigh5xxRatio',
    series: [requests('200', '0+480x30'), requests('500', '0+120x30')],
    evalTime: '15m',
    expect: [
      {
        labels: { namespace: NS, job: 'goticket-api', severity: 'critical' },
        description: '20% of API requests in goticket answered 5xx over the last 5 minutes.',
      },
    ],
  },
  {
    name: '1 % of requests fail',
    alert: 'GoTicketHigh5xxRatio',
    series: [requests('200', '0+594x30'), requests('500', '0+6x30')],
    evalTime: '15m',
    expect: [],
  },
  {
    name: 'half of a trickle (0.2 req/s) fails',
    alert: 'GoTicketHigh5xxRatio',
    series: [requests('200', '0+6x30'), requests('500', '0+6x30')],
    evalTime: '15m',
    expect: [],
  },
  {
    name: '5xx on probes only, not the API',
    alert: 'GoTicketHigh5xxRatio',
    series: [requests('200', '0+600x30'), requests('503', '0+600x30', '/healthz/ready')],
    evalTime: '15m',
    expect: [],
  },
  {
    name: 'every request takes 0.5-1 s',
    alert: 'GoTicketLatencyP99AboveSLO',
    series: buckets({ '0.25': '0x30', '0.5': '0x30', '1': '0+60x30', '+Inf': '0+60x30' }),
    evalTime: '20m',
    expect: [
      {
        labels: { namespace: NS, job: 'goticket-api', severity: 'warning' },
        description: 'p99 latency of API requests in goticket is 995ms (SLO: 500ms).',
      },
    ],
  },
  {
    name: 'every request under 250 ms',
    alert: 'GoTicketLatencyP99AboveSLO',
    series: buckets({ '0.25': '0+60x30', '0.5': '0+60x30', '1': '0+60x30', '+Inf': '0+60x30' }),
    evalTime: '20m',
    expect: [],
  },
  {
    // slow requests for 4 minutes keep the 5 min p99 above the SLO for about 8 minutes: pending, never firing
    name: 'slow for 4 minutes only (shorter than for: 10m)',
    alert: 'GoTicketLatencyP99AboveSLO',
    series: buckets({ '0.25': '0x3 0+60x17', '0.5': '0x3 0+60x17', '1': '0+60x20', '+Inf': '0+60x20' }),
    evalTime: '9m',
    expect: [],
  },
  {
    name: 'backlog grows by 20 a minute',
    alert: 'GoTicketOutboxBacklogGrowing',
    series: [[`goticket_outbox_backlog{namespace="${NS}", pod="goticket-worker-a"}`, '0+20x40']],
    evalTime: '25m',
    expect: [
      {
        labels: { namespace: NS, severity: 'warning' },
        description: 'goticket has 500 unpublished outbox events and the backlog keeps growing.',
      },
    ],
  },
  {
    name: 'backlog high but steady',
    alert: 'GoTicketOutboxBacklogGrowing',
    series: [[`goticket_outbox_backlog{namespace="${NS}", pod="goticket-worker-a"}`, '150x40']],
    evalTime: '25m',
    expect: [],
  },
  {
    name: 'backlog growing but small',
    alert: 'GoTicketOutboxBacklogGrowing',
    series: [[`goticket_outbox_backlog{namespace="${NS}", pod="goticket-worker-a"}`, '0+2x40']],
    evalTime: '25m',
    expect: [],
  },
  {
    name: 'oldest event ages a minute per minute',
    alert: 'GoTicketOutboxEventTooOld',
    series: [[`goticket_outbox_oldest_unpublished_age_seconds{namespace="${NS}", pod="goticket-worker-a"}`, '0+60x40']],
    evalTime: '20m',
    expect: [
      {
        labels: { namespace: NS, severity: 'critical' },
        description: 'The oldest unpublished domain event in goticket is 20m 0s old: the relay is not publishing.',
      },
    ],
  },
  {
    name: 'events published within seconds',
    alert: 'GoTicketOutboxEventTooOld',
    series: [[`goticket_outbox_oldest_unpublished_age_seconds{namespace="${NS}", pod="goticket-worker-a"}`, '3x40']],
    evalTime: '20m',
    expect: [],
  },
  {
    name: 'messages wait, consumer counter flat',
    alert: 'GoTicketNotifierNotConsuming',
    series: [
      [`goticket_queue_messages{namespace="${NS}", pod="goticket-worker-a", queue="notifications"}`, '50x40'],
      [`goticket_consumer_messages_total{namespace="${NS}", pod="goticket-worker-a", outcome="ack"}`, '100x40'],
    ],
    evalTime: '20m',
    expect: [
      {
        labels: { namespace: NS, severity: 'critical' },
        description: '50 messages wait in the notifications queue of goticket and no worker consumed any for 10 minutes.',
      },
    ],
  },
  {
    name: 'messages wait, no consumer metrics at all (worker gone)',
    alert: 'GoTicketNotifierNotConsuming',
    series: [[`goticket_queue_messages{namespace="${NS}", pod="goticket-worker-a", queue="notifications"}`, '7x40']],
    evalTime: '20m',
    expect: [
      {
        labels: { namespace: NS, severity: 'critical' },
        description: '7 messages wait in the notifications queue of goticket and no worker consumed any for 10 minutes.',
      },
    ],
  },
  {
    name: 'messages wait but are being consumed',
    alert: 'GoTicketNotifierNotConsuming',
    series: [
      [`goticket_queue_messages{namespace="${NS}", pod="goticket-worker-a", queue="notifications"}`, '50x40'],
      [`goticket_consumer_messages_total{namespace="${NS}", pod="goticket-worker-a", outcome="ack"}`, '0+30x40'],
    ],
    evalTime: '20m',
    expect: [],
  },
  {
    name: 'three messages dead-lettered',
    alert: 'GoTicketDLQNotEmpty',
    series: [[`goticket_queue_messages{namespace="${NS}", pod="goticket-worker-a", queue="dlq"}`, '3x20']],
    evalTime: '10m',
    expect: [{ labels: { namespace: NS, severity: 'warning' }, description: '3 messages sit in the notifications DLQ of goticket.' }],
  },
  {
    name: 'DLQ empty (other queues busy)',
    alert: 'GoTicketDLQNotEmpty',
    series: [
      [`goticket_queue_messages{namespace="${NS}", pod="goticket-worker-a", queue="dlq"}`, '0x20'],
      [`goticket_queue_messages{namespace="${NS}", pod="goticket-worker-a", queue="retry"}`, '9x20'],
    ],
    evalTime: '10m',
    expect: [],
  },
  {
    name: '2 payments stuck for 20 minutes',
    alert: 'GoTicketPaymentsStuck',
    series: [[`goticket_payments_processing{namespace="${NS}", pod="goticket-payments-a", state="stuck"}`, '2x30']],
    evalTime: '20m',
    expect: [
      {
        labels: { namespace: NS, severity: 'critical' },
        description: '2 payments in goticket have been processing or refunding past PAYMENTS_STUCK_AFTER for 15 minutes.',
      },
    ],
  },
  {
    name: 'payments processing, none stuck',
    alert: 'GoTicketPaymentsStuck',
    series: [
      [`goticket_payments_processing{namespace="${NS}", pod="goticket-payments-a", state="stuck"}`, '0x30'],
      [`goticket_payments_processing{namespace="${NS}", pod="goticket-payments-a", state="processing"}`, '40x30'],
    ],
    evalTime: '20m',
    expect: [],
  },
  {
    name: 'refunds failing',
    alert: 'GoTicketRefundFailures',
    series: [
      [`goticket_payment_refunds_total{namespace="${NS}", pod="goticket-payments-a", result="failed", reason="cancelled"}`, '0+1x30'],
    ],
    evalTime: '20m',
    expect: [
      { labels: { namespace: NS, severity: 'critical' }, description: '15 refund attempts failed in goticket over the last 15 minutes.' },
    ],
  },
  {
    name: 'refunds succeeding',
    alert: 'GoTicketRefundFailures',
    series: [
      [`goticket_payment_refunds_total{namespace="${NS}", pod="goticket-payments-a", result="failed", reason="cancelled"}`, '0x30'],
      [`goticket_payment_refunds_total{namespace="${NS}", pod="goticket-payments-a", result="succeeded", reason="cancelled"}`, '0+5x30'],
    ],
    evalTime: '20m',
    expect: [],
  },
  {
    name: '3 bad signatures a minute',
    alert: 'GoTicketWebhookSignatureFailures',
    series: [[`goticket_payment_webhooks_total{namespace="${NS}", pod="goticket-payments-a", result="bad_signature"}`, '0+3x30']],
    evalTime: '20m',
    expect: [
      {
        labels: { namespace: NS, severity: 'warning' },
        description: '30 webhooks with a bad Stripe-Signature reached goticket in 10 minutes.',
      },
    ],
  },
  {
    name: 'a scanner now and then',
    alert: 'GoTicketWebhookSignatureFailures',
    series: [
      [`goticket_payment_webhooks_total{namespace="${NS}", pod="goticket-payments-a", result="bad_signature"}`, '0+0.2x30'],
      [`goticket_payment_webhooks_total{namespace="${NS}", pod="goticket-payments-a", result="applied"}`, '0+50x30'],
    ],
    evalTime: '20m',
    expect: [],
  },
  {
    name: '10 % of booking attempts error',
    alert: 'GoTicketBookingErrorRatio',
    series: [
      [`goticket_booking_attempts_total{namespace="${NS}", pod="goticket-api-a", outcome="created"}`, '0+540x30'],
      [`goticket_booking_attempts_total{namespace="${NS}", pod="goticket-api-a", outcome="error"}`, '0+60x30'],
    ],
    evalTime: '15m',
    expect: [{ labels: { namespace: NS, severity: 'critical' }, description: '10% of booking attempts in goticket ended in an error.' }],
  },
  {
    name: 'sold out is not an error',
    alert: 'GoTicketBookingErrorRatio',
    series: [
      [`goticket_booking_attempts_total{namespace="${NS}", pod="goticket-api-a", outcome="created"}`, '0+60x30'],
      [`goticket_booking_attempts_total{namespace="${NS}", pod="goticket-api-a", outcome="sold_out"}`, '0+540x30'],
      [`goticket_booking_attempts_total{namespace="${NS}", pod="goticket-api-a", outcome="error"}`, '0+3x30'],
    ],
    evalTime: '15m',
    expect: [],
  },
  {
    name: 'restarts every minute',
    alert: 'GoTicketPodRestarting',
    series: [[`kube_pod_container_status_restarts_total{namespace="${NS}", pod="goticket-api-abc", container="api"}`, '0+1x10']],
    evalTime: '10m',
    expect: [
      {
        labels: { namespace: NS, pod: 'goticket-api-abc', container: 'api', severity: 'warning' },
        description: 'Container api of pod goticket-api-abc restarted 10 times in 15 minutes.',
      },
    ],
  },
  {
    name: 'one restart',
    alert: 'GoTicketPodRestarting',
    series: [[`kube_pod_container_status_restarts_total{namespace="${NS}", pod="goticket-api-abc", container="api"}`, '0 0 0 1x7']],
    evalTime: '10m',
    expect: [],
  },
  {
    name: 'restarts of another namespace',
    alert: 'GoTicketPodRestarting',
    series: [[`kube_pod_container_status_restarts_total{namespace="other", pod="goticket-api-abc", container="api"}`, '0+1x10']],
    evalTime: '10m',
    expect: [],
  },
  {
    name: 'ready flips every minute',
    alert: 'GoTicketReadinessFlapping',
    series: [[`kube_pod_status_ready{namespace="${NS}", pod="goticket-worker-abc", condition="true"}`, '1 0 1 0 1 0 1 0 1 0 1']],
    evalTime: '10m',
    expect: [
      {
        labels: { namespace: NS, pod: 'goticket-worker-abc', condition: 'true', severity: 'warning' },
        description: 'Pod goticket-worker-abc changed readiness 10 times in 15 minutes.',
      },
    ],
  },
  {
    name: 'ready stays ready',
    alert: 'GoTicketReadinessFlapping',
    series: [[`kube_pod_status_ready{namespace="${NS}", pod="goticket-worker-abc", condition="true"}`, '1x10']],
    evalTime: '10m',
    expect: [],
  },
  {
    name: 'a dependency pod flaps (not ours)',
    alert: 'GoTicketReadinessFlapping',
    series: [[`kube_pod_status_ready{namespace="${NS}", pod="postgres-0", condition="true"}`, '1 0 1 0 1 0 1 0 1 0 1']],
    evalTime: '10m',
    expect: [],
  },
];

function unitTests(ruleFile: string) {
  return {
    rule_files: [path.basename(ruleFile)],
    evaluation_interval: '1m',
    tests: [
      ...CASES.map((c) => ({
        name: `${c.alert}: ${c.name}`,
        interval: '1m',
        input_series: c.series.map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          {
            eval_time: c.evalTime,
            alertname: c.alert,
            exp_alerts: c.expect.map((e) => ({
              exp_labels: e.labels,
              exp_annotations: annotations(c.alert, summaryOf(c.alert), e.description),
            })),
          },
        ],
      })),
      {
        name: 'recording rules: a route that never failed has a 0 error ratio, not a missing series',
        interval: '1m',
        input_series: [
          { series: `http_request_duration_seconds_count{${API}, route="/api/v1/events", method="GET", status="200"}`, values: '0+60x10' },
          {
            series: `http_request_duration_seconds_count{${API}, route="/api/v1/bookings", method="GET", status="200"}`,
            values: '0+30x10',
          },
          {
            series: `http_request_duration_seconds_count{${API}, route="/api/v1/bookings", method="GET", status="500"}`,
            values: '0+30x10',
          },
        ],
        promql_expr_test: [
          {
            expr: 'goticket_route:http_errors:ratio_rate5m',
            eval_time: '10m',
            exp_samples: [
              {
                labels: `goticket_route:http_errors:ratio_rate5m{namespace="${NS}", job="goticket-api", route="/api/v1/events"}`,
                value: 0,
              },
              {
                labels: `goticket_route:http_errors:ratio_rate5m{namespace="${NS}", job="goticket-api", route="/api/v1/bookings"}`,
                value: 0.5,
              },
            ],
          },
          {
            expr: 'goticket:http_requests:rate5m',
            eval_time: '10m',
            exp_samples: [{ labels: `goticket:http_requests:rate5m{namespace="${NS}", job="goticket-api"}`, value: 2 }],
          },
        ],
      },
      {
        name: 'recording rules: bookings by status includes expiries; top events keep names',
        interval: '1m',
        input_series: [
          { series: `goticket_booking_transitions_total{namespace="${NS}", pod="a", status="confirmed"}`, values: '0+60x10' },
          { series: `goticket_booking_expiries_total{namespace="${NS}", pod="w"}`, values: '0+120x10' },
          { series: `goticket_top_event_tickets_sold{namespace="${NS}", pod="w1", event="Gala (2026-01-01)"}`, values: '40x10' },
          { series: `goticket_top_event_tickets_sold{namespace="${NS}", pod="w2", event="Gala (2026-01-01)"}`, values: '40x10' },
        ],
        promql_expr_test: [
          {
            expr: 'goticket:bookings_by_status:rate5m',
            eval_time: '10m',
            exp_samples: [
              { labels: `goticket:bookings_by_status:rate5m{namespace="${NS}", status="confirmed"}`, value: 1 },
              { labels: `goticket:bookings_by_status:rate5m{namespace="${NS}", status="expired"}`, value: 2 },
            ],
          },
          {
            expr: 'goticket:top_events:tickets_sold',
            eval_time: '10m',
            exp_samples: [{ labels: `goticket:top_events:tickets_sold{namespace="${NS}", event="Gala (2026-01-01)"}`, value: 40 }],
          },
        ],
      },
    ],
  };
}

describe.each(ENVIRONMENTS.map((e) => e.name))('%s PrometheusRule', (envName) => {
  let ruleFile: string;
  beforeAll(() => {
    ruleFile = ruleFileOf(envName);
  });

  test('promtool check rules accepts it', () => {
    const { code, output } = promtool('check', 'rules', ruleFile);
    expect(output).toMatch(new RegExp(`SUCCESS: ${ALERTS.length + 19} rules found`));
    expect(code).toBe(0);
  });

  test('promtool test rules: every alert fires when it should and stays silent when it should not', () => {
    const tests = path.join(dir, `tests-${envName}.yaml`);
    writeFileSync(tests, stringify(unitTests(ruleFile)));
    const { code, output } = promtool('test', 'rules', path.basename(tests));
    expect(output).toContain('SUCCESS');
    expect(code).toBe(0);
  });
});

test('every alert has a firing and a silent case, severity, summary, description and its runbook', () => {
  for (const rule of ALERTS) {
    const cases = CASES.filter((c) => c.alert === rule.alert);
    expect([rule.alert, cases.some((c) => c.expect.length > 0), cases.some((c) => c.expect.length === 0)]).toEqual([
      rule.alert,
      true,
      true,
    ]);
    expect(['critical', 'warning']).toContain(rule.labels.severity);
    expect(rule.annotations.summary.length).toBeGreaterThan(10);
    expect(rule.annotations.description).toContain('{{ $');
    expect(rule.annotations.runbook_url).toBe(`${RUNBOOK_BASE}/${rule.alert}.md`);
    const runbookFile = path.join(__dirname, '../../../docs/runbooks', `${rule.alert}.md`);
    expect([runbookFile, existsSync(runbookFile) && readFileSync(runbookFile, 'utf8').startsWith(`# ${rule.alert}\n`)]).toEqual([
      runbookFile,
      true,
    ]);
  }
  expect(ALERTS.map((a) => a.alert).sort()).toEqual(
    [
      'GoTicketBookingErrorRatio',
      'GoTicketDLQNotEmpty',
      'GoTicketGraphqlErrorRatio',
      'GoTicketGrpcErrorRatio',
      'GoTicketHigh5xxRatio',
      'GoTicketLatencyP99AboveSLO',
      'GoTicketNotifierNotConsuming',
      'GoTicketOutboxBacklogGrowing',
      'GoTicketOutboxEventTooOld',
      'GoTicketPaymentsStuck',
      'GoTicketPodRestarting',
      'GoTicketRefundFailures',
      'GoTicketWebhookSignatureFailures',
      'GoTicketReadinessFlapping',
    ].sort(),
  );
});

test('a broken case makes promtool fail (the check above can fail)', () => {
  const ruleFile = ruleFileOf('dev');
  const wrong = unitTests(ruleFile);
  // claim the 1 % case fires: promtool must reject that expectation
  const silent = wrong.tests.find((t) => t.name === 'GoTicketHigh5xxRatio: 1 % of requests fail') as Obj;
  silent.alert_rule_test[0].exp_alerts = [{ exp_labels: { namespace: NS, job: 'goticket-api', severity: 'critical' } }];
  const tests = path.join(dir, 'tests-broken.yaml');
  writeFileSync(tests, stringify(wrong));
  const { code, output } = promtool('test', 'rules', path.basename(tests));
  expect(code).not.toBe(0);
  expect(output).toContain('GoTicketHigh5xxRatio: 1 % of requests fail');
});
