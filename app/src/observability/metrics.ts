/**
 * The one prom-client registry of the process, served at /metrics. Labels stay bounded:
 * route templates, never raw paths; outcomes, never ids or emails.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BookingRecorder } from '../ports';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration by method, route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/**
 * created: seats held; replayed: an Idempotency-Key retry answered with its earlier booking;
 * sold_out; conflict: the key reused with another body (422); rejected: other 4xx; error: 5xx.
 */
export const BOOKING_OUTCOMES = ['created', 'replayed', 'sold_out', 'conflict', 'rejected', 'error'] as const;
type BookingOutcome = (typeof BOOKING_OUTCOMES)[number];

export const bookingOutcomes = new Counter({
  name: 'goticket_booking_attempts_total',
  help: 'Booking attempts by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/**
 * Failures that reached the top of a request (answered 5xx), a worker step or the process. `kind`
 * tells an outage from a bug: `unavailable` (a backend could not answer: connection refused, lost
 * or timed out, failing over), `timeout` (a request passed its deadline), `internal` (anything
 * else: a bug to look at).
 */
export const FAILURE_KINDS = ['unavailable', 'timeout', 'internal'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];
export const FAILURE_SOURCES = ['http', 'worker', 'process'] as const;
export type FailureSource = (typeof FAILURE_SOURCES)[number];
export const failures = new Counter({
  name: 'goticket_failures_total',
  help: 'Failures that reached the top of a request (5xx), a worker step or the process, by kind (unavailable: a backend could not answer; timeout; internal: a bug) and source',
  labelNames: ['kind', 'source'] as const,
  registers: [registry],
});

// ---- messaging (outbox relay, notifier, hold-expiry sweeper)

export const outboxBacklog = new Gauge({
  name: 'goticket_outbox_backlog',
  help: 'Outbox rows not yet published to the broker',
  registers: [registry],
});

export const outboxOldestAge = new Gauge({
  name: 'goticket_outbox_oldest_unpublished_age_seconds',
  help: 'Age of the oldest unpublished outbox event (0 when the backlog is empty)',
  registers: [registry],
});

export const outboxPublished = new Counter({
  name: 'goticket_outbox_publish_total',
  help: 'Outbox events handed to the broker, by outcome (confirmed = broker confirm received)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const consumerResults = new Counter({
  name: 'goticket_consumer_messages_total',
  help: 'Messages handled by the notifier consumer, by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const bookingExpiries = new Counter({
  name: 'goticket_booking_expiries_total',
  help: 'Pending holds expired by the sweeper (seats released)',
  registers: [registry],
});

export const notificationsSent = new Counter({
  name: 'goticket_notifications_total',
  help: 'Notifications recorded and mailed, by booking event type',
  labelNames: ['type'] as const,
  registers: [registry],
});

// ---- cache, rate limits, revocation

export const CACHE_NAMES = ['event', 'event_list', 'sold_out', 'token_version'] as const;
export type CacheName = (typeof CACHE_NAMES)[number];

export const cacheLookups = new Counter({
  name: 'goticket_cache_lookups_total',
  help: 'Cache lookups by cache and result (hit, miss, unavailable)',
  labelNames: ['cache', 'result'] as const,
  registers: [registry],
});

export const RATE_LIMITERS = ['login', 'register', 'writes', 'reads', 'anonymous', 'oauth'] as const;
export type RateLimiterName = (typeof RATE_LIMITERS)[number];

export const rateLimited = new Counter({
  name: 'goticket_rate_limited_total',
  help: 'Requests answered 429, by limiter',
  labelNames: ['limiter'] as const,
  registers: [registry],
});

export const rateLimitFallbacks = new Counter({
  name: 'goticket_rate_limit_fallback_total',
  help: 'Rate-limit decisions taken by the in-process limiter because Redis could not answer',
  registers: [registry],
});

export const redisBreakerOpen = new Gauge({
  name: 'goticket_redis_circuit_open',
  help: '1 while calls to Redis fail fast (no connection, or the circuit breaker is open or half-open), else 0',
  registers: [registry],
});

// ---- business (issue 5): what was sold, without ids in labels

export const ticketsSold = new Counter({
  name: 'goticket_tickets_sold_total',
  help: 'Seats of bookings confirmed (a hold becomes a sale on confirm)',
  registers: [registry],
});

export const revenueCents = new Counter({
  name: 'goticket_revenue_cents_total',
  help: 'Amount of confirmed bookings, in minor units of the event currency',
  registers: [registry],
});

/** Booking state changes made by the booking use cases (any edge) and the saga's confirmation; expiries are goticket_booking_expiries_total. */
export const BOOKING_TRANSITIONS = ['pending', 'payment_pending', 'confirmed', 'cancelled'] as const;
export const bookingTransitions = new Counter({
  name: 'goticket_booking_transitions_total',
  help: 'Bookings entering a status through the API or the payments saga (pending = hold created)',
  labelNames: ['status'] as const,
  registers: [registry],
});
for (const status of BOOKING_TRANSITIONS) bookingTransitions.inc({ status }, 0);
for (const outcome of BOOKING_OUTCOMES) bookingOutcomes.inc({ outcome }, 0);

/**
 * The booking counters behind the services' BookingRecorder port: the booking use cases and the
 * saga's confirmation count here, so every edge (REST, GraphQL, gRPC) counts the same.
 */
const attempts = Object.fromEntries(BOOKING_OUTCOMES.map((outcome) => [outcome, bookingOutcomes.labels({ outcome })])) as Record<
  BookingOutcome,
  Counter.Internal
>;
const entries = Object.fromEntries(BOOKING_TRANSITIONS.map((status) => [status, bookingTransitions.labels({ status })])) as Record<
  (typeof BOOKING_TRANSITIONS)[number],
  Counter.Internal
>;
export const bookingCounters: BookingRecorder = {
  // Children bound once: the sold-out refusal is counted on the hot path.
  attempt: (outcome) => attempts[outcome satisfies BookingOutcome].inc(),
  entered: (status) => entries[status].inc(),
  sold: (quantity, amountCents) => {
    ticketsSold.inc(quantity);
    revenueCents.inc(amountCents);
  },
};

// ---- payments saga

/** What the booking side did with each answer of the payments service (duplicate: already in the inbox). */
export const sagaEffects = new Counter({
  name: 'goticket_saga_effects_total',
  help: 'Payments service answers applied by the booking side, by message type and effect (confirmed, payment_failed, refund_requested, refunded, ignored, duplicate)',
  labelNames: ['type', 'effect'] as const,
  registers: [registry],
});

/** Bookings per status (sampled by the worker): the saga's state counts. */
export const bookingsByStatus = new Gauge({
  name: 'goticket_bookings',
  help: 'Bookings per status (sampled): pending, payment_pending, confirmed, payment_failed, cancelled, expired, refunded',
  labelNames: ['status'] as const,
  registers: [registry],
});

/** Payments in flight for longer than this (sampled by the worker from the booking side). */
export const oldestPaymentPendingSeconds = new Gauge({
  name: 'goticket_payment_pending_oldest_seconds',
  help: 'Age of the oldest booking in payment_pending (0 when none): time spent waiting for the payments service',
  registers: [registry],
});

/** Payments service: outcomes, reconciliation, refunds, webhooks. */
export const paymentOutcomes = new Counter({
  name: 'goticket_payment_outcomes_total',
  help: 'Payments resolved by the payments service, by outcome (succeeded, failed) and source (broker, reconciliation, webhook)',
  labelNames: ['outcome', 'source'] as const,
  registers: [registry],
});
export const providerCalls = new Counter({
  name: 'goticket_payment_provider_calls_total',
  help: 'Calls to the payment provider by operation (create, retrieve, refund) and result (ok, declined, error)',
  labelNames: ['operation', 'result'] as const,
  registers: [registry],
});
export const reconciliationActions = new Counter({
  name: 'goticket_payment_reconciliations_total',
  help: 'Payments stuck in processing or refunding that the reconciliation job resolved, by action (succeeded, failed, refunded, still_processing, error)',
  labelNames: ['action'] as const,
  registers: [registry],
});
export const refunds = new Counter({
  name: 'goticket_payment_refunds_total',
  help: 'Refunds by result (succeeded, failed) and reason (cancelled, hold_expired, event_deleted)',
  labelNames: ['result', 'reason'] as const,
  registers: [registry],
});
export const webhookEvents = new Counter({
  name: 'goticket_payment_webhooks_total',
  help: 'Provider webhooks by result (applied, ignored, replayed, bad_signature, malformed)',
  labelNames: ['result'] as const,
  registers: [registry],
});
export const paymentsProcessing = new Gauge({
  name: 'goticket_payments_processing',
  help: 'Payments in processing or refunding at the payments service, and how many of them are older than the stuck threshold',
  labelNames: ['state'] as const,
  registers: [registry],
});
for (const outcome of ['succeeded', 'failed'])
  for (const source of ['broker', 'reconciliation', 'webhook']) paymentOutcomes.inc({ outcome, source }, 0);
for (const result of ['applied', 'ignored', 'replayed', 'bad_signature', 'malformed']) webhookEvents.inc({ result }, 0);
for (const result of ['succeeded', 'failed']) refunds.inc({ result, reason: 'cancelled' }, 0);
// From the start, so the dashboard's reconciliation and in-flight panels and GoTicketPaymentsStuck have a series before the first action.
for (const action of ['succeeded', 'failed', 'refunded', 'still_processing', 'error']) reconciliationActions.inc({ action }, 0);
for (const state of ['processing', 'refunding', 'stuck']) paymentsProcessing.set({ state }, 0);

/** Top events by seats sold, refreshed by the worker; label = "name (start date)", at most TOP_EVENTS series. */
export const TOP_EVENTS = 10;
export const topEventTicketsSold = new Gauge({
  name: 'goticket_top_event_tickets_sold',
  help: `Seats sold (confirmed) of the ${TOP_EVENTS} best-selling upcoming or recent events, by event name and start date`,
  labelNames: ['event'] as const,
  registers: [registry],
});

// ---- PostgreSQL pool (every pool of the process, summed)

interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  ended?: boolean;
  options?: { max?: number };
}
const pools = new Set<PoolLike>();

/** Adds a pg Pool to the gauges below (read on every scrape). */
export function observePool(pool: PoolLike): void {
  pools.add(pool);
}

const livePools = () => [...pools].filter((pool) => (pool.ended ? (pools.delete(pool), false) : true));

// Registered on construction; read only by the scrape (collect).
new Gauge({
  name: 'goticket_pg_pool_clients',
  help: 'PostgreSQL pool clients by state (active = checked out, idle = open and free)',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    const live = livePools();
    const total = live.reduce((sum, p) => sum + p.totalCount, 0);
    const idle = live.reduce((sum, p) => sum + p.idleCount, 0);
    this.set({ state: 'active' }, total - idle);
    this.set({ state: 'idle' }, idle);
  },
});

