import type { Channel } from 'amqplib';
import { NOTIFICATION_TYPES } from '../../ports';

/** Every exchange and queue name, derived from one prefix so test runs can isolate themselves. */
export interface TopologyNames {
  /** Topic exchange every domain event is published to; routing key = event type. */
  events: string;
  /** Fanout exchange for dead letters. */
  dlx: string;
  /** The notifier's queue, bound to the event types it acts on (NOTIFICATIONS_BINDINGS). */
  notifications: string;
  /** Holds failed messages for the retry delay, then dead-letters them back to `notifications`. */
  retry: string;
  dlq: string;
  /** The payments service's queue: `payment.requested`, `refund.requested`. */
  payments: string;
  paymentsRetry: string;
  /** The booking side's saga queue: what the payments service answers (`payment.*` outcomes, `refund.*`). */
  saga: string;
  sagaRetry: string;
}

/**
 * The routing keys of the notifier's queue: exactly the event types it mails about, so the others
 * (booking.created, the most frequent, event.*) never travel to it only to be dropped.
 */
export const NOTIFICATIONS_BINDINGS: readonly string[] = NOTIFICATION_TYPES;
/** The queue's binding before: every booking event. Removed from a broker that still has it. */
const FORMER_BINDINGS = ['booking.*'];
export const PAYMENTS_BINDINGS = ['payment.requested', 'refund.requested'] as const;
export const SAGA_BINDINGS = ['payment.succeeded', 'payment.failed', 'refund.succeeded'] as const;

/** A queue a consumer reads, with the retry queue its failed messages wait in. */
export interface QueueNames {
  queue: string;
  retry: string;
}

export const notificationsQueue = (names: TopologyNames): QueueNames => ({ queue: names.notifications, retry: names.retry });
export const paymentsQueue = (names: TopologyNames): QueueNames => ({ queue: names.payments, retry: names.paymentsRetry });
export const sagaQueue = (names: TopologyNames): QueueNames => ({ queue: names.saga, retry: names.sagaRetry });

export function topologyNames(prefix: string): TopologyNames {
  return {
    events: `${prefix}.events`,
    dlx: `${prefix}.dlx`,
    notifications: `${prefix}.notifications`,
    retry: `${prefix}.notifications.retry`,
    dlq: `${prefix}.notifications.dlq`,
    payments: `${prefix}.payments`,
    paymentsRetry: `${prefix}.payments.retry`,
    saga: `${prefix}.bookings.payments`,
    sagaRetry: `${prefix}.bookings.payments.retry`,
  };
}

/** Idempotent: every (re)connection declares it, so a broker that lost it gets it back. */
export async function assertTopology(channel: Channel, names: TopologyNames): Promise<void> {
  await channel.assertExchange(names.events, 'topic', { durable: true });
  await channel.assertExchange(names.dlx, 'fanout', { durable: true });
  await channel.assertQueue(names.dlq, { durable: true });
  await channel.bindQueue(names.dlq, names.dlx, '');
  await channel.assertQueue(names.notifications, { durable: true, arguments: { 'x-dead-letter-exchange': names.dlx } });
  for (const key of NOTIFICATIONS_BINDINGS) await channel.bindQueue(names.notifications, names.events, key);
  // an unbind of a binding that is not there is a no-op
  for (const key of FORMER_BINDINGS) await channel.unbindQueue(names.notifications, names.events, key);
  await channel.assertQueue(names.retry, {
    durable: true,
    arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': names.notifications },
  });
  // The payments saga: one queue per side, each with its retry queue; dead letters share the DLQ.
  for (const [queue, retry, bindings] of [
    [names.payments, names.paymentsRetry, PAYMENTS_BINDINGS],
    [names.saga, names.sagaRetry, SAGA_BINDINGS],
  ] as const) {
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-dead-letter-exchange': names.dlx } });
    for (const key of bindings) await channel.bindQueue(queue, names.events, key);
    await channel.assertQueue(retry, { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue } });
  }
}

/** Removes everything assertTopology declared (tests clean up after themselves with it). */
export async function deleteTopology(channel: Channel, names: TopologyNames): Promise<void> {
  for (const queue of [names.notifications, names.retry, names.dlq, names.payments, names.paymentsRetry, names.saga, names.sagaRetry])
    await channel.deleteQueue(queue);
  for (const exchange of [names.events, names.dlx]) await channel.deleteExchange(exchange);
}
