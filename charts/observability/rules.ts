/**
 * Recording rules and alerts for the GoTicket service, as plain Prometheus rule groups: the
 * PrometheusRule wraps them, promtool checks and unit-tests them, and the live test loads the
 * recording rules into a real Prometheus scraping the real service.
 *
 * Recording rules use only what the service exports (so they show data wherever it runs);
 * the pod alerts use kube-state-metrics, which kube-prometheus-stack installs.
 */
import { HTTP_COMPONENTS, NAMESPACE } from '../../platform/contract';

export const RUNBOOK_BASE = 'https://github.com/goticket-platform/goticket/blob/main/docs/runbooks';

export interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'critical' | 'warning' } & Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup<R> {
  name: string;
  interval?: string;
  rules: R[];
}

/** Latency SLO of the API: 99 % of requests within this (seconds). */
export const LATENCY_SLO_SECONDS = 0.5;

/** The api's request counter (prom-client histogram count); prometheus-adapter reads it too. */
export const REQUESTS = 'http_request_duration_seconds_count';
/** Requests the API serves (not probes, scrapes or unknown paths); prometheus-adapter counts the same. */
export const API = 'route=~"/api/.+"';

/** GraphQL outcomes (lower-cased codes) that are the server's failure. */
export const GRAPHQL_SERVER_ERRORS = 'internal_server_error|unavailable|deadline_exceeded';
/** gRPC codes (as grpc-js names them) that are the server's failure. */
export const GRPC_SERVER_ERRORS = 'UNKNOWN|INTERNAL|UNAVAILABLE|DATA_LOSS|DEADLINE_EXCEEDED';

/** `numerator / denominator`, 0 where the numerator has no series (a route that never failed is 0 %, not missing). */
const ratio = (numerator: string, denominator: string, by: string) =>
  `(sum by (${by}) (${numerator}) or 0 * sum by (${by}) (${denominator}))\n/\nsum by (${by}) (${denominator})`;

export const RECORDING_GROUPS: RuleGroup<RecordingRule>[] = [
  {
    name: 'goticket.http.rules',
    rules: [
      { record: 'goticket_route:http_requests:rate5m', expr: `sum by (namespace, job, route, method) (rate(${REQUESTS}[5m]))` },
      {
        record: 'goticket_route:http_errors:ratio_rate5m',
        expr: ratio(`rate(${REQUESTS}{status=~"5.."}[5m])`, `rate(${REQUESTS}[5m])`, 'namespace, job, route'),
      },
      ...[0.5, 0.95, 0.99].map((q) => ({
        record: `goticket_route:http_request_duration_seconds:p${q * 100}_5m`,
        expr: `histogram_quantile(${q}, sum by (namespace, job, route, le) (rate(http_request_duration_seconds_bucket[5m])))`,
      })),
      { record: 'goticket:http_requests:rate5m', expr: `sum by (namespace, job) (rate(${REQUESTS}{${API}}[5m]))` },
      {
        record: 'goticket:http_errors:ratio_rate5m',
        expr: ratio(`rate(${REQUESTS}{${API}, status=~"5.."}[5m])`, `rate(${REQUESTS}{${API}}[5m])`, 'namespace, job'),
      },
      {
        record: 'goticket:http_request_duration_seconds:p99_5m',
        expr: `histogram_quantile(0.99, sum by (namespace, job, le) (rate(http_request_duration_seconds_bucket{${API}}[5m])))`,
      },
    ],
  },
  {
    // The GraphQL and gRPC edges: failures of the service (masked internal errors, an unreachable
    // backend, a passed deadline), not the caller's refusals (bad input, not found, sold out).
    name: 'goticket.edges.rules',
    rules: [
      { record: 'goticket:graphql_operations:rate5m', expr: 'sum by (namespace, job) (rate(goticket_graphql_operations_total[5m]))' },
      {
        record: 'goticket:graphql_errors:ratio_rate5m',
        expr: ratio(
          `rate(goticket_graphql_operations_total{outcome=~"${GRAPHQL_SERVER_ERRORS}"}[5m])`,
          'rate(goticket_graphql_operations_total[5m])',
          'namespace, job',
        ),
      },
      { record: 'goticket:grpc_calls:rate5m', expr: 'sum by (namespace, job) (rate(grpc_server_handled_total[5m]))' },
      {
        record: 'goticket:grpc_errors:ratio_rate5m',
        expr: ratio(
          `rate(grpc_server_handled_total{grpc_code=~"${GRPC_SERVER_ERRORS}"}[5m])`,
          'rate(grpc_server_handled_total[5m])',
          'namespace, job',
        ),
      },
    ],
  },
  {
    name: 'goticket.business.rules',
    rules: [
      { record: 'goticket:booking_attempts:rate5m', expr: 'sum by (namespace, outcome) (rate(goticket_booking_attempts_total[5m]))' },
      {
        record: 'goticket:booking_errors:ratio_rate5m',
        expr: ratio('rate(goticket_booking_attempts_total{outcome="error"}[5m])', 'rate(goticket_booking_attempts_total[5m])', 'namespace'),
      },
      { record: 'goticket:tickets_sold:rate5m', expr: 'sum by (namespace) (rate(goticket_tickets_sold_total[5m]))' },
      { record: 'goticket:revenue_cents:rate5m', expr: 'sum by (namespace) (rate(goticket_revenue_cents_total[5m]))' },
      {
        record: 'goticket:bookings_by_status:rate5m',
        expr: `sum by (namespace, status) (rate(goticket_booking_transitions_total[5m]))
or
label_replace(sum by (namespace) (rate(goticket_booking_expiries_total[5m])), "status", "expired", "", "")`,
      },
      // Several worker replicas report the same numbers: max, not sum. Labels are names, never ids.
      { record: 'goticket:top_events:tickets_sold', expr: 'topk(10, max by (namespace, event) (goticket_top_event_tickets_sold))' },
      {
        record: 'goticket:cache_hit:ratio_rate5m',
        expr: ratio('rate(goticket_cache_lookups_total{result="hit"}[5m])', 'rate(goticket_cache_lookups_total[5m])', 'namespace, cache'),
      },
    ],
  },
];

