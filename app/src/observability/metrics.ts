/**
 * The one prom-client registry of the process, served at /metrics. Labels stay bounded:
 * route templates, never raw paths; outcomes, never ids or emails.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration by method, route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const BOOKING_OUTCOMES = ['created', 'sold_out', 'conflict', 'rejected', 'error'] as const;
export type BookingOutcome = (typeof BOOKING_OUTCOMES)[number];

export const bookingOutcomes = new Counter({
  name: 'goticket_booking_attempts_total',
  help: 'Booking attempts by outcome',
  labelNames: ['outcome'] as const,
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

export const PUBLISH_OUTCOMES = ['confirmed', 'failed'] as const;
export const outboxPublished = new Counter({
  name: 'goticket_outbox_publish_total',
  help: 'Outbox events handed to the broker, by outcome (confirmed = broker confirm received)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const CONSUMER_OUTCOMES = ['ack', 'retry', 'dead_lettered'] as const;
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
