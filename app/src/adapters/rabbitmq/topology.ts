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
}

/**
 * The routing keys of the notifier's queue: exactly the event types it mails about, so the others
 * (booking.created, the most frequent, event.*) never travel to it only to be dropped.
 */
export const NOTIFICATIONS_BINDINGS: readonly string[] = NOTIFICATION_TYPES;
/** The queue's binding before: every booking event. Removed from a broker that still has it. */
const FORMER_BINDINGS = ['booking.*'];

export function topologyNames(prefix: string): TopologyNames {
  return {
    events: `${prefix}.events`,
    dlx: `${prefix}.dlx`,
    notifications: `${prefix}.notifications`,
    retry: `${prefix}.notifications.retry`,
    dlq: `${prefix}.notifications.dlq`,
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
}

/** Removes everything assertTopology declared (tests clean up after themselves with it). */
export async function deleteTopology(channel: Channel, names: TopologyNames): Promise<void> {
  for (const queue of [names.notifications, names.retry, names.dlq]) await channel.deleteQueue(queue);
  for (const exchange of [names.events, names.dlx]) await channel.deleteExchange(exchange);
}
