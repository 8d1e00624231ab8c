/**
 * Grafana dashboards as code (@grafana/grafana-foundation-sdk): "GoTicket / Service" and
 * "GoTicket / Business". Every query reads a metric the service exports or a recording rule of
 * rules.ts, and the live test runs each of them against a real Prometheus scraping the service.
 */
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** kube-prometheus-stack provisions its Prometheus datasource with this uid. */
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: 'prometheus' };

/** Selectors every raw-metric query carries; recording rules are already per namespace. */
const POD = 'namespace="$namespace", pod=~"$pod"';
const NS = 'namespace="$namespace"';
const API_ROUTES = 'route=~"/api/.+"';

type Query = [expr: string, legend: string];

function targets(queries: Query[], instant = false) {
  return queries.map(([expr, legend], i) => {
    const q = new prometheus.DataqueryBuilder()
      .datasource(DATASOURCE)
      .expr(expr)
      .legendFormat(legend)
      .refId(String.fromCharCode(65 + i));
    return instant ? q.instant() : q.range();
  });
}

function series(title: string, description: string, queries: Query[], unit: string, width = 12) {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .targets(targets(queries))
    .unit(unit)
    .min(0)
    .fillOpacity(10)
    .lineWidth(1)
    .height(8)
    .span(width)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    );
}

function single(title: string, description: string, query: Query, unit: string, width = 6) {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .targets(targets([query], true))
    .unit(unit)
    .height(5)
    .span(width)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .graphMode(common.BigValueGraphMode.Area);
}

function variables() {
  const namespace = new dashboard.QueryVariableBuilder('namespace')
    .label('Namespace')
    .datasource(DATASOURCE)
    .query('label_values(up{job=~"goticket-.+"}, namespace)')
    .definition('label_values(up{job=~"goticket-.+"}, namespace)')
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .current({ text: 'goticket', value: 'goticket' });
  const pod = new dashboard.QueryVariableBuilder('pod')
    .label('Pod')
    .datasource(DATASOURCE)
    .query('label_values(up{namespace="$namespace", job=~"goticket-.+"}, pod)')
    .definition('label_values(up{namespace="$namespace", job=~"goticket-.+"}, pod)')
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
  return [namespace, pod];
}

function base(uid: string, title: string, description: string) {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['goticket'])
    .editable()
    .timezone('browser')
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .variables(variables());
}