new Gauge({
  name: 'goticket_pg_pool_waiting_requests',
  help: 'Queries waiting for a free PostgreSQL pool client',
  registers: [registry],
  collect() {
    this.set(livePools().reduce((sum, p) => sum + p.waitingCount, 0));
  },
});

new Gauge({
  name: 'goticket_pg_pool_max_clients',
  help: 'Configured size of the PostgreSQL pool(s)',
  registers: [registry],
  collect() {
    this.set(livePools().reduce((sum, p) => sum + (p.options?.max ?? 10), 0));
  },
});

// ---- RabbitMQ queue depth (sampled by the worker)

export const QUEUE_ROLES = ['notifications', 'retry', 'dlq'] as const;
export const queueMessages = new Gauge({
  name: 'goticket_queue_messages',
  help: 'Messages ready in a RabbitMQ queue, by role (notifications, retry, dlq)',
  labelNames: ['queue'] as const,
  registers: [registry],
});

// ---- GraphQL and gRPC edges (issue 18): bounded labels only

/**
 * GraphQL operations by operation name (the first OPERATION_NAMES_MAX distinct valid names
 * seen, then `other`; anonymous operations are `anonymous`), type and outcome (`ok`, the
 * lower-cased error code of the first error, or `rejected` before execution).
 */
export const graphqlOperations = new Counter({
  name: 'goticket_graphql_operations_total',
  help: 'GraphQL operations by operation name (bounded), type (query, mutation, none) and outcome (ok or the first error code)',
  labelNames: ['operation', 'type', 'outcome'] as const,
  registers: [registry],
});
export const graphqlDuration = new Histogram({
  name: 'goticket_graphql_operation_duration_seconds',
  help: 'GraphQL operation duration (parse to result) by type',
  labelNames: ['type'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/** grpc-ecosystem/go-grpc-prometheus names: the dashboards and alerts of the gRPC world read them as is. */
export const grpcHandled = new Counter({
  name: 'grpc_server_handled_total',
  help: 'RPCs completed on the server, by service, method and status code',
  labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'] as const,
  registers: [registry],
});
export const grpcHandlingSeconds = new Histogram({
  name: 'grpc_server_handling_seconds',
  help: 'RPC handling time on the server, by service and method',
  labelNames: ['grpc_type', 'grpc_service', 'grpc_method'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});