const runbook = (alert: string) => `${RUNBOOK_BASE}/${alert}.md`;

function alert(name: string, rule: Omit<AlertRule, 'alert' | 'annotations'> & { summary: string; description: string }): AlertRule {
  return {
    alert: name,
    expr: rule.expr,
    for: rule.for,
    labels: rule.labels,
    annotations: { summary: rule.summary, description: rule.description, runbook_url: runbook(name) },
  };
}

export const ALERTS: AlertRule[] = [
  // 5 % of API requests failing for 5 minutes is far beyond a healthy service (which sits near 0);
  // below 0.5 req/s a handful of errors would page for noise.
  alert('GoTicketHigh5xxRatio', {
    expr: 'goticket:http_errors:ratio_rate5m{job="goticket-api"} > 0.05\nand\ngoticket:http_requests:rate5m{job="goticket-api"} > 0.5',
    for: '5m',
    labels: { severity: 'critical' },
    summary: 'More than 5 % of API requests fail with 5xx',
    description: '{{ $value | humanizePercentage }} of API requests in {{ $labels.namespace }} answered 5xx over the last 5 minutes.',
  }),
  // The SLO: p99 under 500 ms (the load test holds p95 < 200 ms at 100 users). 10 minutes so a
  // single slow burst (a deploy, a vacuum) does not page.
  alert('GoTicketLatencyP99AboveSLO', {
    expr: `goticket:http_request_duration_seconds:p99_5m{job="goticket-api"} > ${LATENCY_SLO_SECONDS}`,
    for: '10m',
    labels: { severity: 'warning' },
    summary: `API p99 latency above the ${LATENCY_SLO_SECONDS * 1000} ms SLO`,
    description: 'p99 latency of API requests in {{ $labels.namespace }} is {{ $value | humanizeDuration }} (SLO: 500ms).',
  }),
  // A backlog that keeps growing means the relay cannot keep up or cannot publish; 100 rows is
  // a few seconds of peak booking traffic.
  alert('GoTicketOutboxBacklogGrowing', {
    expr: 'max by (namespace) (goticket_outbox_backlog) > 100\nand\nmax by (namespace) (deriv(goticket_outbox_backlog[10m])) > 0',
    for: '10m',
    labels: { severity: 'warning' },
    summary: 'Outbox backlog above 100 events and growing',
    description: '{{ $labels.namespace }} has {{ $value }} unpublished outbox events and the backlog keeps growing.',
  }),
  // The relay normally publishes within a second; 5 minutes means notifications are late for users.
  alert('GoTicketOutboxEventTooOld', {
    expr: 'max by (namespace) (goticket_outbox_oldest_unpublished_age_seconds) > 300',
    for: '5m',
    labels: { severity: 'critical' },
    summary: 'Oldest unpublished outbox event is older than 5 minutes',
    description:
      'The oldest unpublished domain event in {{ $labels.namespace }} is {{ $value | humanizeDuration }} old: the relay is not publishing.',
  }),
  // Messages wait and nothing is consumed for 10 minutes (also when the consumer's metrics are gone).
  alert('GoTicketNotifierNotConsuming', {
    expr: 'sum by (namespace) (goticket_queue_messages{queue="notifications"}) > 0\nunless on (namespace)\nsum by (namespace) (rate(goticket_consumer_messages_total[10m])) > 0',
    for: '10m',
    labels: { severity: 'critical' },
    summary: 'Notifications are waiting and the notifier consumes nothing',
    description:
      '{{ $value }} messages wait in the notifications queue of {{ $labels.namespace }} and no worker consumed any for 10 minutes.',
  }),
  // Any dead-lettered message is a notification a user did not get: a person has to look.
  alert('GoTicketDLQNotEmpty', {
    expr: 'max by (namespace) (goticket_queue_messages{queue="dlq"}) > 0',
    for: '5m',
    labels: { severity: 'warning' },
    summary: 'Dead-letter queue holds messages',
    description: '{{ $value }} messages sit in the notifications DLQ of {{ $labels.namespace }}.',
  }),
  // Booking errors are failures of the service (sold out and rejections are not errors); 2 % is
  // well above the noise of client disconnects.
  alert('GoTicketBookingErrorRatio', {
    expr: 'goticket:booking_errors:ratio_rate5m > 0.02\nand on (namespace)\nsum by (namespace) (goticket:booking_attempts:rate5m) > 0.1',
    for: '5m',
    labels: { severity: 'critical' },
    summary: 'More than 2 % of booking attempts fail with a server error',
    description: '{{ $value | humanizePercentage }} of booking attempts in {{ $labels.namespace }} ended in an error.',
  }),
  // Payments the reconciliation job cannot resolve: money may be taken while the booking waits.
  alert('GoTicketPaymentsStuck', {
    expr: 'max by (namespace) (goticket_payments_processing{state="stuck"}) > 0',
    for: '15m',
    labels: { severity: 'critical' },
    summary: 'Payments stay in processing or refunding past the reconciliation',
    description:
      '{{ $value }} payments in {{ $labels.namespace }} have been processing or refunding past PAYMENTS_STUCK_AFTER for 15 minutes.',
  }),
  // A refund the provider refused or never answered is money kept for no seat.
  alert('GoTicketRefundFailures', {
    expr: 'sum by (namespace) (increase(goticket_payment_refunds_total{result="failed"}[15m])) > 0',
    for: '0m',
    labels: { severity: 'critical' },
    summary: 'Refunds are failing at the payment provider',
    description: '{{ $value | printf "%.0f" }} refund attempts failed in {{ $labels.namespace }} over the last 15 minutes.',
  }),
  // A few bad signatures happen (scanners); a steady stream is a wrong secret or an attack.
  alert('GoTicketWebhookSignatureFailures', {
    expr: 'sum by (namespace) (increase(goticket_payment_webhooks_total{result="bad_signature"}[10m])) > 10',
    for: '5m',
    labels: { severity: 'warning' },
    summary: 'Payment webhooks keep failing signature verification',
    description: '{{ $value | printf "%.0f" }} webhooks with a bad Stripe-Signature reached {{ $labels.namespace }} in 10 minutes.',
  }),
  // The edges fail like REST does: 5 % of operations failing on the server, above a trickle.
  alert('GoTicketGraphqlErrorRatio', {
    expr: 'goticket:graphql_errors:ratio_rate5m{job="goticket-api"} > 0.05\nand\ngoticket:graphql_operations:rate5m{job="goticket-api"} > 0.5',
    for: '5m',
    labels: { severity: 'critical' },
    summary: 'More than 5 % of GraphQL operations fail on the server',
    description:
      '{{ $value | humanizePercentage }} of GraphQL operations in {{ $labels.namespace }} failed on the server over the last 5 minutes.',
  }),
  alert('GoTicketGrpcErrorRatio', {
    expr: 'goticket:grpc_errors:ratio_rate5m{job="goticket-api"} > 0.05\nand\ngoticket:grpc_calls:rate5m{job="goticket-api"} > 0.5',
    for: '5m',
    labels: { severity: 'critical' },
    summary: 'More than 5 % of gRPC calls fail on the server',
    description:
      '{{ $value | humanizePercentage }} of gRPC calls in {{ $labels.namespace }} ended INTERNAL, UNAVAILABLE, UNKNOWN, DATA_LOSS or DEADLINE_EXCEEDED over the last 5 minutes.',
  }),
  // More than 2 restarts in 15 minutes is a crash loop in the making.
  alert('GoTicketPodRestarting', {
    expr: `increase(kube_pod_container_status_restarts_total{namespace="${NAMESPACE}", container=~"${HTTP_COMPONENTS.join('|')}"}[15m]) > 2`,
    for: '0m',
    labels: { severity: 'warning' },
    summary: 'A GoTicket container keeps restarting',
    description: 'Container {{ $labels.container }} of pod {{ $labels.pod }} restarted {{ $value | printf "%.0f" }} times in 15 minutes.',
  }),
  // Ready going up and down: a backend answering intermittently or probes too tight.
  alert('GoTicketReadinessFlapping', {
    expr: `changes(kube_pod_status_ready{namespace="${NAMESPACE}", condition="true", pod=~"goticket-(${HTTP_COMPONENTS.join('|')})-.+"}[15m]) > 4`,
    for: '0m',
    labels: { severity: 'warning' },
    summary: 'A GoTicket pod keeps flipping between ready and not ready',
    description: 'Pod {{ $labels.pod }} changed readiness {{ $value | printf "%.0f" }} times in 15 minutes.',
  }),
];

export const ALERT_GROUP: RuleGroup<AlertRule> = { name: 'goticket.alerts', rules: ALERTS };

/** The `groups` document promtool and Prometheus read (a PrometheusRule's `.spec`). */
export function ruleGroups(): { groups: Array<RuleGroup<RecordingRule> | RuleGroup<AlertRule>> } {
  return { groups: [...RECORDING_GROUPS, ALERT_GROUP] };
}