export function serviceDashboard(): dashboard.Dashboard {
  return base(
    'goticket-service',
    'GoTicket / Service',
    'RED per route, bookings, the payments saga, messaging, dependencies and runtime of the GoTicket api, worker and payments service.',
  )
    .withRow(new dashboard.RowBuilder('Requests (rate, errors, duration)'))
    .withPanel(
      series(
        'Request rate by route',
        'API requests per second by route template.',
        [[`sum by (route) (rate(http_request_duration_seconds_count{${POD}, ${API_ROUTES}}[$__rate_interval]))`, '{{route}}']],
        'reqps',
      ),
    )
    .withPanel(
      series(
        'Responses by status',
        'All responses per second by HTTP status.',
        [[`sum by (status) (rate(http_request_duration_seconds_count{${POD}}[$__rate_interval]))`, '{{status}}']],
        'reqps',
      ),
    )
    .withPanel(
      series(
        '5xx ratio by route',
        'Share of requests answered 5xx (recording rule, 5 min window).',
        [[`goticket_route:http_errors:ratio_rate5m{${NS}, ${API_ROUTES}}`, '{{route}}']],
        'percentunit',
      ),
    )
    .withPanel(
      series(
        'p99 latency by route',
        'p99 request duration by route (recording rule). SLO: 500 ms.',
        [[`goticket_route:http_request_duration_seconds:p99_5m{${NS}, ${API_ROUTES}}`, '{{route}}']],
        's',
      ),
    )
    .withPanel(
      new heatmap.PanelBuilder()
        .title('Latency heatmap')
        .description('Distribution of API request durations (histogram buckets).')
        .datasource(DATASOURCE)
        .targets(
          targets([
            [`sum by (le) (increase(http_request_duration_seconds_bucket{${POD}, ${API_ROUTES}}[$__rate_interval]))`, '{{le}}'],
          ]).map((q) => q.format(prometheus.PromQueryFormat.Heatmap)),
        )
        .calculate(false)
        .height(8)
        .span(12),
    )
    .withPanel(
      series(
        'p50 / p95 / p99 (all API routes)',
        'API latency quantiles.',
        [
          [
            `histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{${POD}, ${API_ROUTES}}[$__rate_interval])))`,
            'p50',
          ],
          [
            `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${POD}, ${API_ROUTES}}[$__rate_interval])))`,
            'p95',
          ],
          [
            `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${POD}, ${API_ROUTES}}[$__rate_interval])))`,
            'p99',
          ],
        ],
        's',
      ),
    )
    .withRow(new dashboard.RowBuilder('GraphQL and gRPC edges'))
    .withPanel(
      series(
        'GraphQL operations',
        'GraphQL operations per second by operation name (bounded) and outcome.',
        [[`sum by (operation, outcome) (rate(goticket_graphql_operations_total{${POD}}[$__rate_interval]))`, '{{operation}} {{outcome}}']],
        'ops',
      ),
    )
    .withPanel(
      series(
        'GraphQL error ratio',
        'Share of GraphQL operations that failed on the server (recording rule, 5 min window).',
        [['goticket:graphql_errors:ratio_rate5m{' + NS + '}', 'errors']],
        'percentunit',
      ),
    )
    .withPanel(
      series(
        'gRPC calls by method and code',
        'RPCs per second by method and status code.',
        [[`sum by (grpc_method, grpc_code) (rate(grpc_server_handled_total{${POD}}[$__rate_interval]))`, '{{grpc_method}} {{grpc_code}}']],
        'ops',
      ),
    )
    .withPanel(
      series(
        'gRPC p99 by method',
        'p99 handling time by method.',
        [
          [
            `histogram_quantile(0.99, sum by (grpc_method, le) (rate(grpc_server_handling_seconds_bucket{${POD}}[$__rate_interval])))`,
            '{{grpc_method}}',
          ],
        ],
        's',
      ),
    )
    .withRow(new dashboard.RowBuilder('Bookings'))
    .withPanel(
      series(
        'Booking outcomes',
        'Booking attempts per second by outcome.',
        [[`sum by (outcome) (rate(goticket_booking_attempts_total{${POD}}[$__rate_interval]))`, '{{outcome}}']],
        'ops',
      ),
    )
    .withPanel(
      series(
        'Sold-out rate',
        'Booking attempts turned away because the event is sold out.',
        [[`sum(rate(goticket_booking_attempts_total{${POD}, outcome="sold_out"}[$__rate_interval]))`, 'sold out']],
        'ops',
      ),
    )
    .withRow(new dashboard.RowBuilder('Payments saga'))
    .withPanel(
      series(
        'Bookings by saga state',
        'Bookings per status, sampled by the worker: pending, payment_pending, confirmed, payment_failed, cancelled, expired, refunded.',
        [[`max by (status) (goticket_bookings{${NS}})`, '{{status}}']],
        'short',
        8,
      ),
    )
    .withPanel(
      series(
        'Payment outcomes',
        'Payments resolved by the payments service per second, by outcome and by what resolved them (broker, reconciliation, webhook).',
        [[`sum by (outcome, source) (rate(goticket_payment_outcomes_total{${POD}}[$__rate_interval]))`, '{{outcome}} ({{source}})']],
        'ops',
        8,
      ),
    )
    .withPanel(
      series(
        'Time in payment_pending',
        'Age of the oldest booking waiting in payment_pending (0 when none); the payment window bounds it.',
        [[`max(goticket_payment_pending_oldest_seconds{${NS}})`, 'oldest']],
        's',
        8,
      ),
    )
    .withPanel(
      series(
        'Payments in flight and stuck',
        'Payments in processing or refunding at the payments service, and those older than PAYMENTS_STUCK_AFTER (alert GoTicketPaymentsStuck).',
        [[`max by (state) (goticket_payments_processing{${NS}})`, '{{state}}']],
        'short',
        8,
      ),
    )
    .withPanel(
      series(
        'Reconciliation actions',
        'What the reconciliation job did with payments stuck in processing or refunding, per second.',
        [[`sum by (action) (rate(goticket_payment_reconciliations_total{${POD}}[$__rate_interval]))`, '{{action}}']],
        'ops',
        8,
      ),
    )
    .withPanel(
      series(
        'Refunds',
        'Refunds per second by result and reason (cancelled, hold_expired, event_deleted); failed ones fire GoTicketRefundFailures.',
        [[`sum by (result, reason) (rate(goticket_payment_refunds_total{${POD}}[$__rate_interval]))`, '{{result}} {{reason}}']],
        'ops',
        8,
      ),
    )
    .withPanel(
      series(
        'Provider webhooks',
        'Webhooks by result; a stream of bad_signature fires GoTicketWebhookSignatureFailures.',
        [[`sum by (result) (rate(goticket_payment_webhooks_total{${POD}}[$__rate_interval]))`, '{{result}}']],
        'ops',
        24,
      ),
    )
    .withRow(new dashboard.RowBuilder('Messaging (outbox, notifier)'))
    .withPanel(
      series(
        'Outbox backlog and age',
        'Unpublished outbox events, and the age of the oldest.',
        [
          [`max(goticket_outbox_backlog{${NS}})`, 'backlog'],
          [`max(goticket_outbox_oldest_unpublished_age_seconds{${NS}})`, 'oldest age (s)'],
        ],
        'short',
      ),
    )
    .withPanel(
      series(
        'Outbox publishes',
        'Events handed to RabbitMQ per second, by outcome.',
        [[`sum by (outcome) (rate(goticket_outbox_publish_total{${POD}}[$__rate_interval]))`, '{{outcome}}']],
        'ops',
      ),
    )
    .withPanel(
      series(
        'Consumer rate',
        'Notifier messages per second by outcome (ack, retry, dead_lettered).',
        [[`sum by (outcome) (rate(goticket_consumer_messages_total{${POD}}[$__rate_interval]))`, '{{outcome}}']],
        'ops',
      ),
    )
    .withPanel(
      series(
        'Queue depth and DLQ',
        'Ready messages in the notifications, retry and dead-letter queues.',
        [[`max by (queue) (goticket_queue_messages{${NS}})`, '{{queue}}']],
        'short',
      ),
    )
    .withRow(new dashboard.RowBuilder('Dependencies'))
    .withPanel(
      series(
        'Cache hit ratio',
        'Hits over lookups per cache (recording rule, 5 min window).',
        [[`goticket:cache_hit:ratio_rate5m{${NS}}`, '{{cache}}']],
        'percentunit',
      ),
    )
    .withPanel(
      series(
        'PostgreSQL pool',
        'Pool clients by state, and queries waiting for one.',
        [
          [`sum by (state) (goticket_pg_pool_clients{${POD}})`, '{{state}}'],
          [`sum(goticket_pg_pool_waiting_requests{${POD}})`, 'waiting'],
          [`sum(goticket_pg_pool_max_clients{${POD}})`, 'max'],
        ],
        'short',
      ),
    )
    .withRow(new dashboard.RowBuilder('Runtime'))
    .withPanel(
      series(
        'Event loop lag p99',
        'Node.js event loop delay, p99.',
        [[`max by (pod) (nodejs_eventloop_lag_p99_seconds{${POD}})`, '{{pod}}']],
        's',
        8,
      ),
    )
    .withPanel(
      series(
        'Memory',
        'Resident set size and V8 heap used per pod.',
        [
          [`sum by (pod) (process_resident_memory_bytes{${POD}})`, 'rss {{pod}}'],
          [`sum by (pod) (nodejs_heap_size_used_bytes{${POD}})`, 'heap {{pod}}'],
        ],
        'bytes',
        8,
      ),
    )
    .withPanel(
      series('Pods', 'Pods scraped and up, per workload.', [[`sum by (job) (up{${NS}, job=~"goticket-.+"})`, '{{job}}']], 'short', 8),
    )
    .build();
}

export function businessDashboard(): dashboard.Dashboard {
  return base('goticket-business', 'GoTicket / Business', 'Tickets sold, revenue, bookings by status and the best-selling events.')
    .withPanel(
      single(
        'Tickets sold',
        'Seats of bookings confirmed in the selected range.',
        [`sum(increase(goticket_tickets_sold_total{${POD}}[$__range]))`, 'tickets'],
        'short',
      ),
    )
    .withPanel(
      single(
        'Revenue',
        'Amount of bookings confirmed in the selected range (major units of the event currency).',
        [`sum(increase(goticket_revenue_cents_total{${POD}}[$__range])) / 100`, 'revenue'],
        'none',
      ),
    )
    .withPanel(
      single(
        'Holds confirmed',
        'Share of holds confirmed in the selected range.',
        [
          `sum(increase(goticket_booking_transitions_total{${POD}, status="confirmed"}[$__range])) / sum(increase(goticket_booking_transitions_total{${POD}, status="pending"}[$__range]))`,
          'conversion',
        ],
        'percentunit',
      ),
    )
    .withPanel(
      single(
        'Sold-out attempts',
        'Booking attempts per minute turned away as sold out.',
        [`sum(goticket:booking_attempts:rate5m{${NS}, outcome="sold_out"}) * 60`, 'per minute'],
        'short',
      ),
    )
    .withPanel(
      series(
        'Tickets sold per minute',
        'Confirmed seats per minute (recording rule).',
        [[`goticket:tickets_sold:rate5m{${NS}} * 60`, 'tickets/min']],
        'short',
      ),
    )
    .withPanel(
      series(
        'Revenue per hour',
        'Confirmed amount per hour, major units (recording rule).',
        [[`goticket:revenue_cents:rate5m{${NS}} * 3600 / 100`, 'revenue/h']],
        'none',
      ),
    )
    .withPanel(
      series(
        'Bookings by status',
        'Bookings entering each status per minute (recording rule).',
        [[`goticket:bookings_by_status:rate5m{${NS}} * 60`, '{{status}}']],
        'short',
      ),
    )
    .withPanel(
      new bargauge.PanelBuilder()
        .title('Top events by tickets sold')
        .description('The 10 best-selling events by confirmed seats (recording rule; labelled by name and date, never by id).')
        .datasource(DATASOURCE)
        .targets(targets([[`sort_desc(goticket:top_events:tickets_sold{${NS}})`, '{{event}}']], true))
        .orientation(common.VizOrientation.Horizontal)
        .displayMode(common.BarGaugeDisplayMode.Basic)
        .unit('short')
        .min(0)
        .height(10)
        .span(12),
    )
    .build();
}

export const DASHBOARDS = [
  { name: 'goticket-service', build: serviceDashboard },
  { name: 'goticket-business', build: businessDashboard },
] as const;

/** Every query of a dashboard with the panel title it belongs to (the live test runs them all). */
export function panelQueries(model: dashboard.Dashboard): Array<{ panel: string; expr: string }> {
  const out: Array<{ panel: string; expr: string }> = [];
  for (const panel of model.panels ?? []) {
    const p = panel as dashboard.Panel;
    for (const target of (p.targets ?? []) as prometheus.Dataquery[]) out.push({ panel: p.title ?? '?', expr: target.expr });
  }
  return out;
}
